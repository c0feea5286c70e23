"""The band-feature CSV format of ../shared/data/eeg/features (DEAP, MAHNOB):
`subject, video, valence_high, arousal_high[, category], <band>_e<NN>`, with
5 bands x 32 electrodes, band-major (theta, slow_alpha, alpha, beta, gamma;
electrodes e01..e32 in the DEAP BioSemi order). This is also the format of
`edgeaffect eval eeg --data FILE.csv`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .electrodes import DEAP_32

BANDS = ("theta", "slow_alpha", "alpha", "beta", "gamma")
HEADS = ("valence_high", "arousal_high")


@dataclass
class FeatureTable:
    subjects: np.ndarray  # (N,) int
    videos: np.ndarray  # (N,) int
    labels: np.ndarray  # (N, 2) int: valence_high, arousal_high
    tokens: np.ndarray  # (N, 32 electrodes, 5 bands) float64
    categories: Optional[np.ndarray] = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.subjects)

    def select(self, mask: np.ndarray) -> "FeatureTable":
        cats = None if self.categories is None else self.categories[mask]
        return FeatureTable(self.subjects[mask], self.videos[mask], self.labels[mask], self.tokens[mask], cats, self.source)


def feature_columns() -> list[str]:
    return [f"{band}_e{e:02d}" for band in BANDS for e in range(1, len(DEAP_32) + 1)]


def read_feature_csv(path: str | Path, require_labels: bool = True) -> FeatureTable:
    """Reads a band-feature CSV; raises ValueError naming any missing or non-numeric column."""
    path = Path(path)
    with path.open(newline="") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path} is empty") from None
        rows = [row for row in reader if row]
    needed = ["subject"] + (list(HEADS) if require_labels else []) + feature_columns()
    missing = [c for c in needed if c not in header]
    if missing:
        raise ValueError(f"{path} lacks columns {missing[:6]}{' ...' if len(missing) > 6 else ''}; expected "
                         "subject, video, valence_high, arousal_high and theta_e01 .. gamma_e32")
    if not rows:
        raise ValueError(f"{path} has a header but no rows")
    col = {name: i for i, name in enumerate(header)}
    try:
        table = np.array([[float(row[col[c]]) for c in needed] for row in rows])
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{path}: a row has a missing or non-numeric value ({exc})") from exc
    if not np.isfinite(table).all():
        r = int(np.argwhere(~np.isfinite(table))[0][0])
        raise ValueError(f"{path}: row {r + 2} has NaN or inf values")
    features = table[:, -len(feature_columns()):]
    tokens = features.reshape(len(rows), len(BANDS), len(DEAP_32)).transpose(0, 2, 1)
    labels = table[:, 1:3].astype(int) if require_labels else np.zeros((len(rows), 2), int)
    videos = np.array([float(row[col["video"]]) for row in rows]).astype(int) if "video" in col else np.zeros(len(rows), int)
    cats = np.array([int(float(row[col["category"]])) for row in rows]) if "category" in col else None
    return FeatureTable(table[:, 0].astype(int), videos, labels, np.ascontiguousarray(tokens), cats, str(path))


def standardize_per_subject(tokens: np.ndarray, subjects: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Each subject's tokens standardised with that subject's own mean and
    standard deviation per (electrode, band), computed from its rows alone
    (no labels): what a user's calibration recording provides at run time."""
    out = np.empty_like(tokens, dtype=np.float32)
    for s in np.unique(subjects):
        rows = subjects == s
        mean = tokens[rows].mean(axis=0)
        std = tokens[rows].std(axis=0)
        out[rows] = (tokens[rows] - mean) / np.maximum(std, eps)
    return out
