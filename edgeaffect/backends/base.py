"""The Backend protocol, the request it serves, and the registry of backends
by name (DESIGN.md rule 3; xformers-style `not_supported_reasons`)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Optional

import numpy as np

from ..errors import PrecisionUnavailableError


@dataclass(frozen=True)
class Request:
    """What a caller asks a backend for.

    `artifacts` maps (format, precision) to files, e.g. ("onnx", "int8").
    `precision` is "auto" (the backend's preference among what exists) or one
    of fp32 / fp16 / int8; a precision the backend cannot run is an error
    unless `allow_fallback` (then fp32 runs and the result says so).
    """

    model: str
    artifacts: dict
    precision: str = "auto"
    device: str = "auto"  # "cpu", "gpu" or "auto"
    threads: Optional[int] = None
    allow_fallback: bool = False
    options: dict = field(default_factory=dict)

    def files_for(self, fmt: str) -> dict[str, Path]:
        return {prec: Path(path) for (f, prec), path in self.artifacts.items() if f == fmt}


class Backend:
    """Base class: load / run / close, context manager, metadata.

    Subclasses set `name`, `formats` (artifact formats they read, preferred
    first), `precision_preference` (for precision="auto"), implement
    `_missing_dependency()`, `_load()` and `_run()`, and may add reasons in
    `_extra_reasons()`.
    """

    name: ClassVar[str] = ""
    formats: ClassVar[tuple[str, ...]] = ("onnx",)
    precision_preference: ClassVar[tuple[str, ...]] = ("int8", "fp32")
    supported_precisions: ClassVar[tuple[str, ...]] = ("fp32", "int8")

    def __init__(self) -> None:
        self.metadata: dict = {"backend": self.name}
        self.precision: Optional[str] = None
        self.path: Optional[Path] = None
        self._loaded = False

    # -- capability ------------------------------------------------------------
    @classmethod
    def _missing_dependency(cls) -> Optional[str]:
        return None

    def _extra_reasons(self, request: Request) -> list[str]:
        return []

    def not_supported_reasons(self, request: Request) -> list[str]:
        """Why this backend cannot serve `request` (empty when it can)."""
        missing = self._missing_dependency()
        if missing:
            return [missing]
        reasons = list(self._extra_reasons(request))
        try:
            self.choose_artifact(request)
        except (FileNotFoundError, PrecisionUnavailableError) as exc:
            reasons.append(str(exc))
        return reasons

    def auto_precision_order(self, request: Request) -> tuple[str, ...]:
        """The precisions precision="auto" tries, best first (CPU backends consult the hardware)."""
        return tuple(self.precision_preference)

    def choose_artifact(self, request: Request) -> tuple[str, str, Path]:
        """(format, precision, path) this backend would load for `request`."""
        available = {(fmt, prec): path for fmt in self.formats for prec, path in request.files_for(fmt).items()}
        if not available:
            have = sorted(f"{f}-{p}" for f, p in request.artifacts) or ["nothing"]
            raise FileNotFoundError(f"{self.name} reads {'/'.join(self.formats)} artifacts; model {request.model!r} "
                                    f"has {', '.join(have)}")
        if request.precision == "auto":
            order = list(self.auto_precision_order(request))
        else:
            if request.precision not in self.supported_precisions and not request.allow_fallback:
                raise PrecisionUnavailableError(
                    f"{self.name} cannot run {request.precision}; it runs {', '.join(self.supported_precisions)}. "
                    "Pick another precision or backend (--precision, --backend on the command line); from Python, "
                    "edgeaffect.load(..., allow_fallback=True) runs fp32 instead")
            order = [request.precision] + (["fp32"] if request.allow_fallback else [])
        for prec in order:
            for fmt in self.formats:
                if (fmt, prec) in available:
                    return fmt, prec, available[(fmt, prec)]
        have = sorted(f"{f}-{p}" for f, p in available)
        raise PrecisionUnavailableError(
            f"{self.name}: model {request.model!r} has no {request.precision} artifact it can read (it has "
            f"{', '.join(have)}); export one with `edgeaffect export {request.model} --target PROFILE`"
            + ("" if request.allow_fallback or request.precision == "auto"
               else "; from Python, edgeaffect.load(..., allow_fallback=True) runs fp32 instead"))

    # -- lifecycle -------------------------------------------------------------
    def load(self, request: Request) -> "Backend":
        reasons = self.not_supported_reasons(request)
        if reasons:
            raise RuntimeError(f"{self.name} cannot serve this request: " + "; ".join(reasons))
        fmt, precision, path = self.choose_artifact(request)
        self.precision, self.path = precision, Path(path)
        self._load(request, fmt, Path(path))
        self.metadata.update({"precision": self.precision, "format": fmt, "path": str(path)})
        self._loaded = True
        return self

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """Runs one batch through the model; returns its first output."""
        if not self._loaded:
            raise RuntimeError(f"{self.name} backend is not loaded (or was closed); call load() first")
        return self._run(inputs)

    def close(self) -> None:
        self._loaded = False

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- to implement -------------------------------------------------------------
    def _load(self, request: Request, fmt: str, path: Path) -> None:
        raise NotImplementedError

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError


_backends: dict[str, Callable[[], Backend]] = {}


def register_backend(cls):
    """Class decorator: makes a backend available by its name."""
    _backends[cls.name] = cls
    return cls


def backend_names() -> list[str]:
    return list(_backends)


def create_backend(name: str) -> Backend:
    if name not in _backends:
        raise ValueError(f"backend={name!r} is not one of {sorted(_backends)} or 'auto'")
    return _backends[name]()


def module_missing(module: str, extra: str) -> Optional[str]:
    """A reason string when `module` is not importable (without importing it)."""
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed (pip install 'edgeaffect[{extra}]')"
    return None
