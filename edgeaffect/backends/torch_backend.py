"""The torch reference: the card's builder and weights, in float32 (export extra)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import numpy as np

from .base import Backend, Request, module_missing, register_backend


@register_backend
class TorchBackend(Backend):
    """Runs the model's torch definition; the oracle exported artifacts are checked against."""

    name = "torch"
    formats = ("torch",)
    precision_preference = ("fp32",)
    supported_precisions = ("fp32",)

    @classmethod
    def _missing_dependency(cls) -> Optional[str]:
        return module_missing("torch", "export")

    def _load(self, request: Request, fmt: str, path: Path) -> None:
        import torch

        from ..export.pipeline import load_torch_module
        from ..models import get_card

        card = get_card(request.model)
        # safetensors, torch .pt, or a ported peer's own file (Keras .hdf5)
        self.module = load_torch_module(card, path)
        self._lock = threading.Lock()
        self.metadata.update({"device": "cpu", "torch": torch.__version__})

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        import torch

        with self._lock, torch.inference_mode():
            return self.module(torch.from_numpy(np.ascontiguousarray(inputs))).numpy()
