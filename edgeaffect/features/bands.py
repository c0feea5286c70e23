"""Frequency-band presets for band differential entropy."""

from __future__ import annotations

import math
from typing import Sequence, Union

Band = tuple[float, float]
BandsLike = Union[str, Sequence[Sequence[float]]]

#: Named band sets, in Hz. "torcheeg" is torcheeg's BandDifferentialEntropy
#: default (which RBTransformer's reference code uses); "deap" are the bands
#: of the DEAP paper (Koelstra et al. 2012), as in ../shared/data's features.
BAND_PRESETS: dict[str, tuple[Band, ...]] = {
    "torcheeg": ((1.0, 4.0), (4.0, 8.0), (8.0, 14.0), (14.0, 31.0), (31.0, 49.0)),
    "deap": ((4.0, 8.0), (8.0, 10.0), (8.0, 12.0), (12.0, 30.0), (30.0, 45.0)),
}

#: Names of the bands in each preset, in order.
BAND_NAMES: dict[str, tuple[str, ...]] = {
    "torcheeg": ("delta", "theta", "alpha", "beta", "gamma"),
    "deap": ("theta", "slow_alpha", "alpha", "beta", "gamma"),
}


def resolve_bands(bands: BandsLike, fs: float) -> list[Band]:
    """Turns a preset name or (low, high) pairs into a checked list of bands.

    Raises ValueError naming the offending band when an edge is not positive,
    low >= high, or high is at or above the Nyquist frequency fs / 2.

    Example:
        >>> resolve_bands("deap", fs=128)[0]
        (4.0, 8.0)
    """
    if isinstance(bands, str):
        if bands not in BAND_PRESETS:
            raise ValueError(f"bands={bands!r} is not a preset; use one of {sorted(BAND_PRESETS)} or (low, high) pairs in Hz")
        pairs = list(BAND_PRESETS[bands])
    else:
        try:
            pairs = [(float(low), float(high)) for low, high in bands]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bands={bands!r} must be a preset name or a sequence of (low, high) pairs in Hz") from exc
    if not pairs:
        raise ValueError("bands is empty: give a preset name or at least one (low, high) pair in Hz")
    for low, high in pairs:
        if not (math.isfinite(low) and math.isfinite(high)) or low <= 0:
            raise ValueError(f"band ({low}, {high}): edges must be finite and low > 0 Hz")
        if low >= high:
            raise ValueError(f"band ({low}, {high}): low must be < high")
        if fs <= 2 * high:
            raise ValueError(
                f"band ({low}, {high}) needs fs > 2*high = {2 * high} Hz (Nyquist), but fs={fs}; "
                "drop or lower the band, or record at a higher sampling rate"
            )
    return pairs
