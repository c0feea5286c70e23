"""TensorRT 10 on NVIDIA GPUs and Jetson: engine build from ONNX (FP16, INT8
from QDQ ONNX), timing cache, an engine cache keyed by EngineKey, and
execution with the tensor-address API (execute_async_v3) over device buffers
from cuda-python (cuda.bindings.runtime).

TensorRT cannot be installed in our development or CI environment: this file
is written against the TensorRT 10 Python API documentation and kept thin;
everything around it (keys, calibration cache, trtexec commands) lives in
tensorrt_support.py with tests. Tests of this file are marked `tensorrt`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional

import numpy as np

from .base import Backend, Request, module_missing, register_backend
from .hardware import probe
from ..models.registry import file_sha256
from .tensorrt_support import EngineKey, batch_profile

DEFAULT_CACHE = Path(os.environ.get("EDGEAFFECT_ENGINE_CACHE", Path.home() / ".cache" / "edgeaffect" / "tensorrt"))


def _check(result, what: str):
    """cuda-python returns (error, *values); raise on error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise RuntimeError(f"{what} failed with CUDA error {err}")
    return values[0] if len(values) == 1 else values


@register_backend
class TensorRtBackend(Backend):
    """Options: `engine_cache` (folder, default ~/.cache/edgeaffect/tensorrt),
    `max_batch` (optimisation profile, default 32), `workspace_mib` (1024),
    `builder_optimization_level`."""

    name = "tensorrt"
    formats = ("onnx",)
    precision_preference = ("fp16", "int8", "fp32")
    supported_precisions = ("fp32", "fp16", "int8")

    @classmethod
    def _missing_dependency(cls) -> Optional[str]:
        if module_missing("tensorrt", "tensorrt"):
            return ("tensorrt is not installed (it comes with JetPack on a Jetson, and from NVIDIA's TensorRT "
                    "packages on RTX machines)")
        return module_missing("cuda.bindings", "tensorrt")

    def _extra_reasons(self, request: Request) -> list[str]:
        if request.device == "cpu":
            return ["TensorRT runs on NVIDIA GPUs only and device='cpu' was asked for"]
        if not probe().nvidia_gpu:
            return ["no NVIDIA GPU or Jetson found (no driver in /proc/driver/nvidia, no nvidia-smi)"]
        return []

    def _load(self, request: Request, fmt: str, path: Path) -> None:
        import tensorrt as trt
        from cuda.bindings import runtime as cudart

        self._trt, self._cudart = trt, cudart
        self._logger = trt.Logger(trt.Logger.WARNING)
        props = _check(cudart.cudaGetDeviceProperties(0), "cudaGetDeviceProperties")
        gpu_name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
        from ..runtime.artifact import read_onnx_artifact

        info = read_onnx_artifact(path)
        spec = info.inputs[0]
        profile_shapes = (batch_profile(spec.name, spec.shape, 1, 1, int(request.options.get("max_batch", 32))),)
        key = EngineKey(file_sha256(path), trt.__version__, gpu_name, self.precision, profile_shapes)
        cache = Path(request.options.get("engine_cache", DEFAULT_CACHE))
        cache.mkdir(parents=True, exist_ok=True)
        engine_file = cache / key.file_name(info.model)
        if not engine_file.exists():
            engine_file.write_bytes(self._build(path, cache / "timing.cache", profile_shapes, request))
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(engine_file.read_bytes())
        if self._engine is None:
            raise RuntimeError(f"TensorRT could not deserialize {engine_file}; delete it to rebuild")
        self._context = self._engine.create_execution_context()
        self._stream = _check(cudart.cudaStreamCreate(), "cudaStreamCreate")
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self._input = next(n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self._output = next(n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (pointer, bytes)
        self._lock = threading.Lock()  # one execution context: serialise callers
        self.metadata.update({"device": "gpu", "gpu": gpu_name, "tensorrt": trt.__version__,
                              "engine": str(engine_file)})

    def _build(self, onnx_path: Path, timing_cache_file: Path, shapes, request: Request) -> bytes:
        trt = self._trt
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse(onnx_path.read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(request.options.get("workspace_mib", 1024)) << 20)
        if self.precision in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16)
        if self.precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)  # scales come from the QDQ nodes of the ONNX
        if "builder_optimization_level" in request.options:
            config.builder_optimization_level = int(request.options["builder_optimization_level"])
        timing = config.create_timing_cache(timing_cache_file.read_bytes() if timing_cache_file.exists() else b"")
        config.set_timing_cache(timing, ignore_mismatch=False)
        profile = builder.create_optimization_profile()
        for name, lo, opt, hi in shapes:
            profile.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path} ({self.precision})")
        timing_cache_file.write_bytes(bytes(config.get_timing_cache().serialize()))
        return bytes(serialized)

    def _device_buffer(self, name: str, nbytes: int) -> int:
        pointer, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if pointer:
                _check(self._cudart.cudaFree(pointer), "cudaFree")
            pointer = int(_check(self._cudart.cudaMalloc(nbytes), "cudaMalloc"))
            self._buffers[name] = (pointer, nbytes)
        return pointer

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        cudart = self._cudart
        x = np.ascontiguousarray(inputs, dtype=np.float32)
        with self._lock:
            self._context.set_input_shape(self._input, x.shape)
            out_shape = tuple(self._context.get_tensor_shape(self._output))
            out = np.empty(out_shape, dtype=np.float32)
            d_in = self._device_buffer(self._input, x.nbytes)
            d_out = self._device_buffer(self._output, out.nbytes)
            self._context.set_tensor_address(self._input, d_in)
            self._context.set_tensor_address(self._output, d_out)
            kind_h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
            kind_d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
            _check(cudart.cudaMemcpyAsync(d_in, x.ctypes.data, x.nbytes, kind_h2d, self._stream), "cudaMemcpyAsync")
            if not self._context.execute_async_v3(int(self._stream)):
                raise RuntimeError("TensorRT execute_async_v3 failed")
            _check(cudart.cudaMemcpyAsync(out.ctypes.data, d_out, out.nbytes, kind_d2h, self._stream), "cudaMemcpyAsync")
            _check(cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        return out

    def close(self) -> None:
        if getattr(self, "_buffers", None):
            for pointer, _ in self._buffers.values():
                self._cudart.cudaFree(pointer)
            self._buffers = {}
        if getattr(self, "_stream", None) is not None:
            self._cudart.cudaStreamDestroy(self._stream)
            self._stream = None
        self._context = self._engine = None
        super().close()
