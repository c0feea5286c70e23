"""One explainer, two executors: the numpy side (prompt, VAD fusion, evidence
token, generation, parsing the regions back) shared by the torch model and
the exported ONNX graphs.

An executor gives two functions:

    vision(x (N, 1, 48, 48) float32) -> {"logits" (N, C), "vad" (N, 3), "prefix" (N, T, d),
                                         "image_embedding" (N, e), ["evidence" (N, C, R)]}
    step(embeds (B, T, d), past or None) -> (logits (B, T, V), present)

and the small matrices the numpy side applies (`params`): token_embed (V, d),
vad_fuse_weight (d, d + 3) / _bias, evidence_proj_weight (d, R) / _bias.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from .decoding import GREEDY, DecodeConfig, beam_search, greedy
from .config import ExplainerConfig
from .rationale import NO_SHIFT, evidence_weights, log_softmax, occlude, shift_faces
from .tokenizer import BPETokenizer, BOS
from .vocabulary import REGION_NAMES, named_regions, prompt, vad_of

PIXEL_MEAN, PIXEL_STD = 0.5, 0.25  # the FER backbone's input: (x / 255 - mean) / std
# Vision outputs that ExplainerEngine.look averages over shifted views of a face: the region evidence (what the
# sentence follows; averaging the prefix tokens as well changed no score on FER2013 val).
AVERAGED_OVER_VIEWS = ("evidence",)
# Where the region evidence comes from (ExplainerEngine's evidence_source): "predicted", the evidence head's output
# (one pass per view); "measured", the occlusion evidence of the explainer's own emotion head, measured as the
# rationale teacher measures it (R + 1 passes per view, one batch).
EVIDENCE_SOURCES = ("predicted", "measured")
MEASURE_BATCH = 2560  # images per vision call at most when measuring (the teacher's chunk: 512 faces x 5 passes)


@dataclass(frozen=True)
class Explanation:
    """One face's answer: the emotion, the sentence, and the evidence behind it.

    Example:
        >>> e = Explanation("happy", 0.9, {"happy": 0.9}, "Happy: most of the evidence is in the lifted cheeks.",
        ...                 ["nose_cheeks"], {"brows": 0.0, "eyes": 0.1, "nose_cheeks": 0.9, "mouth": 0.0},
        ...                 (0.9, 0.7, 0.7))
        >>> e.to_dict()["regions"]
        ['nose_cheeks']
    """

    emotion: str
    score: float
    probabilities: dict[str, float]
    text: str
    regions: list[str]  # the regions the sentence names, strongest first
    region_weights: dict[str, float]  # each region's share of the positive evidence (empty without regions)
    vad: tuple[float, float, float]  # predicted valence, arousal, dominance in [0, 1]
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"emotion": self.emotion, "score": round(self.score, 4), "text": self.text, "regions": self.regions,
                "region_weights": self.region_weights, "vad": [round(v, 4) for v in self.vad],
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}, **self.extra}


def normalize_faces(faces: np.ndarray) -> np.ndarray:
    """uint8 (N, 48, 48) grey faces -> the backbone's float32 (N, 1, 48, 48) input."""
    faces = np.asarray(faces)
    if faces.ndim != 3:
        raise ValueError(f"faces must be (N, H, W) grey crops, got shape {faces.shape}")
    if faces.dtype != np.uint8:
        raise ValueError(f"faces must be uint8 grey levels 0-255 (as the face pipeline's crops), got dtype {faces.dtype}")
    if faces.shape[1:] != (48, 48):
        raise ValueError(f"faces must be 48x48 crops (edgeaffect.faces.crop_face makes them), got {faces.shape[1:]}")
    return ((faces.astype(np.float32) / 255.0 - PIXEL_MEAN) / PIXEL_STD)[:, None]


def check_view_shifts(shifts: Sequence[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    """(dy, dx) pixel shifts of the face for ExplainerEngine.look: the unshifted face among them, no repeats."""
    if any(len(s) != 2 or any(int(v) != v for v in s) for s in shifts):
        raise ValueError(f"view_shifts must be (dy, dx) pairs of whole pixels; got {shifts}")
    out = tuple(tuple(int(v) for v in s) for s in shifts)
    if (0, 0) not in out or len(set(out)) != len(out):
        raise ValueError(f"view_shifts must be distinct (dy, dx) pairs including (0, 0), the face itself; got {shifts}")
    if any(abs(v) >= 24 for s in out for v in s):
        raise ValueError(f"view_shifts of {shifts} pixels would move most of a 48x48 face out of the crop")
    return out


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


class ExplainerEngine:
    def __init__(self, spec: ExplainerConfig, tokenizer: BPETokenizer, params: dict[str, np.ndarray],
                 vision: Callable[[np.ndarray], dict], step: Callable,
                 hidden: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                 emotion_classifier: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                 view_shifts: Sequence[Sequence[int]] = NO_SHIFT, evidence_source: str = "predicted"):
        self.spec, self.tokenizer, self.params = spec, tokenizer, params
        self.view_shifts = check_view_shifts(view_shifts)
        if evidence_source not in EVIDENCE_SOURCES:
            raise ValueError(f"evidence_source={evidence_source!r} must be one of {EVIDENCE_SOURCES}")
        if evidence_source == "measured" and not spec.regions:
            raise ValueError("measured evidence needs an explainer with region evidence (config regions > 0); "
                             "this one was trained without regions: use load_explainer(evidence=\"predicted\") "
                             "or --evidence predicted")
        self.evidence_source = evidence_source
        self.vision, self.step, self.hidden = vision, step, hidden
        # uint8 (N, 48, 48) faces -> (N, C) probabilities over spec.emotions: the classifier that names the
        # emotion (runtime.load_explainer's emotions_from); None: the explainer's own emotion head
        self.emotion_classifier = emotion_classifier
        self.vad_table = vad_of(spec.emotions, spec.extra_vad)

    def look(self, faces: np.ndarray) -> dict:
        """The vision outputs for uint8 (N, 48, 48) faces. Measured evidence (evidence_source): see measure().
        Predicted: with view_shifts beyond the face itself, the faces and their shifted copies go through the
        vision graph in one batch, and the outputs in AVERAGED_OVER_VIEWS are averaged over the views, the way
        the rationale teacher averages its occlusion over alignment shifts; the rest (the emotion head's logits,
        VAD, image embedding) are the unshifted face's."""
        faces = np.asarray(faces)
        if self.evidence_source == "measured":
            return self.measure(faces)
        x = normalize_faces(faces)
        if len(self.view_shifts) == 1 or not len(x):
            return self.vision(x)
        views = np.concatenate([x] + [normalize_faces(shift_faces(faces, dy, dx))
                                      for dy, dx in self.view_shifts if (dy, dx) != (0, 0)])
        out = self.vision(views)
        n, v = len(x), len(self.view_shifts)
        return {k: (a.reshape(v, n, *a.shape[1:]).mean(axis=0, dtype=np.float64).astype(a.dtype)
                    if k in AVERAGED_OVER_VIEWS else a[:n]) for k, a in out.items()}

    def measure(self, faces: np.ndarray) -> dict:
        """The vision outputs with measured evidence: each view of the faces and its copies with one region
        hidden (rationale.occlude) go through the vision graph in one batch, and evidence[c, r] is how much hiding
        r lowers the emotion head's log-probability of c, averaged over the views: the rationale teacher's
        measurement (rationale.occlusion_evidence) when the emotion head is its classifier, as in the shipped
        explainer. The other outputs are the unshifted, unoccluded faces'."""
        faces = np.asarray(faces)
        x = normalize_faces(faces)  # its checks first
        if not len(x):
            return self.vision(x)
        per_face = len(self.view_shifts) * (self.spec.regions + 1)
        step = max(1, MEASURE_BATCH // per_face)
        if len(faces) > step:  # bounded vision batches: 256 faces x 9 views x 5 passes would be 11,520 images
            parts = [self.measure(faces[i:i + step]) for i in range(0, len(faces), step)]
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        n, shifts = len(faces), sorted(self.view_shifts, key=lambda s: s != (0, 0))  # the face itself first
        blocks = [occlude(shift_faces(faces, dy, dx)) for dy, dx in shifts]  # each (R + 1, N, S, S)
        if len(blocks[0]) != self.spec.regions + 1:
            raise ValueError(f"this explainer has {self.spec.regions} regions, the region boxes {len(blocks[0]) - 1}")
        out = self.vision(np.concatenate([normalize_faces(b.reshape(-1, *b.shape[2:])) for b in blocks]))
        logp = log_softmax(out["logits"]).reshape(len(shifts), self.spec.regions + 1, n, -1)  # (V, R + 1, N, C)
        evidence = (logp[:, :1] - logp[:, 1:]).mean(axis=0).transpose(1, 2, 0)  # (N, C, R)
        result = {k: a[:n] for k, a in out.items()}  # view 0 (unshifted), copy 0 (nothing hidden)
        result["evidence"] = evidence.astype(np.float32)
        return result

    def emotion_probabilities(self, faces: np.ndarray, vision_out: dict) -> np.ndarray:
        """(N, C) float64: the emotion classifier's probabilities, or the explainer's own head's."""
        if self.emotion_classifier is not None:
            return np.asarray(self.emotion_classifier(faces), dtype=np.float64)
        return _softmax(vision_out["logits"].astype(np.float64))

    # --- the numpy side ----------------------------------------------------------------------------
    def embed(self, ids: np.ndarray, rows: np.ndarray, vad: np.ndarray) -> np.ndarray:
        e = self.params["token_embed"][ids]  # (B, T, d)
        v = np.broadcast_to(vad[rows][:, None, :], (*e.shape[:2], 3))
        return np.concatenate([e, v], axis=-1) @ self.params["vad_fuse_weight"].T + self.params["vad_fuse_bias"]

    def text_embeddings(self, texts: Sequence[str], emotions: Sequence[int]) -> np.ndarray:
        """(N, e) unit vectors of sentences (the decoder on the text alone), for retrieval."""
        if self.hidden is None:
            raise ValueError("this engine has no text encoder (decoder hidden states); retrieval needs one")
        out = []
        for text, c in zip(texts, emotions):
            ids = np.asarray([self.tokenizer.encode(text, bos=True, eos=True)[: self.spec.max_text]], dtype=np.int64)
            h = self.hidden(self.embed(ids, np.zeros(1, dtype=np.int64), self.vad_table[[c]]).astype(np.float32))
            v = h[0].mean(axis=0) @ self.params["text_proj_weight"].T + self.params["text_proj_bias"]
            out.append(v / np.linalg.norm(v))
        return np.stack(out)

    def prefix(self, vision_out: dict, emotions: np.ndarray) -> np.ndarray:
        prefix = vision_out["prefix"]
        if self.spec.regions:
            rows = vision_out["evidence"][np.arange(len(emotions)), emotions]  # (N, R)
            token = rows @ self.params["evidence_proj_weight"].T + self.params["evidence_proj_bias"]
            prefix = np.concatenate([prefix, token[:, None, :]], axis=1)
        return prefix.astype(np.float32)

    def explain_faces(self, faces: np.ndarray, emotions: Optional[Sequence[int]] = None,
                      decode: DecodeConfig = GREEDY) -> list[Explanation]:
        """uint8 (N, 48, 48) faces -> one Explanation each. `emotions` (indices)
        overrides the emotion to explain (default: the predicted one)."""
        faces = np.asarray(faces)
        if not len(faces):
            normalize_faces(faces)  # its shape and dtype checks hold for an empty batch too
            return []
        out = self.look(faces)
        probs = self.emotion_probabilities(faces, out)
        named = np.argmax(probs, axis=1) if emotions is None else np.asarray(emotions, dtype=np.int64)
        texts = self.generate(out, named, decode)
        results = []
        for i, (c, text) in enumerate(zip(named, texts)):
            emotion = self.spec.emotions[c]
            weights, regions = {}, []
            if self.spec.regions:
                weights = evidence_weights(out["evidence"][i, c])
                regions = [REGION_NAMES[r] for r in named_regions(emotion, text)]
            results.append(Explanation(emotion, float(probs[i, c]),
                                       {e: float(p) for e, p in zip(self.spec.emotions, probs[i])}, text, regions,
                                       weights, tuple(float(v) for v in out["vad"][i])))
        return results

    def generate(self, vision_out: dict, named: np.ndarray, decode: DecodeConfig = GREEDY) -> list[str]:
        """The sentence for each face, starting with its named emotion's prompt."""
        prefix = self.prefix(vision_out, named)
        vad = self.vad_table[named]
        texts: list[str] = [""] * len(named)
        for c in np.unique(named):  # prompts differ in length between emotions
            idx = np.flatnonzero(named == c)
            prompt_ids = [BOS] + self.tokenizer.encode(prompt(self.spec.emotions[c]))
            if decode.beams > 1:
                outs = [beam_search(self.step, lambda ids, rows, v=vad[i:i + 1]: self.embed(ids, rows, v),
                                    prefix[i:i + 1], prompt_ids, decode) for i in idx]
            else:
                outs = greedy(self.step, lambda ids, rows, v=vad[idx]: self.embed(ids, rows, v),
                              prefix[idx], [prompt_ids] * len(idx), decode)
            for i, generated in zip(idx, outs):
                texts[i] = self.tokenizer.decode(prompt_ids[1:] + list(generated))
        return texts
