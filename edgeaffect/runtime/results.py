"""Typed results: what ran (backend, precision) travels with every answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Prediction:
    """One sample's answer."""

    label: str
    score: float
    probabilities: dict[str, float]


@dataclass(frozen=True)
class ClassificationResult:
    """Class probabilities for a batch, and what produced them.

    Example:
        >>> r = ClassificationResult(("sad", "happy"), np.array([[0.2, 0.8]], np.float32), "onnxruntime", "fp32", 0.1)
        >>> r[0].label, r.top_labels()
        ('happy', ['happy'])
    """

    labels: tuple[str, ...]
    probabilities: np.ndarray  # (N, classes), float32
    backend: str
    precision: str
    latency_ms: float

    def __len__(self) -> int:
        return self.probabilities.shape[0]

    def __getitem__(self, i: int) -> Prediction:
        row = self.probabilities[i]
        k = int(np.argmax(row))
        return Prediction(self.labels[k], float(row[k]), {label: float(p) for label, p in zip(self.labels, row)})

    def top_labels(self) -> list[str]:
        return [self.labels[k] for k in np.argmax(self.probabilities, axis=1)]

    def top_indices(self) -> np.ndarray:
        return np.argmax(self.probabilities, axis=1)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)
