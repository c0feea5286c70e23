"""The documented evaluation data formats. `edgeaffect eval MODEL --data PATH`
reads PATH in the format the model's card names.

- image-folder: PATH/<label>/*.{jpg,jpeg,png,bmp} (the FER2013 layout); folder
  names must be labels of the model.
  A .csv path instead is read as the FER2013 CSV (`emotion,pixels[,Usage]`;
  every row is used: split it first if you need one Usage).
- npz: a .npz file with `x` (raw inputs, the model's predict() format) and
  `y` (integer class indices, or label strings).
- eeg-features-csv: the band-feature CSV of the EEG models (see
  edgeaffect.eeg.features); each row is re-referenced to its electrode mean
  and each subject standardised from its own rows (`prepare_tokens`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def load_image_folder(path: Path, labels: tuple[str, ...], limit: Optional[int] = None):
    try:
        import cv2
    except ImportError as exc:
        raise ImportError("reading image folders needs OpenCV: pip install opencv-python-headless") from exc
    folders = sorted(p for p in path.iterdir() if p.is_dir())
    if not folders:
        raise ValueError(f"{path} has no class folders; expected {path}/<label>/*.jpg with labels {list(labels)}")
    unknown = [f.name for f in folders if f.name not in labels]
    if unknown:
        raise ValueError(f"{path}: folders {unknown} are not labels of this model ({list(labels)})")
    images, targets = [], []
    for folder in folders:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for file in files[:limit] if limit else files:
            img = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise ValueError(f"{file} is not a readable image")
            images.append(img)
            targets.append(labels.index(folder.name))
    if not images:
        raise ValueError(f"{path}: no images found")
    shapes = {img.shape for img in images}
    x = np.stack(images) if len(shapes) == 1 else images
    return x, np.asarray(targets)


def load_npz(path: Path, labels: tuple[str, ...], limit: Optional[int] = None):
    with np.load(path, allow_pickle=False) as data:
        if "x" not in data or "y" not in data:
            raise ValueError(f"{path} must hold arrays 'x' (inputs) and 'y' (labels); it has {sorted(data.files)}")
        x, y = data["x"], data["y"]
    if y.dtype.kind in "US":
        missing = sorted(set(y.tolist()) - set(labels))
        if missing:
            raise ValueError(f"{path}: labels {missing} are not labels of this model ({list(labels)})")
        y = np.array([labels.index(v) for v in y.tolist()])
    if len(x) != len(y):
        raise ValueError(f"{path}: x has {len(x)} samples but y has {len(y)}")
    if y.min() < 0 or y.max() >= len(labels):
        raise ValueError(f"{path}: class indices must lie in [0, {len(labels) - 1}]")
    return (x[:limit], y[:limit]) if limit else (x, y)


def load_eeg_features_csv(path: Path, labels: tuple[str, ...], limit: Optional[int] = None):
    """The band-feature CSV of ../shared/data/eeg/features: tokens
    re-referenced to their electrode mean and standardised per subject from
    that subject's own rows (no labels; `edgeaffect.eeg.features.prepare_tokens`), and
    the (valence_high, arousal_high) targets."""
    from ..eeg.features import HEADS, prepare_tokens, read_feature_csv

    if tuple(labels) != HEADS:
        raise ValueError(f"eeg-features-csv holds {HEADS}; the model predicts {list(labels)}")
    table = read_feature_csv(path)
    x = prepare_tokens(table.tokens, table.subjects, table.present)
    return (x[:limit], table.labels[:limit]) if limit else (x, table.labels)


def load_fer2013_csv(path: Path, labels: tuple[str, ...], limit: Optional[int] = None, usage: Optional[str] = "test"):
    """The FER2013 CSV, class indices mapped by name onto the model's labels; `usage` as in
    edgeaffect.fer.data.load_fer_csv (default "test": the Training rows are not scored)."""
    from ..fer.data import load_fer_csv
    from ..fer import LABELS

    missing = sorted(set(LABELS) - set(labels))
    if missing:
        raise ValueError(f"{path}: FER2013 classes {missing} are not labels of this model ({list(labels)})")
    x, y = load_fer_csv(path, usage=usage, limit=limit)
    return x, np.array([labels.index(LABELS[i]) for i in y])


DATA_FORMATS: dict[str, Callable] = {"image-folder": load_image_folder, "npz": load_npz,
                                     "eeg-features-csv": load_eeg_features_csv}


def load_eval_data(fmt: str, path: str | Path, labels: tuple[str, ...], limit: Optional[int] = None,
                   usage: Optional[str] = "test"):
    """(inputs, integer targets) of evaluation data at `path` in format `fmt`. `usage`: the rows of a FER2013
    CSV to score ("test", the default: every row but Training; "PublicTest", "PrivateTest", "Training";
    None: every row)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"evaluation data {path} does not exist")
    if limit is not None and limit < 1:
        raise ValueError(f"limit={limit} must be >= 1 (None: every sample)")
    if path.suffix == ".npz":
        fmt = "npz"
    elif path.suffix == ".csv" and fmt == "image-folder":
        return load_fer2013_csv(path, labels, limit, usage)
    if fmt not in DATA_FORMATS:
        raise ValueError(f"data format {fmt!r} is not one of {sorted(DATA_FORMATS)}")
    wants_folder = fmt == "image-folder"
    expected = ("a folder of class folders (<label>/*.png), or a FER2013 .csv" if wants_folder else
                "a .csv file of band features (../shared/data/eeg/features/*/); for a raw recording use "
                "`edgeaffect eeg --file`" if fmt == "eeg-features-csv" else "an .npz file")
    if wants_folder != path.is_dir():
        raise ValueError(f"{path} is {'a folder' if path.is_dir() else 'a file'}; this model evaluates on {expected}")
    try:
        return DATA_FORMATS[fmt](path, labels, limit)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a text CSV ({exc.reason} at byte {exc.start}); this model evaluates on "
                         f"{expected}") from exc
