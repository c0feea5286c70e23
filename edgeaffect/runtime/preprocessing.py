"""Numpy preprocessing, by name, shared by every backend (DESIGN.md rule 3:
the same numbers reach ONNX Runtime, OpenVINO, TensorRT and torch)."""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from ..errors import InputError, InputWarning

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

    Accepts one crop, (H, W) grey, (H, W, 1) grey, (H, W, 2) grey + alpha (PIL's
    "LA") or (H, W, 3|4) BGR/BGRA as cv2.imread gives it; a batch, (N, H, W),
    (N, H, W, 1|2|3|4) or (N, 1, H, W); or a list of crops of any sizes. Pixels
    are uint8 (0-255), or integers or floats in the same 0-255 range (integers
    above 255, a 16-bit image, are an error; floats that peak at 1 or above
    255 a warning: scale them to 0-255 first). A 3-D array whose last axis
    is 1-4 is one crop with channels, never a batch of 1- to 4-pixel-wide
    faces. Colour is converted with the ITU-R BT.601 weights (as OpenCV's
    BGR2GRAY); alpha is dropped; crops of another size are resized with
    OpenCV, by area averaging when shrinking and bilinear interpolation when
    enlarging (area 'enlarges' by pixel replication).

    Example:
        >>> grey_image(np.zeros((120, 90, 3), np.uint8)).shape
        (1, 1, 48, 48)
        >>> grey_image(np.zeros((48, 48, 1), np.uint8)).shape   # one grey crop, not 48 of them
        (1, 1, 48, 48)
    """
    if isinstance(batch, (list, tuple)) and batch and np.ndim(batch[0]) >= 2:
        return np.concatenate([grey_image(img, size, scale, mean, std) for img in batch])
    x = _as_float_batch(batch)
    kind = np.asarray(batch).dtype.kind
    if kind in "iu" and x.max() > 255:
        raise InputError(f"integer face crops must hold 0-255 like uint8 ones; these reach {int(x.max())} "
                         "(a 16-bit image?): scale them to 8 bits, e.g. (crop // 257).astype(np.uint8)")
    channels = (1, 2, 3, 4)
    if x.ndim == 2 or (x.ndim == 3 and x.shape[-1] in channels):
        x = x[None]
    if x.ndim == 4 and x.shape[-1] in (3, 4):
        x = x[..., :3] @ np.array([0.114, 0.587, 0.299], dtype=np.float32)  # BGR(A): alpha is not a grey level
    elif x.ndim == 4 and x.shape[-1] in (1, 2):
        x = x[..., 0]  # grey, or grey + alpha
    elif x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3:
        raise InputError(f"batch has shape {np.shape(batch)}; expected one crop (H, W) or (H, W, 1|2|3|4), or a "
                         "batch (N, H, W), (N, H, W, 1|2|3|4) or (N, 1, H, W)")
    if kind == "f" and 0 < x.max() <= 1.0:
        warnings.warn("float face crops must be in 0-255 like uint8 ones; these peak at "
                      f"{float(x.max()):.3g} (scaled to 0-1?): multiply by 255", InputWarning, stacklevel=3)
    elif kind == "f" and x.max() > 255:
        warnings.warn(f"float face crops must be in 0-255 like uint8 ones; these reach {float(x.max()):.4g} "
                      "(16-bit values?): scale them to 0-255", InputWarning, stacklevel=3)
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
