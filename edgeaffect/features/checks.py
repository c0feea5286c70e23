"""Input checks shared by the batch and streaming BDE entry points.

Every error names the argument, the value and what was expected.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

SUPPORTED_DTYPES = (np.float32, np.float64)


def check_fs(fs) -> float:
    if isinstance(fs, bool) or not isinstance(fs, numbers.Real) or not math.isfinite(fs) or fs <= 0:
        raise ValueError(f"fs={fs!r} must be a positive, finite sampling rate in Hz")
    return float(fs)


def check_order(order) -> int:
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or not 1 <= order <= 16:
        raise ValueError(f"order={order!r} must be an integer from 1 to 16 (Butterworth order per band)")
    return int(order)


def check_log_base(log_base) -> float | None:
    if log_base is None:
        return None
    if isinstance(log_base, bool) or not isinstance(log_base, numbers.Real) or not log_base > 0 or log_base == 1:
        raise ValueError(f"log_base={log_base!r} must be None (natural log) or a positive number other than 1, e.g. 2 for bits")
    return float(log_base)


def check_threads(threads) -> int:
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"threads={threads!r} must be None (all cores) or a positive integer")
    return int(threads)


def check_float_array(x, name: str) -> np.ndarray:
    """Accepts float32/float64 arrays (copying non-contiguous ones); rejects
    integers and other dtypes rather than guessing a precision."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype not in SUPPORTED_DTYPES:
        raise ValueError(
            f"{name} has dtype {x.dtype}; expected float32 or float64. Convert it first, e.g. "
            f"{name}.astype(np.float32) (integer ADC counts also need their physical scale)"
        )
    return np.ascontiguousarray(x)


def min_samples(fs: float, bands: list[tuple[float, float]]) -> int:
    """Shortest window that holds one full period of the lowest band edge: a
    band's power cannot be estimated from less."""
    return math.ceil(fs / min(low for low, _ in bands) - 1e-9)


def raise_for_non_finite(x: np.ndarray, name: str) -> None:
    """Raises ValueError naming the first NaN/inf sample of x, if any."""
    bad = ~np.isfinite(x)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} contains non-finite samples ({int(bad.sum())} in all; the first, {x[index]!r}, at index {index}); "
            "remove or interpolate them before computing band differential entropy"
        )
