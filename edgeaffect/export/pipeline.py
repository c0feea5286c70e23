"""`edgeaffect export MODEL --target PROFILE`: builds a profile's artifacts
from the model's torch definition and weights, validates each against its
reference, gates quantised ones on accuracy, and writes a JSON report."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..models import build_torch_model, get_card
from ..models.card import ModelCard
from ..runtime.artifact import read_artifact
from ..runtime.preprocessing import run_preprocessing
from .calibration import CalibrationData
from .gate import accuracy_gate
from .onnx_export import ExportValidationError, convert_fp16, example_input, export_onnx, validate_against_torch
from .profiles import get_profile
from .tensorrt_steps import tensorrt_outputs


def load_torch_module(card: ModelCard, weights: Optional[str | Path] = None):
    """The card's torch module with its weights (the card's torch-fp32 artifact unless `weights` is given:
    .safetensors, a state dict .pt, or a training checkpoint .pt such as `edgeaffect train fer` writes)."""
    from ..models.registry import ARTIFACT_DIR

    path = Path(weights) if weights else None
    if path is None:
        rel = card.artifact_map().get("torch-fp32")
        if rel is None:
            raise FileNotFoundError(f"model {card.name!r} has no torch-fp32 weights; pass --weights FILE")
        path = Path(rel) if Path(rel).is_absolute() else ARTIFACT_DIR / rel
    if path.suffix in (".h5", ".hdf5"):  # a ported Keras peer (fer-minixception) reads its own file
        return build_torch_model(card).load_keras_hdf5(path)
    state, architecture = _read_weights(path)
    module = build_torch_model(card, **_builder_arguments(card, architecture))
    module.load_state_dict(state)
    return module.eval()


def _read_weights(path: Path) -> tuple[dict, Optional[dict]]:
    """(state dict, the architecture the weights were saved with, or None)."""
    if path.suffix == ".safetensors":
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), "np") as f:
            text = (f.metadata() or {}).get("architecture")  # build_fer.py writes it
        return load_file(str(path)), (json.loads(text) if text else None)
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("model"), dict) and "architecture" in state:
        return state["model"], state["architecture"]  # a training checkpoint (best.pt)
    return state, None


def _builder_arguments(card: ModelCard, architecture: Optional[dict]) -> dict:
    """`architecture=` for builders that take one, from the weights file: a
    retrained model of another shape then exports without code changes."""
    import inspect

    if architecture is None or not card.builder:
        return {}
    module_name, _, func = card.builder.partition(":")
    builder = getattr(importlib.import_module(module_name), func)
    if "architecture" not in inspect.signature(builder).parameters:
        return {}
    return {"architecture": architecture}


def model_inputs(card: ModelCard, data_path: str | Path, limit: Optional[int],
                 usage: Optional[str] = "test") -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed model inputs and targets from evaluation-format data (`usage`: a FER2013 CSV's rows,
    as edgeaffect.evaluation.load_eval_data: "Training" for calibration, "test" for validation)."""
    from ..evaluation import load_eval_data

    raw, targets = load_eval_data(card.eval_format, data_path, tuple(card.labels), limit, usage)
    x = run_preprocessing(card.preprocessing.name, raw, card.preprocessing.kwargs())
    return x, targets


def _ort_outputs(path: Path, x: np.ndarray, batch: int = 64) -> np.ndarray:
    import onnxruntime as ort

    from ..backends.ort_options import cpu_session_options

    session = ort.InferenceSession(str(path), cpu_session_options(), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: x[i : i + batch]})[0] for i in range(0, len(x), batch)])


def _openvino_outputs(xml: Path, x: np.ndarray, batch: int = 64) -> np.ndarray:
    import openvino as ov

    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return np.concatenate([compiled(x[i : i + batch])[0] for i in range(0, len(x), batch)])


def export_model(model: str, target: str, calib: Optional[str | Path] = None, val: Optional[str | Path] = None,
                 out: Optional[str | Path] = None, weights: Optional[str | Path] = None, force: bool = False,
                 calib_samples: Optional[int] = None, progress: bool = True) -> dict:
    """Builds the artifacts of one profile; returns (and writes) the report.

    Raises ExportValidationError when an export disagrees with torch, and
    AccuracyGateError when a quantised artifact loses more than the profile
    allows (unless force=True).
    """
    card = get_card(model)
    profile = get_profile(target)
    out_dir = Path(out or Path("edgeaffect-export") / f"{card.name}-{profile.name}")
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    module = load_torch_module(card, weights)
    report: dict = {"model": card.name, "model_version": card.version, "profile": profile.name,
                    "description": profile.description, "out": str(out_dir), "artifacts": {}, "steps": []}

    fp32 = out_dir / f"{card.name}-fp32.onnx"
    export_onnx(card, module, fp32, target=profile.target, extra={"eval_format": card.eval_format})
    checks = [example_input(card, b, seed=b) for b in (1, 2, 5)]
    val_x = val_y = None
    if val or calib:
        val_x, val_y = model_inputs(card, val or calib, None)
        checks.append(val_x[:64])
    validation = validate_against_torch(card, module, fp32, checks)
    report["steps"].append({"step": "onnx-fp32", "validation": validation.as_dict(),
                            "validated_on": "random" + (" and real" if val_x is not None else "")})
    if not validation.passed:
        raise ExportValidationError(f"fp32 ONNX of {card.name} differs from torch by {validation.max_abs_error:.2e} "
                                    f"(tolerance atol {validation.atol}, rtol {validation.rtol})")
    report["artifacts"]["onnx-fp32"] = str(fp32)

    if profile.precision == "fp16" and profile.target != "tensorrt":
        fp16 = out_dir / f"{card.name}-fp16.onnx"
        convert_fp16(fp32, fp16)
        validation = validate_against_torch(card, module, fp16, checks, atol=card.export.fp16_atol, rtol=1e-2)
        report["steps"].append({"step": "onnx-fp16", "validation": validation.as_dict()})
        if not validation.passed:
            raise ExportValidationError(f"fp16 ONNX differs from torch by {validation.max_abs_error:.2e}")
        report["artifacts"]["onnx-fp16"] = str(fp16)

    if profile.format == "openvino" and profile.precision == "fp32":
        from .openvino_export import export_openvino_ir

        xml = out_dir / "openvino-fp32" / f"{card.name}.xml"
        export_openvino_ir(fp32, xml)
        outputs = _openvino_outputs(xml, np.concatenate([c for c in checks if c.shape[0] <= 64]))
        reference = _ort_outputs(fp32, np.concatenate([c for c in checks if c.shape[0] <= 64]))
        err = float(np.max(np.abs(outputs - reference)))
        report["steps"].append({"step": "openvino-fp32", "max_abs_error_vs_onnx": err, "atol": card.export.atol})
        if err > card.export.atol * 10:
            raise ExportValidationError(f"OpenVINO IR differs from the fp32 ONNX by {err:.2e}")
        report["artifacts"]["openvino-fp32"] = str(xml)

    if profile.precision == "int8":
        if calib is None:
            raise ValueError(f"profile {profile.name} quantises to INT8: pass --calib DATA ({card.eval_format} format)")
        limit = calib_samples or int(profile.quantization.get("calibration_samples", 512))
        calib_x, _ = model_inputs(card, calib, None, usage="Training")  # a FER2013 CSV: never its test rows
        rng = np.random.default_rng(0)
        calib_x = calib_x[rng.permutation(len(calib_x))[:limit]]
        data = CalibrationData(card.inputs[0].name, calib_x, progress=progress)
        reference = _ort_outputs(fp32, val_x)
        preset = profile.quantization["preset"]
        if profile.format == "openvino":
            from .quantize import quantize_openvino

            path = out_dir / "openvino-int8" / f"{card.name}.xml"
            facts = quantize_openvino(fp32, path, data)
            candidate = _openvino_outputs(path, val_x)
            key = "openvino-int8"
        else:
            from .quantize import quantize_onnx

            path = out_dir / f"{card.name}-int8-{preset}.onnx"
            facts = quantize_onnx(fp32, path, preset, data)
            candidate = _ort_outputs(path, val_x)
            key = "onnx-int8"
        gate = accuracy_gate(reference, candidate, val_y, tuple(card.labels), float(profile.gate.get("max_drop", 0.01)),
                             card.output_kind, profile.gate.get("metric", "accuracy"), force=force)
        report["steps"].append({"step": key, "calibration": facts, "gate": gate.as_dict(),
                                "gate_data": str(val or calib) + ("" if val else " (no --val given: the calibration data)")})
        report["artifacts"][key] = str(path)

    if profile.target == "tensorrt":
        report["tensorrt"] = tensorrt_outputs(card, profile, out_dir, report["artifacts"])

    report["sizes_bytes"] = {k: _size(Path(v)) for k, v in report["artifacts"].items()}
    report["self_description"] = {k: read_artifact(Path(v)).precision for k, v in report["artifacts"].items()}
    report["seconds"] = round(time.time() - started, 2)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report


def _size(path: Path) -> int:
    if path.suffix == ".xml":
        return path.stat().st_size + path.with_suffix(".bin").stat().st_size
    return path.stat().st_size
