"""The numpy/scipy band differential entropy: the test oracle.

Plain and slow on purpose: scipy designs each Butterworth band-pass as
second-order sections, `sosfilt` applies it causally from a zero state, and
the variance and the log are taken in float64.
"""

from __future__ import annotations

import numpy as np


def _scipy_signal():
    try:
        from scipy import signal
    except ImportError as exc:
        raise ImportError(
            "impl='reference' needs scipy: `pip install edgeaffect[reference]` (or use the native kernel)"
        ) from exc
    return signal


def bandpass_sos(fs: float, low: float, high: float, order: int) -> np.ndarray:
    """scipy's Butterworth band-pass (order `order`, 2*order poles) as SOS rows."""
    return _scipy_signal().butter(order, [low, high], btype="bandpass", fs=fs, output="sos")


def entropy_from_variance(var: np.ndarray, log_base: float | None) -> np.ndarray:
    """0.5 * ln(2*pi*e*var), in nats or in base `log_base`."""
    with np.errstate(divide="ignore"):
        nats = 0.5 * np.log(2 * np.pi * np.e * var)
    return nats / np.log(log_base) if log_base else nats


def band_differential_entropy_reference(
    x: np.ndarray, fs: float, bands: list[tuple[float, float]], order: int, log_base: float | None
) -> np.ndarray:
    """BDE of x (..., samples) in float64: output (..., bands)."""
    signal = _scipy_signal()
    x64 = np.asarray(x, dtype=np.float64)
    out = np.empty(x64.shape[:-1] + (len(bands),))
    for i, (low, high) in enumerate(bands):
        filtered = signal.sosfilt(bandpass_sos(fs, low, high, order), x64, axis=-1)
        out[..., i] = entropy_from_variance(filtered.var(axis=-1), log_base)
    return out


def streaming_reference(
    signal_2d: np.ndarray,
    fs: float,
    bands: list[tuple[float, float]],
    order: int,
    window: int,
    hop: int,
    log_base: float | None,
) -> np.ndarray:
    """What StreamingBDE promises: the DE of each window [k*hop, k*hop + window)
    of the signal filtered continuously from its first sample (zero initial
    state). signal_2d is (channels, samples); output (windows, channels, bands).
    """
    signal = _scipy_signal()
    x64 = np.asarray(signal_2d, dtype=np.float64)
    n_windows = 0 if x64.shape[1] < window else (x64.shape[1] - window) // hop + 1
    out = np.empty((n_windows, x64.shape[0], len(bands)))
    for i, (low, high) in enumerate(bands):
        filtered = signal.sosfilt(bandpass_sos(fs, low, high, order), x64, axis=-1)
        for k in range(n_windows):
            out[k, :, i] = entropy_from_variance(filtered[:, k * hop : k * hop + window].var(axis=-1), log_base)
    return out
