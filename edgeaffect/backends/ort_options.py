"""ONNX Runtime session options every edgeaffect session starts from.

`session.x64quantprecision`: on x86 CPUs without VNNI (AVX2 or AVX-512
only: AMD Zen 1-3, Intel before Cascade Lake), ONNX Runtime's fast U8S8
integer matmul sums pairs of u8 x s8 products into 16 bits, which
saturates, so a QDQ INT8 model computes something else than it was
calibrated and gated for. With this option ONNX Runtime converts the s8
weights to u8 and runs its exact U8U8 kernels on those CPUs only; VNNI and
ARM CPUs are unaffected. Measured on the fer INT8 model of sessions 9-13 (FER2013
val, an AVX2-only AMD EPYC): 0.6096 -> 0.6400 accuracy (fp32: 0.6422; a
VNNI Xeon gave 0.6431), batch-1 latency unchanged (1.32 vs 1.30 ms).
"""

from __future__ import annotations

from typing import Optional


def cpu_session_options(threads: Optional[int] = None, inter_op_threads: int = 1):
    """SessionOptions with exact INT8 matmuls on every x86 CPU, and `threads` intra-op threads when given.

    Example:
        >>> import onnxruntime as ort
        >>> from edgeaffect.backends.ort_options import cpu_session_options
        >>> session = ort.InferenceSession("fer-int8.onnx", cpu_session_options(threads=2))  # doctest: +SKIP
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = int(inter_op_threads)
    options.add_session_config_entry("session.x64quantprecision", "1")
    return options
