"""`edgeaffect.load`: the public API for apps (no torch anywhere on this path)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..backends import Backend, Request, backend_names, create_backend, select_backend
from ..models import get_card
from ..models.registry import ARTIFACT_DIR, list_models
from .artifact import PRECISIONS, ArtifactInfo, read_artifact
from ..errors import ArtifactMismatchError, InputError
from .preprocessing import run_preprocessing
from .results import BinaryHeadsResult, ClassificationResult, sigmoid, softmax

FORMAT_BY_SUFFIX = {".onnx": "onnx", ".xml": "openvino", ".engine": "tensorrt", ".safetensors": "torch", ".pt": "torch"}


class Predictor:
    """A loaded model: `predict(batch)` returns typed results that say which
    backend and precision ran. Thread-safe: concurrent `predict` calls give
    the same results as serial ones. Close it (or use `with`) to free the
    backend.

    Example:
        >>> predictor = edgeaffect.load("fer")                       # doctest: +SKIP
        >>> result = predictor.predict(face_crops)                   # doctest: +SKIP
        >>> result[0].label, result.backend, result.precision        # doctest: +SKIP
        ('happy', 'openvino', 'int8')
    """

    def __init__(self, info: ArtifactInfo, backend: Backend, mirror: bool = False):
        self.info = info
        self.backend = backend
        self.labels = tuple(info.labels)
        self._spec = info.inputs[0]
        if mirror and len(self._spec.shape) != 4:
            raise ValueError(f"mirror=True averages an image with its left-right mirror; model {info.model!r} takes "
                             f"{self._spec.describe()}, not images: drop mirror")
        self.mirror = mirror

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def precision(self) -> str:
        return str(self.backend.precision)

    def preprocess(self, batch) -> np.ndarray:
        """The model input for a raw batch (the card's numpy preprocessing)."""
        x = run_preprocessing(self.info.preprocessing.name, batch, self.info.preprocessing.kwargs())
        if not self._spec.matches(x.shape):
            raise InputError(f"batch gives model input shape {x.shape} after preprocessing; model {self.info.model!r} "
                             f"expects {self._spec.describe()}")
        return x

    def predict(self, batch) -> Union[ClassificationResult, BinaryHeadsResult]:
        """Probabilities for a batch of raw inputs (see the model's card for the
        format): a ClassificationResult, or a BinaryHeadsResult for models of
        independent binary heads (task "binary-heads", e.g. valence/arousal)."""
        x = self.preprocess(batch)
        start = time.perf_counter()
        out = self.backend.run(x)
        if self.mirror:  # a second call, not a doubled batch: static batch-1 graphs stay valid
            out = (out + self.backend.run(np.ascontiguousarray(x[..., ::-1]))) / 2
        latency = (time.perf_counter() - start) * 1e3
        if self.info.task == "binary-heads":
            probs = sigmoid(out) if self.info.output_kind == "logits" else np.asarray(out, np.float32)
            return BinaryHeadsResult(self.labels, probs, self.backend.name, self.precision, latency)
        probs = softmax(out) if self.info.output_kind == "logits" else np.asarray(out, np.float32)
        return ClassificationResult(self.labels, probs, self.backend.name, self.precision, latency)

    def predict_raw(self, model_input: np.ndarray) -> np.ndarray:
        """The model's raw first output for an already preprocessed input (evaluation, parity tests)."""
        x = np.ascontiguousarray(model_input, dtype=np.float32)
        if not self._spec.matches(x.shape):
            raise InputError(f"model input has shape {x.shape}; expected {self._spec.describe()}")
        return self.backend.run(x)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "Predictor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Predictor({self.info.model!r}, backend={self.backend.name!r}, precision={self.precision!r})"


def _artifacts_of_path(path: Path) -> tuple[ArtifactInfo, dict]:
    info = read_artifact(path)
    fmt = FORMAT_BY_SUFFIX.get(path.suffix)
    if fmt is None:
        raise ValueError(f"{path}: unknown artifact type {path.suffix!r}; expected one of {sorted(FORMAT_BY_SUFFIX)}")
    return info, {(fmt, info.precision): path}


def _artifacts_of_card(name: str) -> tuple[ArtifactInfo, dict]:
    card = get_card(name)
    artifacts = {}
    for key, rel in card.artifact_map().items():
        fmt, _, precision = key.partition("-")
        path = Path(rel) if Path(rel).is_absolute() else ARTIFACT_DIR / rel
        artifacts[(fmt, precision)] = path
    if not artifacts:
        raise FileNotFoundError(f"model {name!r} ships no artifacts; export one with `edgeaffect export {name}`")
    # Every file must be this card's model: a mismatch is an error, not a guess.
    for (fmt, precision), path in artifacts.items():
        if fmt == "torch":
            continue
        found = read_artifact(path)
        found.check_against(card, str(path))
        if found.precision != precision:
            raise ArtifactMismatchError(f"{path} was built as {found.precision}, but the card lists it as {precision}")
    return ArtifactInfo.from_card(card, "fp32"), artifacts


def load(name_or_path: str | Path, backend: str = "auto", precision: str = "auto", threads: Optional[int] = None,
         device: str = "auto", allow_fallback: bool = False, mirror: bool = False, **options) -> Predictor:
    """Loads a registered model by name, or an exported artifact by path.

    Args:
        name_or_path: a name from `edgeaffect.list_models()`, or a .onnx /
            .xml (OpenVINO IR) / .engine file exported by edgeaffect.
        backend: "auto" (TensorRT on NVIDIA GPUs and Jetson; on x86 CPUs
            edgeaffect's C++ engines for the models they run, then OpenVINO
            with VNNI or ONNX Runtime; ONNX Runtime otherwise), "native",
            "onnxruntime", "openvino", "tensorrt" or "torch" (the reference;
            needs the export extra).
        precision: "auto" (the backend's best available artifact), "fp32",
            "fp16" or "int8". A precision that is not available is an error
            unless allow_fallback=True; the result always says what ran.
        threads: CPU threads for the backend (None: the backend's default).
        device: "auto", "cpu" or "gpu".
        mirror: image models only: average the outputs (logits, or probabilities) for each image
            and its left-right mirror, a test-time augmentation. For the shipped `fer` on FER2013
            val: 67.04% -> 67.29% (ONNX Runtime fp32; 66.90% -> 67.57% INT8), for two model calls
            per batch.
        options: backend options, e.g. graph_optimization="all",
            allow_spinning=False (ONNX Runtime: idle threads sleep at once
            instead of spinning on the cores the next model in a pipeline
            needs), performance_hint="THROUGHPUT", cache_dir=...,
            static_batch_one=False (OpenVINO), engine_cache=... (TensorRT).

    Example:
        >>> import edgeaffect
        >>> with edgeaffect.load("fer") as model:                    # doctest: +SKIP
        ...     print(model.predict(face_crops)[0].label)
    """
    if precision != "auto" and precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} must be 'auto' or one of {PRECISIONS}")
    if device not in ("auto", "cpu", "gpu"):
        raise ValueError(f"device={device!r} must be 'auto', 'cpu' or 'gpu'")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads={threads!r} must be None or a positive integer")
    path = Path(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in list_models():
        info, artifacts = _artifacts_of_card(name_or_path)
    elif path.suffix in FORMAT_BY_SUFFIX or path.exists():
        info, artifacts = _artifacts_of_path(path)
    else:
        raise KeyError(f"{name_or_path!r} is neither a registered model ({', '.join(list_models()) or 'none'}) "
                       "nor an existing artifact file")
    request = Request(info.model, artifacts, precision, device, threads, allow_fallback, dict(options))
    chosen = select_backend(backend, request)
    chosen.load(request)
    try:
        return Predictor(info, chosen, mirror=mirror)
    except ValueError:
        chosen.close()
        raise


def deployments(name: str) -> dict[tuple[str, str], list[str]]:
    """Every (backend, precision) pair for registered model `name`, with the
    reasons it cannot run here ([] when it can). Nothing is loaded.

    Example:
        >>> from edgeaffect.runtime.predictor import deployments
        >>> runnable = [pair for pair, reasons in deployments("fer").items() if not reasons]  # doctest: +SKIP
        >>> ("onnxruntime", "int8") in runnable                                   # doctest: +SKIP
        True
    """
    _, artifacts = _artifacts_of_card(name)
    found = {}
    for backend in backend_names():
        for precision in PRECISIONS:
            request = Request(name, artifacts, precision)
            found[(backend, precision)] = create_backend(backend).not_supported_reasons(request)
    return found
