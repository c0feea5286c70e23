"""edgeaffect's own C++ engines: no framework, weights from the model's
safetensors artifact. Two architectures have one: the RBTransformer (the
`eeg` models, edgeaffect.eeg.native) and the Swin-SE FER student (the `fer`
models, edgeaffect.fer.native)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from .base import Backend, Request, register_backend

ENGINES = {  # card builder prefix -> the engine that runs it
    "edgeaffect.eeg.model:": "rbtransformer",
    "edgeaffect.fer.model:build_student": "swin-se",
}
BINDINGS = {"rbtransformer": "RBEngine", "swin-se": "SwinEngine"}


def engine_for(builder: Optional[str]) -> Optional[str]:
    """The native engine ("rbtransformer" or "swin-se") for a card's builder, or None."""
    return next((engine for prefix, engine in ENGINES.items() if (builder or "").startswith(prefix)), None)


@register_backend
class NativeBackend(Backend):
    """The native engines: fp32, CPU. Threads: the Swin-SE engine splits one
    face's layers over `threads` (default min(2, cores): one face is about
    60 small parallel steps, and only 2 threads were measured) and a batch's
    faces over `threads` (default: all cores); the RBTransformer engine runs
    on one."""

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
        missing = [name for name in BINDINGS.values() if not hasattr(module, name)]
        return f"this build of edgeaffect._C lacks {', '.join(missing)}: rebuild edgeaffect" if missing else None

    def _extra_reasons(self, request: Request) -> list[str]:
        from ..models import get_card

        try:
            card = get_card(request.model)
        except KeyError:
            return [f"the native engines need a registered card for {request.model!r} (it names the architecture)"]
        engine = engine_for(card.builder)
        if engine is None:
            return [f"the native engines implement the RBTransformer (eeg) and Swin-SE (fer) models only, "
                    f"not {request.model!r}"]
        if engine == "rbtransformer" and "heads" not in dict(card.architecture):
            return [f"model {request.model!r} does not state its attention heads (card.architecture)"]
        if request.device == "gpu":
            return ["the native engines run on the CPU"]
        return []

    def _load(self, request: Request, fmt: str, path: Path) -> None:
        from ..models import get_card

        if path.suffix != ".safetensors":
            raise ValueError(f"the native engines read .safetensors weights, not {path.name}")
        card = get_card(request.model)
        self.kind = engine_for(card.builder)
        cores = os.cpu_count() or 1
        self.threads_one = request.threads or min(2, cores)  # for a single face
        self.threads_batch = request.threads or cores
        if self.kind == "swin-se":
            from ..fer.native import NativeSwinEngine

            self.engine = NativeSwinEngine.from_safetensors(path)
            name = "edgeaffect Swin-SE (C++)"
        else:
            from ..eeg.native import NativeRBEngine

            self.engine = NativeRBEngine.from_safetensors(path, int(dict(card.architecture)["heads"]))
            name = "edgeaffect RBTransformer (C++)"
        self.metadata.update({"device": "cpu", "engine": name, **self.engine.config})

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        if self.kind != "swin-se":
            return self.engine.forward(inputs)
        return self.engine.forward(inputs, self.threads_one if len(inputs) == 1 else self.threads_batch)
