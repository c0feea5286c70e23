"""The native Swin-SE engine (C++, no framework) for the FER student:
standardised 48x48 grey faces -> logits.

At batch 1 the student's 25 M multiply-adds take less time than a
framework's dispatch of its ~200 graph nodes; this engine runs the same
function as one fixed sequence of loops (csrc/swinengine/swinengine.h says
what it folds). Weights and shape come from the model's safetensors file
(its metadata holds the SwinSEConfig), read with numpy: no torch needed.

Example:
    >>> from edgeaffect.runtime.preprocessing import grey_image
    >>> engine = NativeSwinEngine.from_safetensors("fer.safetensors")  # doctest: +SKIP
    >>> faces = grey_image(crop, scale=1 / 255, mean=0.5, std=0.25)  # doctest: +SKIP
    >>> # faces: (1, 1, 48, 48) float32, standardised as the card does
    >>> engine.forward(faces).shape                                   # doctest: +SKIP
    (1, 7)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np

from .. import _native
from ..io.weights_file import read_safetensors_with_metadata


def engine_config(architecture: Mapping) -> dict:
    """The C++ engine's configuration from SwinSEConfig fields (a checkpoint's
    or a safetensors file's `architecture`), hidden widths resolved as
    edgeaffect.fer.model computes them."""
    depths = [int(d) for d in architecture["depths"]]
    dims = [int(architecture["dim"]) * 2**i for i in range(len(depths))]
    return {
        "image": int(architecture["image"]), "stem": int(architecture["stem"]), "dim": int(architecture["dim"]),
        "classes": int(architecture["classes"]), "depths": depths,
        "heads": [int(h) for h in architecture["heads"]], "windows": [int(w) for w in architecture["windows"]],
        "mlp_hidden": [int(d * float(architecture["mlp_ratio"])) for d in dims],
        "se_hidden": [max(8, d // int(architecture["se_reduction"])) for d in dims],
    }


class NativeSwinEngine:
    """A loaded engine; thread-safe (forward keeps no state between calls).

    `threads` > 1 runs a batch's faces in parallel, one face per thread; a
    single face has its layers split over the threads instead (one parallel
    region per face; the logits do not depend on the thread count).
    """

    def __init__(self, weights: Mapping[str, np.ndarray], architecture: Mapping):
        if "stem.0.weight" not in weights or "stages.0.0.attn.qkv.weight" not in weights:
            raise ValueError("these are not Swin-SE student weights (no stem.0.weight / stages.0.0.attn.qkv.weight)")
        self.config = engine_config(architecture)
        floats = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()
                  if np.issubdtype(np.asarray(v).dtype, np.floating)}
        self._engine = _native.cpu_module().SwinEngine(self.config, floats)

    @staticmethod
    def from_safetensors(path: str | Path) -> "NativeSwinEngine":
        weights, metadata = read_safetensors_with_metadata(path)
        if "architecture" not in metadata:
            raise ValueError(f"{path} does not record the student's architecture in its metadata; re-export it "
                             "with `edgeaffect export` or export/build_fer.py")
        return NativeSwinEngine(weights, json.loads(metadata["architecture"]))

    def forward(self, faces, threads: int = 1) -> np.ndarray:
        """(batch, 1, image, image) float32 faces, standardised as the card's preprocessing does -> logits."""
        x = np.ascontiguousarray(faces, dtype=np.float32)
        size = self.config["image"]
        if x.ndim != 4 or x.shape[1:] != (1, size, size):
            raise ValueError(f"faces have shape {x.shape}; expected (batch, 1, {size}, {size})")
        return self._engine.forward(x, int(threads))
