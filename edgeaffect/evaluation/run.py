"""`edgeaffect eval`: a model (by name or artifact path) on data in its format."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..fer.data import check_usage_applies
from ..runtime.predictor import load
from .datasets import load_eval_data
from .metrics import binary_heads_metrics, classification_metrics
from .training_data import training_data_note


def evaluate(model: str, data: str | Path, backend: str = "auto", precision: str = "auto",
             threads: Optional[int] = None, limit: Optional[int] = None, batch_size: int = 64,
             mirror: bool = False, usage: Optional[str] = "test") -> dict:
    """Metrics of `model` on `data`: model, backend, precision, mirror, n, accuracy,
    balanced_accuracy, macro_f1, per_class_recall, confusion, labels (and usage, for
    a FER2013 CSV). `mirror` as in edgeaffect.load (image models: each image
    averaged with its mirror); `usage`: the FER2013 CSV rows to score ("test",
    the default: PublicTest and PrivateTest; "PublicTest", "PrivateTest",
    "Training"; None: every row).

    Example:
        >>> evaluate("fer", "../shared/data/fer2013/val")["accuracy"]  # doctest: +SKIP
        0.6704...
    """
    if not Path(data).exists():
        raise FileNotFoundError(f"evaluation data {data} does not exist")
    with load(model, backend=backend, precision=precision, threads=threads, mirror=mirror) as predictor:
        fmt = predictor.info.extra.get("eval_format") or _card_format(predictor.info.model)
        check_usage_applies(data, bool(_csv_usage(fmt, data, usage)), usage)
        raw, targets = load_eval_data(fmt, data, predictor.labels, limit, usage)
        results = [predictor.predict(raw[start : start + batch_size]) for start in range(0, len(raw), batch_size)]
        if predictor.info.task == "binary-heads":
            probs = np.concatenate([r.probabilities for r in results])
            metrics = binary_heads_metrics(targets, probs, predictor.labels, threshold=0.5)
        else:
            metrics = classification_metrics(targets, np.concatenate([r.top_indices() for r in results]),
                                             predictor.labels)
        return {"model": predictor.info.model, "data": str(data), "backend": predictor.backend_name,
                "precision": predictor.precision, "mirror": mirror, **_csv_usage(fmt, data, usage),
                **_training_data(predictor.info.model, data), **metrics}


def _training_data(model: str, data: str | Path) -> dict:
    """{"warning": ...} when `data` is the model's own training file (training_data.training_data_note)."""
    note = training_data_note(model, data)
    return {"warning": note} if note else {}


def _csv_usage(fmt: str, data: str | Path, usage: Optional[str]) -> dict:
    """Which rows of a FER2013 CSV were scored, for the report ({} for other data)."""
    return {"usage": usage or "all"} if fmt == "image-folder" and Path(data).suffix == ".csv" else {}


def _card_format(name: str) -> str:
    from ..models import get_card

    try:
        return get_card(name).eval_format
    except KeyError:
        raise ValueError(f"artifact of model {name!r} does not name its evaluation format and no such model is "
                         "registered; re-export it with this edgeaffect version") from None
