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


def binary_heads_metrics(labels: np.ndarray, scores: np.ndarray, heads: tuple[str, ...], threshold: float = 0.0) -> dict:
    """Per binary head ("valence_high" -> "valence_..."): accuracy, balanced
    accuracy and macro-F1 of `scores > threshold` (logits: 0; probabilities:
    0.5), plus n."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    out: dict = {"n": int(len(labels))}
    for h, head in enumerate(heads):
        name = head[: -len("_high")] if head.endswith("_high") else head
        m = classification_metrics(labels[:, h], (scores[:, h] > threshold).astype(int), ("low", "high"))
        out.update({f"{name}_accuracy": m["accuracy"], f"{name}_balanced_accuracy": m["balanced_accuracy"],
                    f"{name}_macro_f1": m["macro_f1"], f"{name}_confusion": m["confusion"]})
    return out
