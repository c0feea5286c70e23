"""The peers our kernels are measured against, written once so the
per-kernel scripts in benchmarks/ and `edgeaffect bench` time the same code.

- `scipy_sosfilt_bde`: band differential entropy the vectorised way, one
  scipy `sosfilt` per band over the whole batch.
- `torcheeg_loop_bde`: torcheeg's BandDifferentialEntropy re-implemented
  (torcheeg pins an old scipy): coefficients recomputed per (window, channel,
  band) in (b, a) form, causal lfilter, DE in bits.
- `numpy_attention`: softmax(Q K^T * scale + bias) V with numpy matmuls.

Example:
    >>> import numpy as np
    >>> from edgeaffect.bench.baselines import numpy_attention
    >>> q = np.ones((1, 1, 4, 8), np.float32)
    >>> numpy_attention(q, q, q, None, 8 ** -0.5).shape
    (1, 1, 4, 8)
"""

from __future__ import annotations

import numpy as np

BDE_ORDER = 5


def scipy_sosfilt_bde(x: np.ndarray, fs: float, bands, order: int = BDE_ORDER) -> np.ndarray:
    """(windows, channels, samples) -> (windows, channels, bands), nats."""
    from scipy import signal

    out = np.empty(x.shape[:2] + (len(bands),), dtype=x.dtype)
    for i, (low, high) in enumerate(bands):
        sos = signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
        filtered = signal.sosfilt(sos, x, axis=-1)
        out[..., i] = 0.5 * np.log(2 * np.pi * np.e * filtered.var(axis=-1))
    return out


def torcheeg_loop_bde(x: np.ndarray, fs: float, bands, order: int = BDE_ORDER) -> np.ndarray:
    """(windows, channels, samples) -> (windows, channels, bands), bits, the slow way torcheeg does it."""
    from scipy import signal

    out = np.empty(x.shape[:2] + (len(bands),))
    nyquist = fs / 2
    for w in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i, (low, high) in enumerate(bands):
                b, a = signal.butter(order, [low / nyquist, high / nyquist], btype="band")
                filtered = signal.lfilter(b, a, x[w, c])
                out[w, c, i] = 0.5 * np.log2(2 * np.pi * np.e * np.var(filtered))
    return out


def numpy_attention(q, k, v, bias, scale):
    """softmax(Q K^T * scale + bias) V, numerically stable, in q's dtype."""
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
    if bias is not None:
        s = s + bias
    s -= s.max(-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(-1, keepdims=True)
    return np.matmul(s, v)
