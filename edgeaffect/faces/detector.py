"""Face detectors whose weights come with pip packages.

Measured on the same real faces (benchmarks/bench_face_detector.py: 300
FER2013 val faces at 96 px in 240x180 frames, and 13 face-free real photos;
results in benchmarks/results/face-detector-*.md): BlazeFace found 97.7% of
the faces with no false box on the face-free photos in 2.9 ms per frame;
the Haar cascade found 66.3%, put 8 false boxes on the 13 photos and took
29 ms. So `make_detector("auto")` (the default) uses BlazeFace when
mediapipe is importable and falls back to the Haar cascade otherwise.

- BlazeFaceDetector: MediaPipe's short-range BlazeFace, whose model ships in
  the mediapipe wheels up to 0.10.21 (`pip install "mediapipe<=0.10.21"`;
  those pin numpy < 2). Gives a confidence and eye keypoints, which the
  cropper uses to level the eyes.
- HaarFaceDetector: OpenCV's frontal-face Haar cascade, shipped in
  opencv-python-headless 4.x (`cv2.data.haarcascades`; OpenCV 5 dropped the
  cascade classifier, hence `opencv-python-headless<5` in the `vision`
  extra). Fast on a CPU, no landmarks, frontal faces only.
- YuNetFaceDetector: OpenCV's YuNet (`cv2.FaceDetectorYN`) with an ONNX file
  you supply (face_detection_yunet_*.onnx from the OpenCV model zoo); it
  gives a confidence and eye landmarks, which the cropper uses to level the
  eyes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class FaceBox:
    """A detected face: pixel box (x, y, width, height), detector confidence,
    and optionally the eye centres ((x, y) right eye, (x, y) left eye)."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0
    eyes: Optional[tuple[tuple[float, float], tuple[float, float]]] = None

    def as_list(self) -> list[float]:
        return [round(float(v), 1) for v in (self.x, self.y, self.w, self.h)]


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        raise ImportError("face detection needs OpenCV 4.x: pip install 'opencv-python-headless>=4.8,<5'") from exc
    return cv2


def _grey(cv2, image: np.ndarray) -> np.ndarray:
    if image is None:
        raise ValueError("the frame is None: cv2.imread could not read the file, or the camera returned no frame")
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 images (got {image.dtype}); convert with np.clip(x, 0, 255).astype(np.uint8)")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"a frame has shape {image.shape}; expected (H, W) grey or (H, W, 3) BGR")


class HaarFaceDetector:
    """OpenCV's frontal-face Haar cascade.

    `min_size` is the smallest face in pixels of the frame; `min_neighbors`
    trades recall for false positives (higher: fewer false faces). Frames
    whose longer side exceeds `max_side` are searched at that size (the
    cascade's cost grows with the pixel count; faces that fill a camera frame
    do not need 640 px to be found) and the boxes scaled back. The score is
    the cascade's last-stage weight squashed to (0, 1).

    Example:
        >>> detector = HaarFaceDetector()                           # doctest: +SKIP
        >>> boxes = detector.detect(frame_bgr)                      # doctest: +SKIP
    """

    name = "haar"

    def __init__(self, cascade: Optional[str | Path] = None, scale_factor: float = 1.1, min_neighbors: int = 5,
                 min_size: int = 32, max_side: int = 320):
        cv2 = _cv2()
        if not hasattr(cv2, "CascadeClassifier"):
            raise ImportError(f"OpenCV {cv2.__version__} has no Haar cascades (removed in OpenCV 5): "
                              "pip install 'opencv-python-headless>=4.8,<5', or use YuNetFaceDetector")
        path = Path(cascade) if cascade else Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise FileNotFoundError(f"could not load the Haar cascade {path}")
        self.scale_factor, self.min_neighbors, self.min_size, self.max_side = scale_factor, min_neighbors, min_size, max_side

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        cv2 = _cv2()
        grey = _grey(cv2, image)
        scale = min(1.0, self.max_side / max(grey.shape))
        if scale < 1.0:
            grey = cv2.resize(grey, (round(grey.shape[1] * scale), round(grey.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        min_size = max(12, round(self.min_size * scale))
        boxes, _, weights = self._cascade.detectMultiScale3(
            cv2.equalizeHist(grey), scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(min_size, min_size), outputRejectLevels=True)
        return [FaceBox(x / scale, y / scale, w / scale, h / scale, float(1 / (1 + np.exp(-float(s)))))
                for (x, y, w, h), s in zip(np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
                                           np.ravel(weights) if len(boxes) else [])]


class BlazeFaceDetector:
    """MediaPipe's BlazeFace (short range: faces within ~2 m of the camera).

    Example:
        >>> detector = BlazeFaceDetector()                          # doctest: +SKIP
        >>> boxes = detector.detect(frame_bgr)                      # doctest: +SKIP
    """

    name = "blazeface"

    def __init__(self, min_confidence: float = 0.5, full_range: bool = False):
        try:
            import mediapipe as mp

            solution = mp.solutions.face_detection
        except (ImportError, AttributeError) as exc:
            raise ImportError("BlazeFace needs mediapipe with its bundled models: pip install 'mediapipe<=0.10.21' "
                              f"({exc}); or use the Haar detector (detector='haar')") from exc
        self._detector = solution.FaceDetection(model_selection=1 if full_range else 0,
                                                min_detection_confidence=min_confidence)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        cv2 = _cv2()
        image = np.asarray(image)
        if image.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 images (got {image.dtype})")
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        boxes = []
        for d in self._detector.process(rgb).detections or []:
            r = d.location_data.relative_bounding_box
            k = d.location_data.relative_keypoints  # 0: right eye, 1: left eye (the subject's)
            eyes = ((k[0].x * w, k[0].y * h), (k[1].x * w, k[1].y * h)) if len(k) >= 2 else None
            boxes.append(FaceBox(r.xmin * w, r.ymin * h, r.width * w, r.height * h, float(d.score[0]), eyes))
        return boxes

    def close(self) -> None:
        self._detector.close()


class YuNetFaceDetector:
    """OpenCV's YuNet detector from an ONNX file you supply (with eye landmarks).

    Example:
        >>> detector = YuNetFaceDetector("face_detection_yunet_2023mar.onnx")  # doctest: +SKIP
    """

    name = "yunet"

    def __init__(self, model: str | Path, score_threshold: float = 0.7, nms_threshold: float = 0.3):
        cv2 = _cv2()
        if not Path(model).exists():
            raise FileNotFoundError(f"YuNet model {model} not found; download face_detection_yunet_2023mar.onnx "
                                    "from the OpenCV model zoo")
        self._detector = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score_threshold, nms_threshold)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        cv2 = _cv2()
        image = np.asarray(image)
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        self._detector.setInputSize((image.shape[1], image.shape[0]))
        _, faces = self._detector.detect(image)
        if faces is None:
            return []
        return [FaceBox(*map(float, f[:4]), score=float(f[14]), eyes=((float(f[4]), float(f[5])), (float(f[6]), float(f[7]))))
                for f in faces]


def make_detector(spec: str = "auto"):
    """'auto' (BlazeFace if mediapipe is importable, else Haar), 'blazeface',
    'haar', or a path to a YuNet .onnx file."""
    if spec == "auto":
        try:
            return BlazeFaceDetector()
        except ImportError:
            return HaarFaceDetector()
    if spec == "blazeface":
        return BlazeFaceDetector()
    if spec == "haar":
        return HaarFaceDetector()
    if spec.endswith(".onnx"):
        return YuNetFaceDetector(spec)
    raise ValueError(f"detector {spec!r} is not 'auto', 'blazeface', 'haar' or a YuNet .onnx file")
