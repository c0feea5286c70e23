"""Frames from an image file, a video file or a camera, with timestamps."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from .detector import _cv2

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | Path) -> np.ndarray:
    cv2 = _cv2()
    if not Path(path).exists():
        raise FileNotFoundError(f"image {path} does not exist")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path} is not an image OpenCV can read")
    return image


def video_frames(source: str | int, max_frames: Optional[int] = None) -> Iterator[tuple[np.ndarray, float, float]]:
    """(frame, timestamp in seconds, fps) from a video file or a camera index."""
    cv2 = _cv2()
    if isinstance(source, str) and not Path(source).exists():
        raise FileNotFoundError(f"video {source} does not exist")
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        what = f"camera {source}" if isinstance(source, int) else f"video {source}"
        raise RuntimeError(f"cannot open {what}" + (" (is it connected, and not in use by another program?)"
                                                     if isinstance(source, int) else " (unsupported codec?)"))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    count, started = 0, time.monotonic()
    try:
        while max_frames is None or count < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            # cameras often report no position: their time is our clock's, from the first frame
            t = time.monotonic() - started if isinstance(source, int) else capture.get(cv2.CAP_PROP_POS_MSEC) / 1e3
            yield frame, t, fps
            count += 1
    finally:
        capture.release()
