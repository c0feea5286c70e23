"""Fused short-sequence attention: softmax(Q K^T * scale + bias) V.

For many short sequences: (batch, heads, L, d) with L <= 128 (electrodes,
7x7 or 8x8 Swin windows) and d in {16, 32, 64, 128}, float32. The native CPU
kernel keeps each score row in L1 and uses a numerically stable softmax;
`attention_reference` (numpy, float64) is its test oracle.
"""

from __future__ import annotations

import numpy as np

from .. import _native

SUPPORTED_DIMS = (16, 32, 64, 128)
MAX_LENGTH = 128


def attention_reference(q, k, v, bias=None, scale=None) -> np.ndarray:
    """The float64 numpy oracle (same broadcasting rules as `attention`)."""
    q64, k64, v64 = (np.asarray(a, np.float64) for a in (q, k, v))
    scale = q64.shape[-1] ** -0.5 if scale is None else scale
    scores = np.einsum("bhid,bhjd->bhij", q64, k64) * scale
    if bias is not None:
        b = _bias_4d(np.asarray(bias, np.float64), q64.shape)
        index = np.arange(q64.shape[0]) % b.shape[0]
        scores = scores + b[index]
    scores -= scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum("bhij,bhjd->bhid", p, v64)


def _bias_shape(bias_shape: tuple, shape: tuple) -> tuple:
    """The 4-D (bias_batch, 1 or heads, L, L) form of a bias shape, checked against q's shape."""
    _, heads, length, _ = shape
    full = (1, 1) + tuple(bias_shape) if len(bias_shape) == 2 else (1,) + tuple(bias_shape) if len(bias_shape) == 3 \
        else tuple(bias_shape)
    if len(full) != 4 or full[2:] != (length, length) or full[1] not in (1, heads):
        raise ValueError(f"bias has shape {tuple(bias_shape)}; expected (L, L), (heads, L, L) or "
                         f"(bias_batch, 1 or heads, L, L) with L={length}, heads={heads}")
    if shape[0] % full[0]:
        raise ValueError(f"bias batch {full[0]} must divide the batch {shape[0]} (bias of sequence b is b % bias_batch)")
    return full


def _bias_4d(bias: np.ndarray, shape: tuple) -> np.ndarray:
    return bias.reshape(_bias_shape(bias.shape, shape))


def attention(q, k, v, bias=None, scale=None, threads: int | None = None) -> np.ndarray:
    """softmax(q k^T * scale + bias) v for (batch, heads, L, d) float32 arrays.

    Args:
        q, k, v: float32 arrays of one shape (batch, heads, L, d), L <= 128,
            d in (16, 32, 64, 128); other float arrays are converted to float32.
        GPU arrays (CuPy, float32 or float16, C-contiguous) run the CUDA
            kernel and give a CuPy array of the same dtype.
        bias: optional additive bias broadcast over the batch: (L, L),
            (heads, L, L), or (bias_batch, 1 or heads, L, L) where sequence b
            takes bias[b % bias_batch] (Swin's shifted-window masks, with the
            batch ordered (images, windows)).
        scale: defaults to 1 / sqrt(d).
        threads: CPU threads (None: all cores).

    Example:
        >>> import numpy as np
        >>> from edgeaffect.ops import attention, attention_reference
        >>> q, k, v = np.random.default_rng(0).standard_normal((3, 2, 6, 62, 32)).astype(np.float32)
        >>> out = attention(q, k, v)
        >>> bool(np.abs(out - attention_reference(q, k, v)).max() < 1e-5)
        True
    """
    if any(hasattr(a, "__cuda_array_interface__") for a in (q, k, v)):
        return _attention_cuda(q, k, v, bias, scale)
    arrays = []
    for name, a in (("q", q), ("k", k), ("v", v)):
        a = np.asarray(a)
        if a.dtype.kind != "f":
            raise ValueError(f"{name} has dtype {a.dtype}; expected float32")
        arrays.append(np.ascontiguousarray(a, dtype=np.float32))
    q, k, v = arrays
    if q.ndim != 4:
        raise ValueError(f"q has shape {q.shape}; expected (batch, heads, L, d)")
    if k.shape != q.shape or v.shape != q.shape:
        raise ValueError(f"q {q.shape}, k {k.shape} and v {v.shape} must have the same shape")
    if 0 in q.shape:
        raise ValueError(f"q has shape {q.shape}; every axis must be non-empty")
    length, dim = q.shape[2], q.shape[3]
    if length > MAX_LENGTH:
        raise ValueError(f"L={length} is beyond the supported {MAX_LENGTH}; use a blocked attention for long sequences")
    if dim not in SUPPORTED_DIMS:
        raise ValueError(f"d={dim} is not supported; use one of {SUPPORTED_DIMS}")
    scale = dim**-0.5 if scale is None else float(scale)
    if not np.isfinite(scale):
        raise ValueError(f"scale={scale} must be finite")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads={threads!r} must be None or a positive integer")
    b = None
    if bias is not None:
        b = np.ascontiguousarray(_bias_4d(np.asarray(bias, np.float32), q.shape), dtype=np.float32)
        if not np.isfinite(b).all() and not np.isneginf(b).any():
            raise ValueError("bias contains NaN or +inf; masks should use large negative values or -inf")
    out, non_finite = _native.cpu_module().attention_f32(q, k, v, b, scale, threads or 0)
    if non_finite:
        bad = [name for name, a in (("q", q), ("k", k), ("v", v)) if not np.isfinite(a).all()]
        raise ValueError(f"{', '.join(bad) or 'bias'} produced non-finite attention (NaN/inf inputs, or a row whose "
                         "every key is masked with -inf)")
    return out


def _attention_cuda(q, k, v, bias, scale):
    """The CUDA kernel on CuPy arrays (float32 or float16; math in float32)."""
    try:
        import cupy
    except ImportError as exc:
        raise ImportError("attention on GPU arrays needs CuPy (pip install cupy-cuda12x or -cuda13x)") from exc
    module = _native.cuda_module()
    q, k, v = (cupy.asarray(a) for a in (q, k, v))
    if q.dtype not in (cupy.float32, cupy.float16) or k.dtype != q.dtype or v.dtype != q.dtype:
        raise ValueError(f"GPU q, k, v must share dtype float32 or float16; got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.ndim != 4 or k.shape != q.shape or v.shape != q.shape or 0 in q.shape:
        raise ValueError(f"q {q.shape}, k {k.shape}, v {v.shape}: expected one non-empty (batch, heads, L, d) shape")
    batch, heads, length, dim = q.shape
    if length > MAX_LENGTH or dim not in SUPPORTED_DIMS:
        raise ValueError(f"L={length}, d={dim}: the kernel takes L <= {MAX_LENGTH} and d in {SUPPORTED_DIMS}")
    q, k, v = (cupy.ascontiguousarray(a) for a in (q, k, v))
    b = None
    if bias is not None:
        gpu_bias = cupy.asarray(bias, dtype=cupy.float32)
        b = cupy.ascontiguousarray(gpu_bias.reshape(_bias_shape(gpu_bias.shape, q.shape)))
    out = cupy.empty_like(q)
    scale = dim**-0.5 if scale is None else float(scale)
    module.attention_device(q.data.ptr, k.data.ptr, v.data.ptr, 0 if b is None else b.data.ptr, out.data.ptr,
                            batch, heads, length, dim, 1 if b is None else b.shape[0], 1 if b is None else b.shape[1],
                            scale, q.dtype == cupy.float16)
    if not bool(cupy.isfinite(out).all()):
        raise ValueError("q, k, v or bias produced non-finite attention (NaN/inf inputs, or a fully masked row)")
    return out
