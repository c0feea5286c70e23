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

import json
import struct
from pathlib import Path

import numpy as np

from .. import _native

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "F64": np.float64}


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a safetensors file as numpy arrays (float32 for float data)."""
    raw = Path(path).read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path} is not a safetensors file (too short)")
    (length,) = struct.unpack("<Q", raw[:8])
    try:
        header = json.loads(raw[8 : 8 + length])
    except ValueError as exc:
        raise ValueError(f"{path}: corrupt safetensors header ({exc})") from exc
    base, tensors = 8 + length, {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(meta["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has dtype {meta['dtype']}; store float32 weights")
        start, end = meta["data_offsets"]
        tensors[name] = np.frombuffer(raw[base + start : base + end], dtype=dtype).reshape(meta["shape"]).astype(np.float32)
    return tensors


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
