"""Muse headband CSV, as exported by muse-lsl: timestamps,TP9,AF7,AF8,TP10[,Right AUX]."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .recording import Recording

MUSE_EEG_CHANNELS = ("TP9", "AF7", "AF8", "TP10")


def read_muse_csv(path: str | Path, fs: float | None = None, include_aux: bool = False) -> Recording:
    """Reads a muse-lsl CSV export; fs defaults to the rate the timestamps show.

    Example:
        >>> rec = read_muse_csv("subjecta-relaxed-1.csv")   # doctest: +SKIP
        >>> rec.channel_names, round(rec.fs)                 # doctest: +SKIP
        (['TP9', 'AF7', 'AF8', 'TP10'], 250)
    """
    path = Path(path)
    with path.open() as f:
        header = [h.strip() for h in f.readline().split(",")]
    if not header or header[0] != "timestamps":
        raise ValueError(f"{path}: expected a muse-lsl CSV whose first column is 'timestamps', got {header[:3]}")
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    names = [h for h in header[1:] if include_aux or h in MUSE_EEG_CHANNELS]
    idx = [header.index(n) for n in names]
    if fs is None:
        steps = np.diff(table[:, 0])
        if len(steps) == 0 or not np.median(steps) > 0:
            raise ValueError(f"{path}: cannot infer fs from the timestamps; pass fs=")
        fs = float(1.0 / np.median(steps))
    return Recording(np.ascontiguousarray(table[:, idx].T), float(fs), names, ["uV"] * len(names), str(path))
