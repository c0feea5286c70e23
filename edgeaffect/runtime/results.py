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


@dataclass(frozen=True)
class BinaryHeadsResult:
    """Independent binary decisions (e.g. valence high? arousal high?) for a batch.

    Example:
        >>> r = BinaryHeadsResult(("valence_high", "arousal_high"), np.array([[0.7, 0.2]], np.float32), "onnxruntime", "fp32", 0.1)
        >>> r[0], r.decisions().tolist()
        ({'valence_high': 0.699999988079071, 'arousal_high': 0.20000000298023224}, [[True, False]])
    """

    heads: tuple[str, ...]
    probabilities: np.ndarray  # (N, heads), P(head is high)
    backend: str
    precision: str
    latency_ms: float

    def __len__(self) -> int:
        return self.probabilities.shape[0]

    def __getitem__(self, i: int) -> dict[str, float]:
        return {head: float(p) for head, p in zip(self.heads, self.probabilities[i])}

    def decisions(self, threshold: float = 0.5) -> np.ndarray:
        return self.probabilities > threshold


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * np.asarray(logits, np.float64)))).astype(np.float32)
