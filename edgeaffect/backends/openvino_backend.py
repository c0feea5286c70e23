"""OpenVINO: CPU (and its GPU plugin when present).

OpenVINO silently runs bf16 on CPUs with AMX/AVX-512-BF16. Our default is
what the artifact says: an fp32 artifact runs with INFERENCE_PRECISION_HINT
f32, an fp16 one with f16, an int8 one with its int8 layers and f32
elsewhere; `Request.options["inference_precision"]` overrides it, and the
precision that actually ran is read back from the compiled model.

A model whose only dynamic dimension is the batch is compiled twice: as
exported, and with the batch fixed to 1, which single-frame calls use.
OpenVINO's CPU plugin plans memory and picks kernels at compile time for a
static shape; with a dynamic batch part of that work moves to each call,
a large share of a small model's time at batch 1 (fer INT8, 2 threads, the
two interleaved in one process: 0.69x the time per face). An fp32 copy
matches the batched model to ~1e-6; an INT8 copy may place its requantisation
differently: fer INT8 probabilities within 0.033 of the batched ones, top-1
the same on 99.3% of FER2013 val, accuracy unchanged (0.6342 vs 0.6339).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import numpy as np

from .base import Backend, Request, module_missing, register_backend

HINTS = {"fp32": "f32", "fp16": "f16", "int8": "f32"}


def reshaped_to_batch_one(model):
    """`model` (an ov.Model, changed in place) with its batch fixed to 1, or
    None when that does not apply: more than one input, or a dynamic
    dimension other than the leading batch one, or a static batch already.

    Example:
        >>> import openvino as ov  # doctest: +SKIP
        >>> one = reshaped_to_batch_one(ov.Core().read_model("fer.xml"))  # doctest: +SKIP
    """
    if len(model.inputs) != 1:
        return None
    shape = model.inputs[0].get_partial_shape()
    if shape.rank.is_dynamic or shape.rank.get_length() < 1 or not shape[0].is_dynamic:
        return None
    rest = [shape[i] for i in range(1, shape.rank.get_length())]
    if any(d.is_dynamic for d in rest):
        return None
    model.reshape([1] + [d.get_length() for d in rest])
    return model


@register_backend
class OpenVinoBackend(Backend):
    """Options: `performance_hint` (LATENCY or THROUGHPUT, default LATENCY),
    `cache_dir` (model cache folder), `inference_precision` (f32/bf16/f16),
    `static_batch_one` (default True: batch-1 calls run a copy compiled for
    batch 1; False compiles only the model as exported)."""

    name = "openvino"
    formats = ("openvino", "onnx")
    precision_preference = ("int8", "fp32", "fp16")

    def auto_precision_order(self, request: Request) -> tuple[str, ...]:
        from .hardware import cpu_precision_order

        return cpu_precision_order(self.precision_preference, request.device)
    supported_precisions = ("fp32", "fp16", "int8")

    @classmethod
    def _missing_dependency(cls) -> Optional[str]:
        return module_missing("openvino", "openvino")

    def _extra_reasons(self, request: Request) -> list[str]:
        if request.device == "gpu":
            import openvino as ov

            if "GPU" not in ov.Core().available_devices:
                return ["device='gpu': OpenVINO sees no GPU plugin device"]
        return []

    def _load(self, request: Request, fmt: str, path: Path) -> None:
        import openvino as ov

        core = ov.Core()
        device = "GPU" if request.device == "gpu" else "CPU"
        hint = request.options.get("performance_hint", "LATENCY").upper()
        if hint not in ("LATENCY", "THROUGHPUT"):
            raise ValueError(f"performance_hint={hint!r} must be LATENCY or THROUGHPUT")
        precision_hint = request.options.get("inference_precision", HINTS[self.precision])
        config = {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": precision_hint}
        if request.threads and device == "CPU":
            config["INFERENCE_NUM_THREADS"] = int(request.threads)
        if request.options.get("cache_dir"):
            core.set_property({"CACHE_DIR": str(request.options["cache_dir"])})
        try:
            model = core.read_model(str(path))
            self.compiled = core.compile_model(model, device, config)
            one = reshaped_to_batch_one(model.clone()) if request.options.get("static_batch_one", True) else None
            self.compiled_one = core.compile_model(one, device, config) if one is not None else None
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
            from ..errors import CorruptArtifactError

            raise CorruptArtifactError(f"OpenVINO cannot load {path}: {exc}") from exc
        hint_value = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        ran = hint_value.get_type_name() if hasattr(hint_value, "get_type_name") else str(hint_value)
        self.metadata.update({"device": device.lower(), "performance_hint": hint, "openvino": ov.__version__,
                              "inference_precision": ran, "threads": request.threads,
                              "static_batch_one": self.compiled_one is not None})
        # An infer request is not thread-safe: one per calling thread.
        self._local = threading.local()

    def _request(self, batch_one: bool):
        key = "request_one" if batch_one else "request"
        infer = getattr(self._local, key, None)
        if infer is None:
            compiled = self.compiled_one if batch_one else self.compiled
            infer = compiled.create_infer_request()
            setattr(self._local, key, infer)
        return infer

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        infer = self._request(batch_one=len(inputs) == 1 and self.compiled_one is not None)
        infer.infer({0: inputs})
        return np.array(infer.get_output_tensor(0).data, copy=True)

    def close(self) -> None:
        self.compiled = self.compiled_one = None
        super().close()
