"""This machine's measured ceilings: the physical limits a model's row is
compared against (issue #7, "distance to the limit").

- matmul fp32 / fp64: a large square MatMul through ONNX Runtime's MLAS, on
  the thread count being benchmarked (numpy's BLAS ignores a thread count set
  after it loads, so it would measure a different machine).
- matmul int8: ONNX Runtime's MatMulInteger (u8 x s8 -> s32), the kernel its
  INT8 models run on (VNNI / AMX / dot-product instructions where present).
- matmul bf16: OpenVINO with a bf16 inference precision, only where the CPU
  reports bf16 support (AMX or AVX-512 BF16); elsewhere it is emulated and not
  a ceiling, so it is left out with the reason.
- copy: a large array copy split over the threads (bytes read + written).

Example:
    >>> from edgeaffect.bench.ceilings import measure_ceilings
    >>> measure_ceilings(threads=2, size=256, repeats=2)["matmul_float32_GFLOPs"] > 0
    True
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

# ONNX element types (onnx.TensorProto values).
_FLOAT, _UINT8, _INT8, _INT32, _DOUBLE = 1, 2, 3, 6, 11


def measure_ceilings(threads: int = 2, size: int = 1024, repeats: int = 7) -> dict:
    """Best-of-`repeats` ceilings: copy_GBps, matmul_float32_GFLOPs,
    matmul_float64_GFLOPs, matmul_int8_GOPs and matmul_bf16_GFLOPs (or
    bf16_unavailable with the reason)."""
    result = {"threads": threads, "matmul_size": size, "copy_GBps": copy_bandwidth(threads, repeats=repeats)}
    flops = 2 * size**3
    for key, op, dtypes in (
        ("matmul_float32_GFLOPs", "MatMul", (np.float32, np.float32)),
        ("matmul_float64_GFLOPs", "MatMul", (np.float64, np.float64)),
        ("matmul_int8_GOPs", "MatMulInteger", (np.uint8, np.int8)),
    ):
        run = _ort_matmul(op, dtypes, size, threads)
        result[key] = flops / _best_seconds(run, repeats) / 1e9
    bf16 = _openvino_bf16_matmul(size, threads)
    if isinstance(bf16, str):
        result["bf16_unavailable"] = bf16
    else:
        result["matmul_bf16_GFLOPs"] = flops / _best_seconds(bf16, repeats) / 1e9
    return result


def best_ceilings(first: dict, second: dict) -> dict:
    """The higher of two measurements of each ceiling (both kept, under
    `measurements`), since a ceiling is the best the machine does.

    Example:
        >>> best_ceilings({"copy_GBps": 10.0}, {"copy_GBps": 12.0})["copy_GBps"]
        12.0
    """
    merged = dict(first)
    for key, value in second.items():
        if key.endswith(("GFLOPs", "GOPs", "GBps")) and isinstance(value, float):
            merged[key] = max(value, first.get(key, 0.0))
    merged["measurements"] = [{k: v for k, v in m.items() if k != "measurements"} for m in (first, second)]
    return merged


def peak_for(ceilings: dict, precision: str) -> float:
    """The compute ceiling (GFLOP/s) a row of `precision` is measured against:
    int8 rows against the int8 matmul, fp16/bf16 against bf16 where measured,
    everything else against fp32."""
    if precision == "int8" and "matmul_int8_GOPs" in ceilings:
        return ceilings["matmul_int8_GOPs"]
    if precision in ("fp16", "bf16") and "matmul_bf16_GFLOPs" in ceilings:
        return ceilings["matmul_bf16_GFLOPs"]
    return ceilings["matmul_float32_GFLOPs"]


def copy_bandwidth(threads: int, megabytes: int = 128, repeats: int = 7) -> float:
    """GB/s of a copy far larger than the caches, split over `threads`
    (numpy releases the GIL while copying), counting bytes read + written."""
    src = np.ones(megabytes * 2**20 // 8)
    dst = np.empty_like(src)
    parts = np.array_split(np.arange(src.size), threads)
    bounds = [(int(p[0]), int(p[-1]) + 1) for p in parts if p.size]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        def copy():
            list(pool.map(lambda b: np.copyto(dst[b[0]:b[1]], src[b[0]:b[1]]), bounds))
        return 2 * src.nbytes / _best_seconds(copy, repeats) / 1e9


def _best_seconds(func: Callable[[], object], repeats: int) -> float:
    func()  # warm-up: first-touch page faults, thread pool start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def _matmul_model_bytes(op: str, input_types: tuple[int, int], output_type: int, size: int) -> bytes:
    from onnx import helper

    inputs = [helper.make_tensor_value_info(name, code, [size, size]) for name, code in zip("AB", input_types)]
    graph = helper.make_graph([helper.make_node(op, ["A", "B"], ["Y"])], "ceiling", inputs,
                              [helper.make_tensor_value_info("Y", output_type, [size, size])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9  # readable by every onnxruntime >= 1.16 and OpenVINO >= 2023
    return model.SerializeToString()


def _ort_matmul(op: str, dtypes: tuple, size: int, threads: int) -> Callable[[], object]:
    import onnxruntime as ort

    codes = {np.float32: _FLOAT, np.float64: _DOUBLE, np.uint8: _UINT8, np.int8: _INT8}
    output = _INT32 if op == "MatMulInteger" else codes[dtypes[0]]
    model = _matmul_model_bytes(op, (codes[dtypes[0]], codes[dtypes[1]]), output, size)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {"A": rng.integers(0, 100, (size, size)).astype(dtypes[0]),
             "B": rng.integers(-50, 50, (size, size)).astype(dtypes[1])}
    return lambda: session.run(None, feeds)


def _openvino_bf16_matmul(size: int, threads: int) -> Callable[[], object] | str:
    """A compiled bf16 OpenVINO MatMul, or why there is none here."""
    try:
        import openvino as ov
    except ImportError:
        return "OpenVINO is not installed (pip install openvino)"
    core = ov.Core()
    capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if "BF16" not in capabilities:
        return f"this CPU has no bf16 instructions (OpenVINO capabilities: {', '.join(capabilities)})"
    model = core.read_model(_matmul_model_bytes("MatMul", (_FLOAT, _FLOAT), _FLOAT, size), b"")
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "bf16", "INFERENCE_NUM_THREADS": threads})
    request = compiled.create_infer_request()
    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    return lambda: request.infer({0: a, 1: a})
