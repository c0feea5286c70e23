"""Explanations for every face in a photo, and the evidence overlay.

Example:
    >>> import cv2
    >>> from edgeaffect.explain import load_explainer
    >>> from edgeaffect.explain.faces import explain_image, draw_explanations
    >>> frame = cv2.imread("people.jpg")                                       # doctest: +SKIP
    >>> faces = explain_image(frame, load_explainer())                         # doctest: +SKIP
    >>> cv2.imwrite("explained.png", draw_explanations(frame, faces))          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..faces.crop import crop_face
from ..faces.detector import FaceBox, make_detector
from .decoding import GREEDY, DecodeConfig
from .engine import Explanation, ExplainerEngine
from .vocabulary import REGIONS

MARGIN = 0.1  # the face pipeline's crop margin (edgeaffect.faces.crop)
MIN_DRAWN_SIDE = 240  # pixels: draw_explanations enlarges smaller frames so that its text is legible


@dataclass(frozen=True)
class ExplainedFace:
    box: Optional[list[float]]  # x, y, width, height; None when the whole image is the face crop
    explanation: Explanation
    crop: np.ndarray = field(repr=False, compare=False)  # the 48x48 grey crop that was explained

    def to_dict(self) -> dict:
        return {"box": self.box, **self.explanation.to_dict()}


def explain_image(frame: np.ndarray, engine: ExplainerEngine, detector="auto", whole_image: bool = False,
                  decode: DecodeConfig = GREEDY) -> list[ExplainedFace]:
    """Every detected face of a BGR or grey frame, explained; with whole_image the
    frame is taken as one face crop (as FER2013's images are): its centred square,
    so a non-square frame is cut, never stretched."""
    import cv2

    if frame is None or not isinstance(frame, np.ndarray):
        raise ValueError("frame is not an image array (did cv2.imread or the camera read fail?)")
    grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if whole_image:
        top, left, side = _centred_square(grey.shape[:2])
        square = grey[top:top + side, left:left + side]
        crop = cv2.resize(square, (48, 48), interpolation=cv2.INTER_AREA if side > 48 else cv2.INTER_LINEAR)
        return [ExplainedFace(None, engine.explain_faces(crop[None], decode=decode)[0], crop)]
    det = make_detector(detector) if isinstance(detector, str) else detector
    try:
        boxes: list[FaceBox] = det.detect(frame)
    finally:
        if isinstance(detector, str) and hasattr(det, "close"):
            det.close()
    if not boxes:
        return []
    crops = np.stack([crop_face(frame, box, 48, MARGIN) for box in boxes])
    return [ExplainedFace(box.as_list(), e, crop)
            for box, e, crop in zip(boxes, engine.explain_faces(crops, decode=decode), crops)]


def _centred_square(shape: tuple[int, int]) -> tuple[int, int, int]:
    """(top, left, side) of the largest square centred in an image of (height, width)."""
    height, width = shape
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side


def _wrap(text: str, width_px: float, scale: float) -> list[str]:
    """Lines of text no wider than width_px in OpenCV's Hershey simplex font (at least one word per line)."""
    import cv2

    lines: list[str] = []
    for word in text.split():
        trial = f"{lines[-1]} {word}" if lines else word
        if lines and cv2.getTextSize(trial, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] <= width_px:
            lines[-1] = trial
        else:
            lines.append(word)
    return lines


def _sentence_layout(text: str, x: int, below: int, side: float, width: int, height: int,
                     scale: float) -> tuple[int, list[tuple[str, int]]]:
    """(left, [(line, baseline y)]): the sentence wrapped under the face, every line inside the frame and
    none on another; lines that do not fit are cut, the last one ending in '...'."""
    step = max(8, int(22 * scale / 0.5))
    left = max(0, x)
    if width - left - 4 < min(side, width - 8):  # a face near the right edge: start the text further left
        left = 4
    lines = _wrap(text, max(1, width - left - 4), scale)
    fit = max(1, (height - 4) // step)
    if len(lines) > fit:
        lines = lines[:fit]
        lines[-1] += " ..."
    first = max(step, min(below + 14, height - 4 - step * (len(lines) - 1)))
    return left, [(line, first + i * step) for i, line in enumerate(lines)]


def draw_explanations(frame: np.ndarray, faces: list[ExplainedFace]) -> np.ndarray:
    """A copy of the frame with each face's regions shaded by their evidence
    weight (the named ones outlined), and its emotion; the sentence is printed
    under the face. A frame under MIN_DRAWN_SIDE pixels (a 48x48 crop) is
    enlarged by pixel replication first, so that the text is legible.

    Example:
        >>> cv2.imwrite("overlay.png", draw_explanations(frame, explain_image(frame, engine)))  # doctest: +SKIP
    """
    import cv2

    out = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    zoom = max(1, -(-MIN_DRAWN_SIDE // min(out.shape[:2])))  # ceiling division
    if zoom > 1:
        out = cv2.resize(out, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
    height, width = out.shape[:2]
    for face in faces:
        if face.box is None:
            top, left, whole = _centred_square((height, width))
            x0, y0, side = float(left), float(top), float(whole)
        else:
            x, y, w, h = (zoom * v for v in face.box)
            side = (1 + MARGIN) * max(w, h)
            x0, y0 = x + w / 2 - side / 2, y + h / 2 - side / 2
        overlay = out.copy()
        for region in REGIONS:
            weight = face.explanation.region_weights.get(region.name, 0.0)
            top, bottom, left, right = (int(round(v)) for v in
                                        (y0 + region.rows[0] * side, y0 + region.rows[1] * side,
                                         x0 + region.cols[0] * side, x0 + region.cols[1] * side))
            if weight > 0:
                cv2.rectangle(overlay, (left, top), (right, bottom), (0, 0, int(255 * min(1.0, weight * 1.5))), -1)
            if region.name in face.explanation.regions:
                cv2.rectangle(out, (left, top), (right, bottom), (0, 200, 255), 1)
        out = cv2.addWeighted(overlay, 0.45, out, 0.55, 0)
        label = f"{face.explanation.emotion} {face.explanation.score:.2f}"
        cv2.putText(out, label, (int(x0), max(12, int(y0) - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 255), 1,
                    cv2.LINE_AA)
        scale = max(0.3, min(0.5, side / 600))
        left, placed = _sentence_layout(face.explanation.text, int(x0), int(y0 + side), side, width, height, scale)
        for line, y in placed:
            cv2.putText(out, line, (left, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out
