"""A raw multichannel recording."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Recording:
    """Samples (channels, samples) in physical units, at `fs` Hz."""

    data: np.ndarray
    fs: float
    channel_names: list[str]
    units: list[str] = field(default_factory=list)
    source: str = ""

    def select(self, names: list[str]) -> "Recording":
        """The channels `names`, in that order; a missing name is an error that lists what exists."""
        missing = [n for n in names if n not in self.channel_names]
        if missing:
            raise ValueError(f"channels {missing} are not in {self.source or 'the recording'}; it has {self.channel_names}")
        idx = [self.channel_names.index(n) for n in names]
        units = [self.units[i] for i in idx] if self.units else []
        return Recording(self.data[idx], self.fs, list(names), units, self.source)
