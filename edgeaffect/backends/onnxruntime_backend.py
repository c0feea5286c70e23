"""ONNX Runtime: CPU everywhere; CUDA and TensorRT execution providers when installed."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .base import Backend, Request, module_missing, register_backend

GRAPH_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
                "all": "ORT_ENABLE_ALL"}


@register_backend
class OnnxRuntimeBackend(Backend):
    """Options (Request.options): `graph_optimization` (disable/basic/extended/all,
    default all), `providers` (ONNX Runtime provider names; default: the
    TensorRT and CUDA providers when device is gpu and installed, else CPU),
    `inter_op_threads`."""

    name = "onnxruntime"
    formats = ("onnx",)
    precision_preference = ("int8", "fp32", "fp16")

    def auto_precision_order(self, request: Request) -> tuple[str, ...]:
        from .hardware import cpu_precision_order

        return cpu_precision_order(self.precision_preference, request.device)
    supported_precisions = ("fp32", "fp16", "int8")

    @classmethod
    def _missing_dependency(cls) -> Optional[str]:
        return module_missing("onnxruntime", "runtime")

    def _extra_reasons(self, request: Request) -> list[str]:
        if request.device == "gpu":
            import onnxruntime as ort

            if "CUDAExecutionProvider" not in ort.get_available_providers():
                return ["device='gpu' needs onnxruntime-gpu (CUDAExecutionProvider); this onnxruntime has "
                        f"{ort.get_available_providers()}"]
        return []

    def _load(self, request: Request, fmt: str, path: Path) -> None:
        import onnxruntime as ort

        from .ort_options import cpu_session_options

        options = cpu_session_options(request.threads, int(request.options.get("inter_op_threads", 1)))
        level = request.options.get("graph_optimization", "all")
        if level not in GRAPH_LEVELS:
            raise ValueError(f"graph_optimization={level!r} must be one of {sorted(GRAPH_LEVELS)}")
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, GRAPH_LEVELS[level])
        if not request.options.get("allow_spinning", True):
            # idle pool threads otherwise spin for a while after each run, on the cores the next model in a
            # pipeline needs (the explainer calls fer, then its own graphs; benchmarks/bench_explain.py)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = request.options.get("providers")
        if providers is None:
            providers = ["CPUExecutionProvider"]
            if request.device == "gpu":
                # TensorRT's provider first where this onnxruntime has it (it
                # falls back per node to CUDA, then CPU).
                gpu = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider")
                       if p in ort.get_available_providers()]
                providers = gpu + providers
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # ORT raises its own exception types for bad files
            from ..errors import CorruptArtifactError

            raise CorruptArtifactError(f"ONNX Runtime cannot load {path}: {exc}") from exc
        self.input_name = self.session.get_inputs()[0].name
        self.metadata.update({"providers": self.session.get_providers(), "onnxruntime": ort.__version__,
                              "threads": request.threads, "graph_optimization": level,
                              "device": "gpu" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"})

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        # InferenceSession.run is thread-safe.
        return self.session.run(None, {self.input_name: inputs})[0]

    def close(self) -> None:
        self.session = None
        super().close()
