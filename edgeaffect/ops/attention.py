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


def _bias_4d(bias: np.ndarray, shape: tuple) -> np.ndarray:
    _, heads, length, _ = shape
    if bias.ndim == 2:
        bias = bias[None, None]
    elif bias.ndim == 3:
        bias = bias[None]
    if bias.ndim != 4 or bias.shape[2:] != (length, length) or bias.shape[1] not in (1, heads):
        raise ValueError(f"bias has shape {bias.shape}; expected (L, L), (heads, L, L) or (bias_batch, 1 or heads, L, L) "
                         f"with L={length}, heads={heads}")
    if shape[0] % bias.shape[0]:
        raise ValueError(f"bias batch {bias.shape[0]} must divide the batch {shape[0]} (bias of sequence b is b % bias_batch)")
    return bias


def attention(q, k, v, bias=None, scale=None, threads: int | None = None) -> np.ndarray:
    """softmax(q k^T * scale + bias) v for (batch, heads, L, d) float32 arrays.

    Args:
        q, k, v: float32 arrays of one shape (batch, heads, L, d), L <= 128,
            d in (16, 32, 64, 128); other float arrays are converted to float32.
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
    arrays = []
    for name, a in (("q", q), ("k", k), ("v", v)):
        if hasattr(a, "__cuda_array_interface__"):
            raise ValueError(f"{name} is a GPU array; the CUDA attention kernel is not built yet (issue #6): "
                             "copy it to the host")
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
