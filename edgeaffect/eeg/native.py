"""The native RBTransformer engine (C++, no framework): DE tokens -> logits.

Weights come from a safetensors file (read here with numpy: the runtime
needs no torch or safetensors package). The attention heads are not
recoverable from the weight shapes alone (heads x head_dim = inner), so
the caller names them (the model card will carry them).

Example:
    >>> engine = NativeRBEngine.from_safetensors("eeg-student.safetensors", heads=4)   # doctest: +SKIP
    >>> engine.forward(tokens).shape                                                 # doctest: +SKIP
    (1, 2)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import _native
from ..io.weights_file import read_safetensors

__all__ = ["NativeRBEngine", "read_safetensors"]


class NativeRBEngine:
    """A loaded engine; thread-safe (forward keeps no state between calls)."""

    def __init__(self, weights: dict[str, np.ndarray], heads: int):
        if "embed.weight" not in weights or "electrode" not in weights:
            raise ValueError("these are not RBTransformer weights (no embed.weight / electrode)")
        depth = len({k.split(".")[1] for k in weights if k.startswith("blocks.")})
        inner = weights["blocks.0.attn.qkv.weight"].shape[0] // 3
        if inner % heads:
            raise ValueError(f"heads={heads} does not divide the attention width {inner}")
        self.config = {
            "electrodes": weights["electrode"].shape[0], "bands": weights["embed.weight"].shape[1],
            "dim": weights["embed.weight"].shape[0], "depth": depth, "heads": heads, "head_dim": inner // heads,
            "ff": weights["blocks.0.ff.0.weight"].shape[0], "outputs": weights["head.3.weight"].shape[0],
        }
        if self.config["head_dim"] not in (16, 32, 64, 128):
            raise ValueError(f"head_dim {self.config['head_dim']} is not supported by the attention kernel")
        self._engine = _native.cpu_module().RBEngine(self.config, {k: np.ascontiguousarray(v) for k, v in weights.items()})

    @staticmethod
    def from_safetensors(path: str | Path, heads: int) -> "NativeRBEngine":
        return NativeRBEngine(read_safetensors(path), heads)

    def forward(self, tokens) -> np.ndarray:
        """(batch, electrodes, bands) float32 tokens (as `eeg.features.prepare_tokens` makes them) -> logits."""
        x = np.ascontiguousarray(tokens, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (self.config["electrodes"], self.config["bands"]):
            raise ValueError(f"tokens have shape {x.shape}; expected (batch, {self.config['electrodes']}, "
                             f"{self.config['bands']})")
        return self._engine.forward(x)
