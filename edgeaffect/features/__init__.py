"""EEG features: band differential entropy, batch and streaming."""

from .bands import BAND_NAMES, BAND_PRESETS, resolve_bands
from .bde import band_differential_entropy
from .streaming import StreamingBDE

__all__ = ["BAND_NAMES", "BAND_PRESETS", "StreamingBDE", "band_differential_entropy", "resolve_bands"]
