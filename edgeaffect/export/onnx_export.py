"""torch -> ONNX with a dynamic batch axis, self-describing metadata, and
validation against torch at the card's tolerance (optimum-style)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..models.card import ModelCard
from ..runtime.artifact import ArtifactInfo


class ExportValidationError(RuntimeError):
    """An exported artifact disagrees with the torch reference beyond the card's tolerance."""


@dataclass
class ValidationReport:
    inputs: int
    max_abs_error: float
    mean_abs_error: float
    atol: float
    rtol: float
    passed: bool

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def example_input(card: ModelCard, batch: int = 2, seed: int = 0) -> np.ndarray:
    spec = card.inputs[0]
    shape = tuple(batch if isinstance(d, str) else d for d in spec.shape)
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def write_metadata(path: str | Path, info: ArtifactInfo) -> None:
    """Adds (or replaces) the edgeaffect metadata_props of an ONNX file."""
    import onnx

    model = onnx.load(str(path))
    keep = [p for p in model.metadata_props if not p.key.startswith("edgeaffect.")]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in keep}, **info.to_metadata()})
    onnx.save(model, str(path))


def export_onnx(card: ModelCard, module, out_path: str | Path, target: str = "onnxruntime",
                extra: Optional[dict] = None, export_form: bool = True) -> ArtifactInfo:
    """Exports `module` (torch, eval mode) for `card` to a single-file ONNX
    with a dynamic batch axis and the card's opset for `target`. A module
    with an `export_form(target)` method (the fer student) is exported in
    that form (unless export_form=False): the same function written with
    fewer graph nodes for `target`; validation (`validate_against_torch`)
    still compares with `module` itself."""
    import torch

    spec = card.inputs[0]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    graph = module.export_form(target) if export_form and hasattr(module, "export_form") else module
    example = torch.from_numpy(example_input(card))
    dims = {i: torch.export.Dim(name) for i, name in spec.dynamic_axes().items()}
    # torch.export-based exporter (torch's default since 2.9); weights stay
    # inside the file so an artifact is one self-contained file. Its progress
    # lines and torch-internal deprecation warnings are kept off the user's
    # console and out of strict test runs.
    log = io.StringIO()
    torch_onnx_logger = logging.getLogger("torch.onnx")
    level = torch_onnx_logger.level
    torch_onnx_logger.setLevel(logging.ERROR)  # e.g. "torchvision is not installed. Skipping torchvision::nms"
    with warnings.catch_warnings(), contextlib.redirect_stdout(log):
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            torch.onnx.export(graph, (example,), str(out_path), input_names=[spec.name], output_names=["output"],
                              dynamic_shapes=(dims,), opset_version=card.export.opset_for(target), dynamo=True,
                              external_data=False, verbose=False)
        except Exception as exc:
            raise RuntimeError(f"torch.onnx.export failed for {card.name}: {exc}\n{log.getvalue()[-2000:]}") from exc
        finally:
            torch_onnx_logger.setLevel(level)
    info = ArtifactInfo.from_card(card, "fp32", "onnx", extra={"opset": card.export.opset_for(target), **(extra or {})})
    write_metadata(out_path, info)
    return info


def validate_against_torch(card: ModelCard, module, onnx_path: str | Path, inputs: list[np.ndarray],
                           atol: Optional[float] = None, rtol: Optional[float] = None) -> ValidationReport:
    """Runs the artifact (ONNX Runtime, CPU) and torch on the same inputs;
    fails when |onnx - torch| > atol + rtol * |torch| anywhere."""
    import onnxruntime as ort
    import torch

    atol = card.export.atol if atol is None else atol
    rtol = card.export.rtol if rtol is None else rtol
    from ..backends.ort_options import cpu_session_options

    session = ort.InferenceSession(str(onnx_path), cpu_session_options(), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    errors, passed = [], True
    for x in inputs:
        with torch.inference_mode():
            ref = module.eval()(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy().astype(np.float64)
        got = session.run(None, {name: np.ascontiguousarray(x, np.float32)})[0].astype(np.float64)
        err = np.abs(got - ref)
        errors.append(err)
        passed &= bool(np.all(err <= atol + rtol * np.abs(ref)))
    flat = np.concatenate([e.ravel() for e in errors])
    return ValidationReport(len(inputs), float(flat.max()), float(flat.mean()), atol, rtol, passed)


def convert_fp16(src: str | Path, dst: str | Path) -> ArtifactInfo:
    """An FP16 copy of an fp32 ONNX artifact (inputs and outputs stay float32)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    from ..runtime.artifact import read_onnx_artifact

    info = read_onnx_artifact(src)
    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(dst))
    info.precision = "fp16"
    write_metadata(dst, info)
    return info
