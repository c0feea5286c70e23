"""edgeaffect's own C++ engine for the RBTransformer EEG models: no
framework, weights from the model's safetensors artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .base import Backend, Request, register_backend

ENGINE_BUILDERS = ("edgeaffect.eeg.model:",)


@register_backend
class NativeBackend(Backend):
    """The native RBTransformer engine (edgeaffect.eeg.native): fp32, CPU."""

    name = "native"
    formats = ("torch",)  # the card's torch-fp32 safetensors weights
    precision_preference = ("fp32",)
    supported_precisions = ("fp32",)

    @classmethod
    def _missing_dependency(cls) -> Optional[str]:
        from .. import _native

        try:
            module = _native.cpu_module()
        except _native.NativeUnavailableError as exc:
            return str(exc)
        return None if hasattr(module, "RBEngine") else "this build of edgeaffect._C has no RBTransformer engine"

    def _extra_reasons(self, request: Request) -> list[str]:
        from ..models import get_card

        try:
            card = get_card(request.model)
        except KeyError:
            return [f"the native engine needs a registered card for {request.model!r} (it names the architecture)"]
        if not (card.builder or "").startswith(ENGINE_BUILDERS):
            return [f"the native engine implements the RBTransformer (eeg) models only, not {request.model!r}"]
        if "heads" not in dict(card.architecture):
            return [f"model {request.model!r} does not state its attention heads (card.architecture)"]
        if request.device == "gpu":
            return ["the native engine runs on the CPU"]
        return []

    def _load(self, request: Request, fmt: str, path: Path) -> None:
        from ..eeg.native import NativeRBEngine
        from ..models import get_card

        if path.suffix != ".safetensors":
            raise ValueError(f"the native engine reads .safetensors weights, not {path.name}")
        heads = int(dict(get_card(request.model).architecture)["heads"])
        self.engine = NativeRBEngine.from_safetensors(path, heads)
        self.metadata.update({"device": "cpu", "engine": "edgeaffect RBTransformer (C++)", **self.engine.config})

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        return self.engine.forward(inputs)
