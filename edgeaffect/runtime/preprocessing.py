"""Numpy preprocessing, by name, shared by every backend (DESIGN.md rule 3:
the same numbers reach ONNX Runtime, OpenVINO, TensorRT and torch)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import InputError

_steps: dict[str, Callable[..., np.ndarray]] = {}


def preprocessing_step(name: str):
    def register(func):
        _steps[name] = func
        return func

    return register


def run_preprocessing(name: str, batch, params: dict) -> np.ndarray:
    if name not in _steps:
        raise ValueError(f"unknown preprocessing {name!r}; known: {sorted(_steps)}")
    return _steps[name](batch, **params)


def _as_float_batch(batch, name: str = "batch") -> np.ndarray:
    array = np.asarray(batch)
    if array.dtype.kind not in "fiub":
        raise InputError(f"{name} has dtype {array.dtype}; expected numbers (uint8 images or float arrays)")
    array = array.astype(np.float32, copy=False)
    if array.size == 0:
        raise InputError(f"{name} is empty (shape {array.shape}); pass at least one sample")
    if not np.isfinite(array).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise InputError(f"{name} contains NaN or inf (first at index {bad}); clean the input first")
    return array


@preprocessing_step("identity")
def identity(batch) -> np.ndarray:
    """Float32 as is."""
    return np.ascontiguousarray(_as_float_batch(batch))


@preprocessing_step("standardize")
def standardize(batch, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """(x - mean) / std in float32."""
    return np.ascontiguousarray((_as_float_batch(batch) - np.float32(mean)) / np.float32(std))


@preprocessing_step("grey_image")
def grey_image(batch, size: int = 48, scale: float = 1 / 255.0, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """Face crops to (N, 1, size, size) float32: grey, resized, (x*scale - mean) / std.

    Accepts (H, W), (N, H, W), (N, H, W, 3) BGR or (N, 1, H, W) arrays, uint8
    (0-255) or float in the same 0-255 range, or a list of images of any
    sizes. Colour is converted with the
    ITU-R BT.601 weights (as OpenCV's BGR2GRAY); crops of another size are
    resized with OpenCV, by area averaging when shrinking and bilinear
    interpolation when enlarging (area 'enlarges' by pixel replication).
    """
    if isinstance(batch, (list, tuple)) and batch and np.ndim(batch[0]) >= 2:
        return np.concatenate([grey_image(img, size, scale, mean, std) for img in batch])
    x = _as_float_batch(batch)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 4 and x.shape[-1] == 3:
        x = x @ np.array([0.114, 0.587, 0.299], dtype=np.float32)
    elif x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3:
        raise InputError(f"batch has shape {np.shape(batch)}; expected (H, W), (N, H, W), (N, H, W, 3) or (N, 1, H, W)")
    if x.shape[1:] != (size, size):
        try:
            import cv2
        except ImportError as exc:
            raise ImportError("resizing face crops needs OpenCV: pip install opencv-python-headless") from exc
        shrink = x.shape[1] * x.shape[2] > size * size
        x = np.stack([cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
                      for img in x])
    x = (x * np.float32(scale) - np.float32(mean)) / np.float32(std)
    return np.ascontiguousarray(x[:, None], dtype=np.float32)
