"""Per-face tracks across video frames, with smoothed probabilities.

Greedy IoU matching of this frame's boxes to the live tracks (highest IoU
first, at least `min_iou`); unmatched boxes start tracks; a track unseen in
more than `max_missed` consecutive frames ends. Each track keeps an exponential moving average of
the class probabilities: p <- (1 - alpha) * p + alpha * p_frame, so a label
does not flicker on one noisy frame (alpha 0.5 settles within ~3 frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .detector import FaceBox


def iou(a: FaceBox, b: FaceBox) -> float:
    x1, y1 = max(a.x, b.x), max(a.y, b.y)
    x2, y2 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    track_id: int
    box: FaceBox
    probabilities: np.ndarray
    missed: int = 0
    age: int = 1


class FaceTracker:
    """Assigns track ids and smooths probabilities.

    Example:
        >>> import numpy as np
        >>> from edgeaffect.faces.detector import FaceBox
        >>> tracker = FaceTracker()
        >>> tracks = tracker.update([FaceBox(0, 0, 10, 10)], np.array([[0.2, 0.8]]))
        >>> tracks[0].track_id, tracks[0].probabilities.tolist()
        (1, [0.2, 0.8])
    """

    def __init__(self, alpha: float = 0.5, min_iou: float = 0.3, max_missed: int = 10):
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha={alpha} must be in (0, 1]; 1 turns smoothing off")
        self.alpha, self.min_iou, self.max_missed = alpha, min_iou, max_missed
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, boxes: list[FaceBox], probabilities: np.ndarray) -> list[Track]:
        """This frame's boxes and their (n, classes) probabilities -> their tracks, in box order."""
        pairs = sorted(((iou(t.box, b), ti, bi) for ti, t in enumerate(self.tracks) for bi, b in enumerate(boxes)),
                       reverse=True)
        matched_tracks, assignment = set(), {}
        for overlap, ti, bi in pairs:
            if overlap < self.min_iou:
                break
            if ti in matched_tracks or bi in assignment:
                continue
            matched_tracks.add(ti)
            assignment[bi] = self.tracks[ti]
        for ti, track in enumerate(self.tracks):
            if ti not in matched_tracks:
                track.missed += 1
        result = []
        for bi, box in enumerate(boxes):
            p = np.asarray(probabilities[bi], dtype=np.float64)
            track = assignment.get(bi)
            if track is None:
                track = Track(self._next_id, box, p.copy())
                self._next_id += 1
                self.tracks.append(track)
            else:
                track.box, track.missed, track.age = box, 0, track.age + 1
                track.probabilities = (1 - self.alpha) * track.probabilities + self.alpha * p
            result.append(track)
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return result
