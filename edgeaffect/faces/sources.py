"""Frames from an image file, a video file or a camera, with timestamps."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from .detector import _cv2

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


VIDEO_SUFFIXES = {".mp4", ".avi", ".mov"}  # containers OpenCV's mp4v writer fills


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def check_output_path(path: str | Path, video: bool) -> Path:
    """An --out path OpenCV can write, checked before any work is done (cv2.imwrite raises on an unknown
    suffix only after the whole run)."""
    path = Path(path)
    suffixes = VIDEO_SUFFIXES if video else IMAGE_SUFFIXES
    if path.suffix.lower() not in suffixes:
        what = "a video" if video else "an image"
        raise ValueError(f"--out {path}: the input is {what}, so the output must end in one of "
                         f"{', '.join(sorted(suffixes))}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"--out {path}: folder {path.parent} does not exist; create it first")
    return path


def read_image(path: str | Path) -> np.ndarray:
    cv2 = _cv2()
    if not Path(path).exists():
        raise FileNotFoundError(f"image {path} does not exist")
    if Path(path).is_dir():
        raise ValueError(f"{path} is a folder; give one image file")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        hint = " (a video: `edgeaffect run` reads videos)" if Path(path).suffix.lower() in VIDEO_SUFFIXES | {".mkv"} else ""
        raise ValueError(f"{path} is not an image OpenCV can read{hint}")
    return image


def video_frames(source: str | int, max_frames: Optional[int] = None) -> Iterator[tuple[np.ndarray, float, float]]:
    """(frame, timestamp in seconds, fps) from a video file or a camera index."""
    cv2 = _cv2()
    if isinstance(source, str) and not Path(source).exists():
        raise FileNotFoundError(f"video {source} does not exist")
    if isinstance(source, str) and Path(source).is_dir():
        raise ValueError(f"{source} is a folder; give one image or video file (or --camera N)")
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
            yield frame, round(t, 6), fps  # microseconds: no 0.30000000000000004 in the JSON lines
            count += 1
    finally:
        capture.release()
