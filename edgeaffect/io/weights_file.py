"""safetensors files read with numpy alone: the runtime's native engines
load shipped weights without torch or the safetensors package.

Example:
    >>> tensors, metadata = read_safetensors_with_metadata("fer.safetensors")  # doctest: +SKIP
    >>> tensors["head.weight"].shape, "architecture" in metadata  # doctest: +SKIP
    ((7, 192), True)
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

# Float data is returned as float32 (what the engines compute in); integer
# tensors (BatchNorm's step counters) keep their type. bfloat16 has no numpy type.
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors_with_metadata(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """All tensors of a safetensors file as numpy arrays, and its string metadata."""
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
        array = np.frombuffer(raw[base + start : base + end], dtype=dtype).reshape(meta["shape"])
        tensors[name] = array.astype(np.float32) if np.issubdtype(dtype, np.floating) else array.copy()
    return tensors, dict(header.get("__metadata__") or {})


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a safetensors file as numpy arrays (float32 for float data)."""
    return read_safetensors_with_metadata(path)[0]
