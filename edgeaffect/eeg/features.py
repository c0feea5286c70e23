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
    # (N, 32) bool, False where a raw loader filled an electrode the recording lacks (None: all present)
    present: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.subjects)

    def select(self, mask: np.ndarray) -> "FeatureTable":
        cats = None if self.categories is None else self.categories[mask]
        present = None if self.present is None else self.present[mask]
        return FeatureTable(self.subjects[mask], self.videos[mask], self.labels[mask], self.tokens[mask], cats,
                            self.source, present)


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


def reference_to_electrode_mean(tokens: np.ndarray, present: Optional[np.ndarray] = None) -> np.ndarray:
    """Each window's (or trial's) tokens minus their mean over the electrodes,
    band by band: the first step of the EEG models' input (`prepare_tokens`).

    DE is log band power plus a constant, so this divides out the window's
    overall power in each band. Amplifier gain, skin and electrode impedance
    and broadband muscle or movement artefacts move every electrode together
    and differ from person to person; the spatial pattern across the scalp
    (frontal asymmetry and the like) remains. Measured on DEAP, whole subjects
    held out, 5 folds x 2 fold seeds, mean balanced accuracy valence /
    arousal: the student 0.543 / 0.547 -> 0.570 / 0.554 with this step before
    the per-subject standardisation, the logistic regression 0.547 / 0.581 ->
    0.574 / 0.589; the same step after standardisation gave 0.550 / 0.535.

    Electrodes marked False in `present` (filled by a ChannelMap because the
    device lacks them) are left out of the mean and set to it, so they read
    as "no information" (0) afterwards. The spatial pattern needs electrodes:
    with one present electrode, or none (a Muse headband shares no electrode
    with DEAP's 32), every token is 0 and the model gives its prior.

    Example:
        >>> t = np.array([[[1.0, 4.0], [3.0, 8.0]]])   # 1 window, 2 electrodes, 2 bands
        >>> reference_to_electrode_mean(t)[0].tolist()
        [[-1.0, -2.0], [1.0, 2.0]]
    """
    tokens = np.asarray(tokens)
    if present is None:
        return tokens - tokens.mean(axis=-2, keepdims=True)
    weight = np.broadcast_to(np.asarray(present, bool), tokens.shape[:-1])[..., None].astype(tokens.dtype)
    count = np.maximum(weight.sum(axis=-2, keepdims=True), 1)  # no electrode present: all "no information"
    reference = (tokens * weight).sum(axis=-2, keepdims=True) / count
    return (tokens - reference) * weight


def prepare_tokens(tokens: np.ndarray, subjects: np.ndarray, present: Optional[np.ndarray] = None) -> np.ndarray:
    """The EEG models' input from raw DE tokens (N, electrodes, bands): each
    row re-referenced to its electrode mean, then standardised per subject
    from that subject's own rows (no labels). Training, `edgeaffect eval eeg`
    and `EEGEmotionStream` (whose calibration phase plays the subject's rows)
    all go through these two steps. `present` (N, electrodes) marks the
    electrodes a recording really has (a raw loader's FeatureTable.present);
    None means all of them, as in the band-feature CSVs, which have no
    notion of a missing electrode.

    Example:
        >>> table = read_feature_csv("../shared/data/eeg/features/deap/deap_band_features.csv")  # doctest: +SKIP
        >>> x = prepare_tokens(table.tokens, table.subjects, table.present)                       # doctest: +SKIP
        >>> edgeaffect.load("eeg").predict(x[:8]).probabilities                                    # doctest: +SKIP
    """
    return standardize_per_subject(reference_to_electrode_mean(tokens, present), subjects)


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
