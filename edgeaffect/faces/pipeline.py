"""Every face in a frame: detect, crop, classify in one batch, track.

Example:
    >>> import cv2
    >>> from edgeaffect.faces import FacePipeline
    >>> with FacePipeline("fer") as pipeline:                   # doctest: +SKIP
    ...     result = pipeline.process(cv2.imread("people.jpg"))
    ...     for face in result.faces:
    ...         print(face.track_id, face.label, round(face.score, 2), face.box)
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from ..runtime.predictor import load
from .crop import crop_face
from .detector import make_detector
from .tracker import FaceTracker


@dataclass
class FaceResult:
    box: list[float]  # x, y, width, height in pixels
    label: str
    score: float  # probability of the label (smoothed over the track in video mode)
    probabilities: dict[str, float]
    track_id: Optional[int] = None
    detector_score: float = 1.0


@dataclass
class FrameResult:
    faces: list[FaceResult]
    frame: int
    timestamp: Optional[float] = None
    latency_ms: dict[str, float] = field(default_factory=dict)  # detect, classify, total

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


class FacePipeline:
    """Detects faces, classifies them with a FER model, tracks them in video.

    Args:
        model: a registered model ("fer", "fer-minixception") or an artifact path.
        detector: "auto" (BlazeFace if mediapipe is installed, else Haar), "blazeface", "haar", a YuNet .onnx path (see edgeaffect.faces.detector),
            or an object with `detect(frame) -> list[FaceBox]`.
        mode: "image" (every frame independent, no track ids) or "video"
            (tracks with smoothed probabilities).
        margin: extra context around the detector's box (see crop.py).
        alpha: smoothing of the tracks' probabilities (1 = none).
        backend, precision, threads, mirror: as edgeaffect.load (mirror: each face averaged with its
            mirror image: two classifier calls per face for a more accurate label).
    """

    def __init__(self, model: str = "fer", detector="auto", mode: str = "image", margin: float = 0.1,
                 alpha: float = 0.5, backend: str = "auto", precision: str = "auto", threads: Optional[int] = None,
                 mirror: bool = False):
        if mode not in ("image", "video"):
            raise ValueError(f"mode={mode!r} must be 'image' or 'video'")
        self._owns_detector = isinstance(detector, str)
        self.detector = make_detector(detector) if self._owns_detector else detector
        self.predictor = load(model, backend=backend, precision=precision, threads=threads, mirror=mirror)
        if self.predictor.info.task != "classification":
            raise ValueError(f"model {self.predictor.info.model!r} is a {self.predictor.info.task} model, not a face classifier")
        self.size = int(self.predictor.info.preprocessing.kwargs().get("size", 48))
        self.mode, self.margin = mode, margin
        self.tracker = FaceTracker(alpha=alpha) if mode == "video" else None
        self._frame = 0

    def process(self, frame: np.ndarray, timestamp: Optional[float] = None) -> FrameResult:
        """One BGR or grey uint8 frame -> its faces."""
        started = time.perf_counter()
        boxes = self.detector.detect(frame)
        detected = time.perf_counter()
        faces: list[FaceResult] = []
        if boxes:
            crops = np.stack([crop_face(frame, box, self.size, self.margin) for box in boxes])
            probs = self.predictor.predict(crops).probabilities
            tracks = self.tracker.update(boxes, probs) if self.tracker else None
            labels = self.predictor.labels
            for i, box in enumerate(boxes):
                p = tracks[i].probabilities if tracks else probs[i]
                top = int(np.argmax(p))
                faces.append(FaceResult(box.as_list(), labels[top], round(float(p[top]), 4),
                                        {label: round(float(v), 4) for label, v in zip(labels, p)},
                                        tracks[i].track_id if tracks else None, round(box.score, 4)))
        elif self.tracker:
            self.tracker.update([], np.zeros((0, len(self.predictor.labels))))
        done = time.perf_counter()
        result = FrameResult(faces, self._frame, timestamp,
                             {"detect": round((detected - started) * 1e3, 3), "classify": round((done - detected) * 1e3, 3),
                              "total": round((done - started) * 1e3, 3)})
        self._frame += 1
        return result

    def close(self) -> None:
        self.predictor.close()
        if self._owns_detector and hasattr(self.detector, "close"):
            self.detector.close()

    def __enter__(self) -> "FacePipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def draw(frame: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of the frame with each face's box, label and score (and track id)."""
    import cv2

    out = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    for face in result.faces:
        x, y, w, h = (int(round(v)) for v in face.box)
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 200, 255), 2)
        text = f"{'#%d ' % face.track_id if face.track_id else ''}{face.label} {face.score:.2f}"
        cv2.putText(out, text, (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 255), 1, cv2.LINE_AA)
    return out
