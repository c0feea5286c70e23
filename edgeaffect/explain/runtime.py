"""The explainer at run time: ONNX Runtime or OpenVINO, numpy, no torch.

Example:
    >>> from edgeaffect.explain import load_explainer
    >>> explainer = load_explainer()                          # doctest: +SKIP
    >>> [e.to_dict() for e in explainer.explain_faces(faces)]  # doctest: +SKIP
    [{'emotion': 'happy', 'text': 'Happy: most of the evidence is in the raised corners of the mouth.', 'regions': ['mouth'], ...}]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..fer import LABELS as FER_LABELS
from .config import ExplainerConfig
from .engine import EVIDENCE_SOURCES, ExplainerEngine
from .rationale import NO_SHIFT
from .tokenizer import BPETokenizer

BACKENDS = ("onnxruntime", "openvino")
VIEWS = ("aligned", "single")
# The decoder files per (backend, precision). OpenVINO's INT8 decoder is its own: weight-only INT8 (see
# edgeaffect.explain.export.export_openvino_int8_decoder); it runs ONNX Runtime's INT8 graph 1.7x slower than fp32.
OPENVINO_INT8_DECODER = "openvino-int8/explain-decoder.xml"
DECODER_FILES = {("onnxruntime", "fp32"): "explain-decoder.onnx", ("onnxruntime", "int8"): "explain-decoder-int8.onnx",
                 ("openvino", "fp32"): "explain-decoder.onnx", ("openvino", "int8"): OPENVINO_INT8_DECODER}


def default_folder() -> Path:
    from ..models.registry import ARTIFACT_DIR

    return ARTIFACT_DIR / "explain"


def _ort_session(path: Path, threads: Optional[int]):
    import onnxruntime as ort

    from ..backends.ort_options import cpu_session_options

    options = cpu_session_options(threads)
    # Idle pool threads would spin between calls and steal the core the next session (decoder after vision,
    # 20 times per face) needs; measured in benchmarks/bench_explain.py.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _ort_function(path: Path, threads: Optional[int]) -> Callable:
    session = _ort_session(path, threads)
    names = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]

    def run(*arrays):
        return dict(zip(outputs, session.run(None, dict(zip(names, arrays)))))

    return run


def _openvino_function(path: Path, threads: Optional[int]) -> Callable:
    import openvino as ov

    from ..backends.openvino_backend import reshaped_to_batch_one

    core = ov.Core()
    # f32 as the graphs are (the INT8 decoder's weights are INT8, its activations f32): without the hint OpenVINO
    # runs bf16 on CPUs with AVX-512-BF16 or AMX, which named other regions than ONNX Runtime on some val faces
    config = {"INFERENCE_PRECISION_HINT": "f32", **({"INFERENCE_NUM_THREADS": threads} if threads else {})}
    model = core.read_model(str(path))
    compiled = core.compile_model(model, "CPU", config)
    outputs = [o.get_any_name() for o in compiled.outputs]
    request = compiled.create_infer_request()
    # One face at a time is a common call: a copy compiled for batch 1 (the vision graph; the decoder's past
    # length is dynamic, so it has none; see edgeaffect/backends/openvino_backend.py). Compiled at the first such
    # call: measured evidence sends at least 5 images per face and predicted evidence with views="aligned" 9, so
    # only evidence="predicted", views="single" calls the vision graph with one face.
    one = reshaped_to_batch_one(model.clone())
    batch_one = {}

    def run(*arrays):
        chosen, which = request, compiled
        if one is not None and len(arrays) == 1 and len(arrays[0]) == 1:
            if not batch_one:
                batch_one["compiled"] = core.compile_model(one, "CPU", config)
                batch_one["request"] = batch_one["compiled"].create_infer_request()
            chosen, which = batch_one["request"], batch_one["compiled"]
        result = chosen.infer(list(arrays))
        return {name: np.array(result[which.outputs[i]]) for i, name in enumerate(outputs)}

    return run


EMOTION_SOURCES = ("auto", "fer", "explainer")
EVIDENCE_CHOICES = ("auto",) + EVIDENCE_SOURCES


def fer_emotion_classifier(emotions, backend: str = "auto", threads: Optional[int] = 1) -> Callable[[np.ndarray], np.ndarray]:
    """The shipped `fer` model as a function of uint8 (N, 48, 48) faces -> (N, C) probabilities in the
    order of `emotions` (which must be fer's seven labels, in any order). backend "auto" (default) loads
    it as `edgeaffect.load("fer")` does, so an app running both gets the same emotion from each; the
    function's `ran` attribute says which backend and precision (e.g. "native fp32").

    One thread by default: a face costs about 0.5 ms, and the native engine's OpenMP threads beside the
    explainer's ONNX Runtime threads turned a 13 ms explanation into 186 ms when two other processes kept
    both cores busy (2-core EPYC; 13.6 ms with one thread).

    Example:
        >>> classify = fer_emotion_classifier(("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"))  # doctest: +SKIP
        >>> classify(faces).argmax(axis=1), classify.ran                                                   # doctest: +SKIP
    """
    import edgeaffect

    # its ONNX Runtime threads must not spin after each call: the explainer's own graphs run right after
    # (other backends ignore the option)
    predictor = edgeaffect.load("fer", backend=backend, threads=threads, allow_spinning=False)
    if sorted(emotions) != sorted(predictor.labels):
        raise ValueError(f"emotions_from='fer': this explainer names {list(emotions)}, the fer model "
                         f"{list(predictor.labels)}; use emotions_from='explainer' (its own emotion head)")
    columns = [predictor.labels.index(e) for e in emotions]

    def classify(faces: np.ndarray) -> np.ndarray:
        return predictor.predict(faces).probabilities[:, columns]

    classify.ran = f"{predictor.backend_name} {predictor.precision}"
    return classify


def load_explainer(folder: Optional[str | Path] = None, backend: str = "onnxruntime", precision: str = "fp32",
                   threads: Optional[int] = None, decoder_threads: Optional[int] = 1,
                   emotions_from: str = "auto", evidence: str = "auto",
                   views: Optional[str | Sequence[Sequence[int]]] = None) -> ExplainerEngine:
    """The explainer in `folder` (default: the shipped `explain` model).

    backend: onnxruntime or openvino; precision: fp32, or int8 (the decoder's
    MatMul weights in INT8, where the build kept them: explain-decoder-int8.onnx
    for ONNX Runtime, openvino-int8/explain-decoder.xml for OpenVINO).
    threads: the vision graph's threads (default: the backend's choice); the `fer`
    model that names the emotion runs on one thread (fer_emotion_classifier says why).
    decoder_threads: 1 by default: a token step is ~190 tiny operators, and
    at batch 1 a second thread costs more in synchronisation than it saves
    (ONNX Runtime here: 0.52 ms per step on one thread, 2.1 ms on two).
    Give None (the backend's choice) or more for large batches.
    emotions_from: which classifier names the emotion that the sentence explains.
    "fer": the shipped `fer` model, loaded as `edgeaffect.load("fer")` loads it
    (native fp32 on x86 CPUs; `engine.emotion_model` says what ran), so an
    app that runs both sees one emotion per face, and the explainer's
    accuracy is fer's (67.0% vs 62.6% on FER2013 val; faithfulness 0.934 vs
    0.935 with measured evidence, 0.866 vs 0.867 with predicted: the evidence
    is then for an emotion its own backbone did not pick on about a quarter
    of the faces; the card has the numbers).
    "explainer": its own emotion head (the rationale teacher's classifier).
    "auto" (default): "fer" for the shipped explainer, "explainer" for one
    given by `folder` (trained on other data or another teacher).
    evidence: where the region evidence behind the sentence comes from.
    "measured": the face and one copy per region with that region hidden go
    through the vision graph in one batch (5 passes), and the evidence is how
    much hiding each region lowers the emotion head's log-probability: the
    rationale teacher's own measurement, on the face alone instead of its
    9 alignment shifts (the shipped explainer's emotion head is the
    teacher's classifier, so this is the teacher's plain occlusion).
    "predicted": the distilled evidence head's output, one pass per view.
    "auto" (default): config.json's default_evidence: "measured" where the
    export found the vision graph's emotion head to be the rationale
    teacher's classifier (the shipped explainer: a frozen teacher backbone),
    else "predicted" (measuring another classifier is not the teacher).
    On FER2013 val (the card): faithfulness 0.934 measured vs 0.866
    predicted (9 views) and 0.854 predicted from the face alone; 9.2, 11.8
    and 6.0 ms per face for a 20-token sentence (ONNX Runtime fp32, 2 EPYC
    cores, benchmarks/bench_explain.py).
    views: which copies of each face the evidence is read from, averaged.
    "single": the face alone; "aligned": the face and the shifted copies its
    rationale teacher averages over (config.json's rationale_shifts: for the
    shipped explainer the face and its shifts by one and two pixels along
    each axis, 9 views in one batched vision call); or explicit (dy, dx)
    shifts, (0, 0) among them. None (default): "single" for measured
    evidence (aligned would be the teacher itself, 45 passes), "aligned"
    for predicted (0.866 vs 0.854 for the face alone, about twice the time).
    """
    if isinstance(views, str) and views not in VIEWS:
        raise ValueError(f"views={views!r} must be one of {VIEWS} or a sequence of (dy, dx) shifts")
    if evidence not in EVIDENCE_CHOICES:
        raise ValueError(f"evidence={evidence!r} must be one of {EVIDENCE_CHOICES}")
    if emotions_from not in EMOTION_SOURCES:
        raise ValueError(f"emotions_from={emotions_from!r} must be one of {EMOTION_SOURCES}")
    shipped = folder is None or Path(folder).resolve() == default_folder().resolve()
    folder = Path(folder) if folder else default_folder()
    config_path = folder / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{config_path} is missing: {folder} is not an exported explainer (build one with "
                                "`python export/build_explain.py`, or reinstall edgeaffect for the shipped one)")
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not one of {BACKENDS}")
    decoder_file = DECODER_FILES.get((backend, precision))
    if decoder_file is None or not (folder / decoder_file).exists():
        available = [p for (b, p), name in DECODER_FILES.items() if b == backend and (folder / name).exists()]
        raise FileNotFoundError(f"no {precision} decoder for {backend} in {folder}; available: {', '.join(available)}"
                                " (export/build_explain.py writes the INT8 decoders where they keep quality)")
    meta = json.loads(config_path.read_text())
    cfg = ExplainerConfig.from_dict(meta["model"])
    tokenizer = BPETokenizer.load(folder / "tokenizer.json")
    with np.load(folder / "explain-text.npz") as data:
        params = {k: data[k] for k in data.files}
    make = _ort_function if backend == "onnxruntime" else _openvino_function
    vision_run = make(folder / "explain-vision.onnx", threads)
    decoder_run = make(folder / decoder_file, decoder_threads)

    def vision(x: np.ndarray) -> dict:
        return vision_run(np.ascontiguousarray(x, dtype=np.float32))

    def empty_past(batch: int) -> np.ndarray:
        return np.zeros((cfg.layers, 2, batch, cfg.heads, 0, cfg.d // cfg.heads), dtype=np.float32)

    def step(embeds: np.ndarray, past):
        embeds = np.ascontiguousarray(embeds, dtype=np.float32)
        out = decoder_run(embeds, empty_past(len(embeds)) if past is None else np.ascontiguousarray(past))
        return out["logits"], out["present"]

    def hidden(embeds: np.ndarray) -> np.ndarray:
        embeds = np.ascontiguousarray(embeds, dtype=np.float32)
        return decoder_run(embeds, empty_past(len(embeds)))["hidden"]

    classifier = None
    if emotions_from == "fer" or (emotions_from == "auto" and shipped and sorted(cfg.emotions) == sorted(FER_LABELS)):
        classifier = fer_emotion_classifier(cfg.emotions)
    if evidence == "auto":  # measured where the export checked that the emotion head is the teacher's classifier
        evidence = meta.get("default_evidence", "predicted")
        if evidence not in EVIDENCE_SOURCES:
            raise ValueError(f"{config_path}: default_evidence {evidence!r} must be one of {EVIDENCE_SOURCES}")
    if views is None:
        views = "single" if evidence == "measured" else "aligned"
    view_shifts = {"aligned": cfg.rationale_shifts, "single": NO_SHIFT}.get(views, views) if isinstance(views, str) \
        else views
    engine = ExplainerEngine(cfg, tokenizer, params, vision, step, hidden, emotion_classifier=classifier,
                             view_shifts=view_shifts, evidence_source=evidence)
    engine.emotions_from = "fer" if classifier is not None else "explainer"
    # what names the emotion, as it ran: "fer (native fp32)" or "explainer"
    engine.emotion_model = f"fer ({classifier.ran})" if classifier is not None else "explainer"
    engine.backend, engine.precision, engine.folder = backend, precision, folder
    return engine


def load_rationale_teacher(folder: Optional[str | Path] = None, threads: Optional[int] = None):
    """The classifier the rationale teacher occludes (rationale-teacher.onnx), as a
    function of faces in [0, 1] (N, 1, 48, 48) -> logits; None when the folder has none."""
    folder = Path(folder) if folder else default_folder()
    path = folder / "rationale-teacher.onnx"
    return onnx_face_classifier(path, threads) if path.exists() else None


def onnx_face_classifier(path: Path, threads: Optional[int] = None) -> Callable[[np.ndarray], np.ndarray]:
    """A FER classifier ONNX file (normalised faces -> logits) as a function of faces in [0, 1]."""
    session = _ort_session(path, threads)
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: ((x - 0.5) / 0.25).astype(np.float32)})[0]
