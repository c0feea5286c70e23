"""Electrodes in the 10-20 system, so a model maps a device's channels onto
its tokens by name.

Missing electrodes are an explicit choice (ChannelMap): by default a model
electrode the device lacks is an error naming it; with fill="mean" its token
is set to the subject's mean (zero after per-subject standardisation), which
the model treats as "no information". Nothing is filled silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The 32-channel BioSemi order DEAP uses (and our band-feature files).
DEAP_32 = ("Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
           "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2")

#: Old 10-20 names and their modern (10-10) equivalents.
ALIASES = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}


def canonical(name: str) -> str:
    """'FP1', 'fp1', 'EEG Fp1-REF', 'Fp1.' -> 'Fp1'; old names -> new ones (T3 -> T7)."""
    text = name.strip().rstrip(".")
    for prefix in ("EEG ", "EEG-", "EEG"):
        if text.upper().startswith(prefix) and len(text) > len(prefix):
            text = text[len(prefix):]
            break
    text = text.split("-")[0].strip()
    upper = text.upper()
    if upper in ALIASES:
        return ALIASES[upper]
    for known in DEAP_32:
        if known.upper() == upper:
            return known
    return text


@dataclass(frozen=True)
class ChannelMap:
    """Where each model electrode comes from in a device's channel list.

    Example:
        >>> m = ChannelMap.build(["AF7", "FP1", "fz", "T3"], ("Fp1", "Fz", "T7", "O1"), fill="mean")
        >>> m.indices.tolist(), m.missing
        ([1, 2, 3, -1], ('O1',))
    """

    model_electrodes: tuple[str, ...]
    indices: np.ndarray  # device channel index per model electrode, -1 when missing
    missing: tuple[str, ...]

    @staticmethod
    def build(device_channels, model_electrodes=DEAP_32, fill: str = "error") -> "ChannelMap":
        if fill not in ("error", "mean"):
            raise ValueError(f"fill={fill!r} must be 'error' or 'mean'")
        names = [canonical(c) for c in device_channels]
        indices, missing = [], []
        for electrode in model_electrodes:
            if electrode in names:
                indices.append(names.index(electrode))
            else:
                indices.append(-1)
                missing.append(electrode)
        if missing and fill == "error":
            raise ValueError(f"the device lacks electrodes {missing} that the model reads (it has {list(device_channels)}); "
                             "pass fill='mean' (the CLI: --fill mean) to feed them as 'no information', or use a model for this montage")
        return ChannelMap(tuple(model_electrodes), np.array(indices), tuple(missing))

    def apply(self, tokens: np.ndarray) -> np.ndarray:
        """(..., device_channels, bands) -> (..., model_electrodes, bands); missing ones are 0
        (the per-subject mean once standardised)."""
        out = np.zeros(tokens.shape[:-2] + (len(self.model_electrodes), tokens.shape[-1]), dtype=tokens.dtype)
        present = self.indices >= 0
        out[..., present, :] = tokens[..., self.indices[present], :]
        return out
