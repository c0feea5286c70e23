"""FER2013 data: the class-folder layout (../shared/data/fer2013/{train,val}/<class>/*.jpg)
and the original Kaggle CSV (`emotion,pixels,Usage`), both as uint8
(N, 48, 48) grey arrays with class indices in edgeaffect.fer.LABELS order."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import numpy as np

from . import LABELS

# The FER2013 CSV's `emotion` codes: 0 angry, 1 disgust, 2 fear, 3 happy,
# 4 sad, 5 surprise, 6 neutral.
CSV_CODES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def load_fer_folder(path: str | Path, size: int = 48, limit: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """Every image under path/<class>/ as (N, size, size) uint8 grey and (N,) class indices.

    Images of another size are resized with area interpolation; colour is
    converted to grey. A subset of the seven classes may be present.

    Example:
        >>> x, y = load_fer_folder("../shared/data/fer2013/val")   # doctest: +SKIP
        >>> x.shape, x.dtype                                          # doctest: +SKIP
        ((3589, 48, 48), dtype('uint8'))
    """
    from ..evaluation.datasets import load_image_folder
    import cv2

    images, targets = load_image_folder(Path(path), LABELS, limit)
    if isinstance(images, list) or images.shape[1:] != (size, size):
        images = np.stack([img if img.shape == (size, size) else cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
                           for img in images])
    return images, targets


TEST_USAGE = "test"  # load_fer_csv's usage for every row that is not Training (PublicTest and PrivateTest)


def check_usage_applies(path: str | Path, is_fer_csv: bool, usage: Optional[str]) -> None:
    """A usage other than the default "test" picks rows of a FER2013 CSV: an error for any other data."""
    if usage != TEST_USAGE and not is_fer_csv:
        raise ValueError(f"usage={usage or 'all'!r} picks rows of a FER2013 CSV; {path} is not one: drop --usage")


def load_fer_csv(path: str | Path, usage: Optional[str] = None, limit: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """The Kaggle fer2013.csv (`emotion,pixels,Usage`): (N, 48, 48) uint8 and
    class indices in LABELS order. `usage` keeps one split ("Training",
    "PublicTest", "PrivateTest") or "test" (every row but Training); None,
    or a CSV without a Usage column, keeps every row.

    Example:
        >>> faces, targets = load_fer_csv("fer2013.csv", usage="PrivateTest")  # doctest: +SKIP
    """
    images, targets = [], []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"emotion", "pixels"} <= set(reader.fieldnames):
            got = reader.fieldnames or []
            shown = ",".join(got[:6]) + (f",... ({len(got)} columns)" if len(got) > 6 else "")
            raise ValueError(f"{path}: expected the FER2013 CSV header `emotion,pixels[,Usage]`, got `{shown}`")
        skipped: dict[str, int] = {}
        for line, row in enumerate(reader, start=2):
            split = row.get("Usage")
            if usage and split is not None and (split == "Training" if usage == TEST_USAGE else split != usage):
                skipped[split] = skipped.get(split, 0) + 1
                continue
            code = int(row["emotion"])
            if not 0 <= code < len(CSV_CODES):
                raise ValueError(f"{path}:{line}: emotion code {code} is not in 0..6")
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            if pixels.size != 48 * 48:
                raise ValueError(f"{path}:{line}: {pixels.size} pixels; FER2013 rows hold 48*48 = 2304")
            images.append(pixels.reshape(48, 48))
            targets.append(LABELS.index(CSV_CODES[code]))
            if limit and len(images) >= limit:
                break
    if not images:
        wanted = "PublicTest or PrivateTest" if usage == TEST_USAGE else repr(usage)
        found = ", ".join(f"{n} {split}" for split, n in sorted(skipped.items()))
        raise ValueError(f"{path}: no rows" + (f" with Usage {wanted} (it has {found}); choose another usage, e.g. "
                                               "`edgeaffect eval --usage all`" if usage and skipped else ""))
    return np.stack(images), np.asarray(targets)
