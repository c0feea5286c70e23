"""Classification metrics in numpy (no scikit-learn at run time)."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def classification_metrics(y_true, y_pred, labels: tuple[str, ...]) -> dict:
    """accuracy, balanced accuracy, macro-F1, per-class recall and the confusion matrix.

    Classes absent from y_true are left out of the macro averages (their
    recall is undefined) and reported as None.

    Example:
        >>> m = classification_metrics([0, 1, 1, 2], [0, 1, 0, 2], ("a", "b", "c"))
        >>> m["accuracy"], round(m["macro_f1"], 4), m["per_class_recall"]["b"]
        (0.75, 0.7778, 0.5)
    """
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be 1-D of equal length")
    if len(y_true) == 0:
        raise ValueError("no samples to evaluate")
    cm = confusion_matrix(y_true, y_pred, len(labels))
    support, predicted, correct = cm.sum(1), cm.sum(0), np.diag(cm)
    present = support > 0
    recall = np.where(present, correct / np.maximum(support, 1), np.nan)
    precision = np.where(predicted > 0, correct / np.maximum(predicted, 1), 0.0)
    f1 = np.where(precision + np.nan_to_num(recall) > 0,
                  2 * precision * np.nan_to_num(recall) / np.maximum(precision + np.nan_to_num(recall), 1e-12), 0.0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(correct.sum() / len(y_true)),
        "balanced_accuracy": float(np.nanmean(recall[present])),
        "macro_f1": float(f1[present].mean()),
        "per_class_recall": {label: (None if not present[i] else float(recall[i])) for i, label in enumerate(labels)},
        "confusion": cm.tolist(),
        "labels": list(labels),
    }
