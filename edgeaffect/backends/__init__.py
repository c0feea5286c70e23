"""Inference backends, one file each, registered by name.

`select_backend` implements backend="auto": TensorRT on NVIDIA GPUs and
Jetson; on x86 CPUs edgeaffect's native engines for the models they run,
then OpenVINO (with VNNI) or ONNX Runtime; ONNX Runtime otherwise; the first backend with
no reasons against the request wins, and when none can serve it the error
lists every backend with its reasons.
"""

from __future__ import annotations

from ..errors import BackendUnavailableError
from . import hardware
from .base import Backend, Request, backend_names, create_backend, register_backend
from .onnxruntime_backend import OnnxRuntimeBackend
from .native_backend import NativeBackend
from .openvino_backend import OpenVinoBackend
from .tensorrt_backend import TensorRtBackend
from .torch_backend import TorchBackend


def auto_priority(hw: hardware.Hardware) -> list[str]:
    """The order backend="auto" tries, for this hardware (the torch reference is never picked)."""
    if hw.nvidia_gpu or hw.jetson:
        return ["tensorrt", "onnxruntime", "openvino"]
    # On x86 our own engines come first for the models they run (fer, eeg; the others fall through): at
    # batch 1 they took 0.44x (fer, 2 threads) and 0.38x (eeg, 1 thread) the best framework's time on
    # the AVX2 EPYC, eeg 0.30x on the AVX-512 Xeon, with fp32 accuracy (benchmarks/results/fer-*.md, eeg-*.md).
    if hw.x86 and hw.int8_dot:
        return ["native", "openvino", "onnxruntime"]
    if hw.x86:  # without VNNI both run fp32 (cpu_precision_order); ONNX Runtime's was the faster (fer: 2.41 vs 2.83 ms)
        return ["native", "onnxruntime", "openvino"]
    return ["onnxruntime", "openvino"]


def select_backend(name: str, request: Request) -> Backend:
    """An unloaded backend for `request`: `name`, or the auto policy's choice."""
    if name != "auto":
        backend = create_backend(name)
        reasons = backend.not_supported_reasons(request)
        if reasons:
            raise BackendUnavailableError(f"backend {name!r} cannot serve model {request.model!r}: " + "; ".join(reasons))
        return backend
    rejected = {}
    for candidate in auto_priority(hardware.probe()):
        backend = create_backend(candidate)
        reasons = backend.not_supported_reasons(request)
        if not reasons:
            return backend
        rejected[candidate] = reasons
    for other in backend_names():
        if other not in rejected:
            rejected[other] = create_backend(other).not_supported_reasons(request) or ["not in the auto policy"]
    lines = "\n".join(f"  - {b}: {'; '.join(r)}" for b, r in rejected.items())
    raise BackendUnavailableError(f"no backend can serve model {request.model!r} "
                                  f"(precision={request.precision}, device={request.device}):\n{lines}")


def describe_backends() -> dict[str, list[str]]:
    """Each backend and why it is unavailable here ([] when installed), for `edgeaffect info`."""
    out = {}
    for name in backend_names():
        cls = type(create_backend(name))
        missing = cls._missing_dependency()
        out[name] = [missing] if missing else []
    tensorrt = create_backend("tensorrt")
    if not out["tensorrt"]:
        out["tensorrt"] = tensorrt._extra_reasons(Request("", {}))
    return out


__all__ = ["Backend", "NativeBackend", "OnnxRuntimeBackend", "OpenVinoBackend", "Request", "TensorRtBackend", "TorchBackend",
           "auto_priority", "backend_names", "create_backend", "describe_backends", "register_backend",
           "select_backend"]
