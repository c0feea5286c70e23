"""The accuracy gate: every quantised artifact is measured against its fp32
source on validation data, and the export fails when the metric drops more
than the profile allows (unless forced)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..evaluation.metrics import classification_metrics
from ..runtime.results import softmax


class AccuracyGateError(RuntimeError):
    """A quantised artifact lost more accuracy than its profile allows."""


@dataclass
class GateReport:
    n: int
    metric: str
    reference: float
    candidate: float
    drop: float
    limit: float
    top1_agreement: float
    max_abs_error: float
    mean_abs_error: float
    passed: bool
    forced: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def accuracy_gate(reference_outputs: np.ndarray, candidate_outputs: np.ndarray, targets: np.ndarray,
                  labels: tuple[str, ...], max_drop: float, output_kind: str = "logits",
                  metric: str = "accuracy", force: bool = False) -> GateReport:
    """Compares two models' outputs on the same validation inputs.

    Output errors are measured on probabilities (softmax of logits) so that
    they mean the same for every model. Raises AccuracyGateError when
    reference - candidate > max_drop, unless force=True (the report then
    says it was forced)."""
    to_probs = softmax if output_kind == "logits" else (lambda a: np.asarray(a, np.float32))
    ref_p, cand_p = to_probs(np.asarray(reference_outputs)), to_probs(np.asarray(candidate_outputs))
    ref_m = classification_metrics(targets, ref_p.argmax(1), labels)[metric]
    cand_m = classification_metrics(targets, cand_p.argmax(1), labels)[metric]
    err = np.abs(ref_p.astype(np.float64) - cand_p)
    report = GateReport(len(targets), metric, ref_m, cand_m, ref_m - cand_m, max_drop,
                        float(np.mean(ref_p.argmax(1) == cand_p.argmax(1))), float(err.max()), float(err.mean()),
                        passed=ref_m - cand_m <= max_drop, forced=force)
    if not report.passed and not force:
        raise AccuracyGateError(
            f"quantised model fails the accuracy gate: {metric} {cand_m:.4f} vs fp32 {ref_m:.4f} "
            f"(drop {ref_m - cand_m:.4f} > limit {max_drop:.4f}; top-1 agreement {report.top1_agreement:.3f}, "
            f"max |dp| {report.max_abs_error:.3f}). Use more or better calibration data, another preset, "
            "or --force to keep it anyway")
    return report
