"""Does evaluation data hold a shipped model's own training data?

A model scored on the subjects or faces it was trained on looks far better
than it is (the shipped `eeg` model: balanced accuracy 0.66 on DEAP, which it
trained on, against 0.58 cross-validated on subjects it never saw). Each
model's metrics.json may list the SHA-256 of its training files
(`training_data_sha256`); `edgeaffect eval` compares the data file with them.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..models.registry import ARTIFACT_DIR, file_sha256


def training_data_note(model: str, data: str | Path) -> str:
    """A warning when `data` is a file the registered `model` was trained on, else ''.

    Example:
        >>> training_data_note("eeg", "../shared/data/eeg/features/deap/deap_band_features.csv")[:40]  # doctest: +SKIP
        'this file is the data the shipped model'
    """
    metrics = ARTIFACT_DIR / model / "metrics.json"
    if not Path(data).is_file() or not metrics.is_file():
        return ""
    known = json.loads(metrics.read_text()).get("training_data_sha256", [])
    if not known or file_sha256(data) not in known:
        return ""
    return (f"this file is the data the shipped model {model!r} was trained on: these are training-set scores, "
            f"far above what it scores on people or faces it never saw (its card's cross-validated scores: "
            f"{ARTIFACT_DIR / model / 'MODEL_CARD.md'})")
