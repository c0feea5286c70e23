"""The rationale teacher: occlusion of a face classifier over facial regions,
phrased with the fixed FACS cue vocabulary (edgeaffect.explain.vocabulary).

For a face x and each region r, x_r is x with r filled by x's mean grey
level. The evidence of r for emotion c is how much hiding r lowers the
classifier's log-probability of c:

    evidence[c, r] = log p(c | x) - log p(c | x_r)

(positive: the region supports c). One pass over the face and one per region
give the evidence for every emotion at once.

Alignment averaging (`shifts`): the evidence is averaged over copies of the
face translated by a pixel or so, because plain occlusion depends on where
the region boxes fall on the face to the pixel. Measured on FER2013 val with
the shipped teacher (session 19): translated by one pixel vertically, the
teacher's own sentence was faithful to its unshifted evidence on only 82-83%
of faces (91-92% horizontally; export/probe_rationale_stability.py). A crop
from a face detector is not aligned to the pixel either, so evidence that
moves with a one-pixel shift is alignment noise, not facial evidence.
ALIGNMENT_SHIFTS (the face and its shifts by one and by two pixels along each
axis: 9 views, 45 passes per face) is what the shipped explainer's teacher
uses; its config.json records it as `rationale_shifts`. Measured the same
way, that teacher's sentence one pixel lower is faithful to it on 90.8% of
val faces (the session-19 teacher of the face and its four one-pixel
neighbours: 89.8%; plain occlusion: 83.0%), and its sentences name plain
occlusion's top regions on 93.7% of them.

The sentence names the strongest region, and the runner-up when it carries at least half as much
(`vocabulary.ranked_regions`); its words are fixed by (emotion, regions), so
the text is a deterministic function of the evidence (`render_rationale`).

Example (with the shipped teacher, see edgeaffect.explain.runtime):
    >>> import numpy as np
    >>> from edgeaffect.explain.rationale import occlusion_evidence, render_rationale
    >>> faces = np.full((1, 48, 48), 128, np.uint8)
    >>> ev = occlusion_evidence(lambda x: np.zeros((len(x), 7), np.float32), faces)
    >>> ev.shape
    (1, 7, 4)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .vocabulary import REGION_NAMES, REGIONS, ranked_regions, render

Classifier = Callable[[np.ndarray], np.ndarray]  # float32 (N, 1, S, S) in [0, 1] -> logits (N, C)

NO_SHIFT: tuple[tuple[int, int], ...] = ((0, 0),)
ALIGNMENT_SHIFTS: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0),  # (dy, dx) pixels
                                                  (0, 2), (0, -2), (2, 0), (-2, 0))


def shift_faces(faces: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """(N, S, S) faces translated by (dy, dx) pixels (down, right), the uncovered border repeated from the edge.

    Example:
        >>> shift_faces(np.arange(9, dtype=np.uint8).reshape(1, 3, 3), 0, 1)[0].tolist()
        [[0, 0, 1], [3, 3, 4], [6, 6, 7]]
    """
    if dy == 0 and dx == 0:
        return faces
    size_y, size_x = faces.shape[1:]
    if abs(dy) >= size_y or abs(dx) >= size_x:
        raise ValueError(f"a shift of ({dy}, {dx}) pixels leaves nothing of a {size_y}x{size_x} face")
    py, px = abs(dy), abs(dx)
    padded = np.pad(faces, ((0, 0), (py, py), (px, px)), mode="edge")
    return np.ascontiguousarray(padded[:, py - dy:py - dy + size_y, px - dx:px - dx + size_x])


def occlude(faces: np.ndarray) -> np.ndarray:
    """(N, S, S) uint8 -> (R + 1, N, S, S) uint8: the faces, then each region hidden by the face's mean grey."""
    if faces.ndim != 3 or faces.shape[1] != faces.shape[2]:
        raise ValueError(f"faces must be (N, S, S) square grey crops, got shape {faces.shape}")
    size = faces.shape[1]
    fill = faces.reshape(len(faces), -1).mean(axis=1).round().astype(faces.dtype)
    out = np.repeat(faces[None], len(REGIONS) + 1, axis=0)
    for i, region in enumerate(REGIONS, start=1):
        top, bottom, left, right = region.box(size)
        out[i, :, top:bottom, left:right] = fill[:, None, None]
    return out


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """float64 log-probabilities of (..., C) logits."""
    z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def occlusion_evidence(classifier: Classifier, faces: np.ndarray, batch_size: int = 512, progress: bool = False,
                       shifts: Sequence[Sequence[int]] = NO_SHIFT) -> np.ndarray:
    """(N, C, R) float32 evidence of every region for every emotion.

    `classifier` maps float32 (n, 1, S, S) faces scaled to [0, 1] to logits;
    `faces` are uint8 (N, S, S) grey crops. `shifts`: (dy, dx) translations
    of the face whose evidence is averaged (NO_SHIFT: plain occlusion;
    ALIGNMENT_SHIFTS: the shipped explainer's teacher); each costs R + 1 passes.
    """
    faces = np.asarray(faces)
    shifts = [tuple(int(v) for v in s) for s in shifts]
    if not shifts or any(len(s) != 2 for s in shifts):
        raise ValueError(f"shifts must be one or more (dy, dx) pairs, got {shifts}")
    starts = range(0, len(faces), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="rationale teacher (occlusion)", unit="batch")
    chunks = []
    for start in starts:
        total = 0.0
        for dy, dx in shifts:
            block = occlude(shift_faces(faces[start:start + batch_size], dy, dx))  # (R + 1, n, S, S)
            r1, n = block.shape[:2]
            x = block.reshape(r1 * n, 1, *block.shape[2:]).astype(np.float32) / 255.0
            logp = log_softmax(np.asarray(classifier(x))).reshape(r1, n, -1)
            total = total + (logp[0][:, :, None] - logp[1:].transpose(1, 2, 0))
        chunks.append((total / len(shifts)).astype(np.float32))
    return np.concatenate(chunks)


@dataclass(frozen=True)
class Rationale:
    """The teacher's explanation of one emotion on one face."""

    emotion: str
    regions: tuple[int, ...]  # indices into REGIONS, strongest first
    evidence: tuple[float, ...]  # per region, log-probability drop when hidden
    text: str

    @property
    def region_names(self) -> list[str]:
        return [REGION_NAMES[r] for r in self.regions]

    def weights(self) -> dict[str, float]:
        """Each region's share of the positive evidence (zeros when none is positive)."""
        return evidence_weights(np.asarray(self.evidence))


def evidence_weights(evidence: np.ndarray) -> dict[str, float]:
    positive = np.maximum(np.asarray(evidence, dtype=np.float64), 0.0)
    total = positive.sum()
    shares = positive / total if total > 0 else positive
    return {name: round(float(w), 4) for name, w in zip(REGION_NAMES, shares)}


def render_rationale(emotion: str, evidence: np.ndarray) -> Rationale:
    """The sentence for one emotion's evidence row (R,): a pure function of it."""
    evidence = np.asarray(evidence, dtype=np.float32)
    if evidence.shape != (len(REGIONS),):
        raise ValueError(f"evidence must hold one value per region ({len(REGIONS)}), got shape {evidence.shape}")
    regions = tuple(ranked_regions(evidence))
    return Rationale(emotion, regions, tuple(float(v) for v in evidence), render(emotion, regions))


def rule_faithfulness(evidence: np.ndarray, teacher_evidence: np.ndarray, emotions: Sequence[int]) -> float:
    """Faithfulness (edgeaffect.explain.metrics) of the sentences the rule would say from `evidence` against
    `teacher_evidence`, both (N, C, R), for emotion emotions[i] on face i: how far an evidence estimate (a
    student's head, or the teacher on a shifted face) gets before any decoding.

    Example:
        >>> ev = np.array([[[0.1, 0.9, 0.0, 0.0]], [[0.5, 0.4, 0.0, 0.0]]])
        >>> rule_faithfulness(ev, ev[:, :, [1, 0, 2, 3]], [0, 0])
        0.5
    """
    from .metrics import faithfulness

    rows = np.arange(len(emotions))
    emotions = np.asarray(emotions)
    return faithfulness([ranked_regions(r) for r in np.asarray(evidence)[rows, emotions]],
                        np.asarray(teacher_evidence)[rows, emotions])


def rationales(labels: Sequence[str], evidence: np.ndarray, emotions: Sequence[int]) -> list[Rationale]:
    """The teacher's rationale of emotion index emotions[i] on face i, for evidence (N, C, R)."""
    return [render_rationale(labels[c], evidence[i, c]) for i, c in enumerate(emotions)]
