"""Scores an explainer on faces with labels: emotion accuracy, faithfulness to
the rationale teacher, BLEU-4 / ROUGE-L / CIDEr against the teacher's
sentence, and the contrastive head's image-to-sentence retrieval.

The text scores compare the student's sentence with the teacher's sentence
for the emotion the student names: they measure the explanation given the
emotion; whether the emotion is right is `accuracy`.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from . import metrics
from .data import ExplanationSet
from .decoding import GREEDY, DecodeConfig
from .engine import ExplainerEngine
from .rationale import render_rationale
from .vocabulary import named_regions, prompt, ranked_regions


def evaluate_engine(engine: ExplainerEngine, data: ExplanationSet, decode: DecodeConfig = GREEDY,
                    batch_size: int = 256, progress: bool = False, retrieval: bool = True) -> dict:
    """The metrics dict; `data.evidence` (the teacher's, (N, C, R)) is needed for faithfulness."""
    from tqdm.auto import tqdm

    if tuple(data.emotions) != tuple(engine.spec.emotions):
        raise ValueError(f"the data's emotions {data.emotions} differ from the model's {engine.spec.emotions}")
    hyps, named, image_emb = [], [], []
    for start in tqdm(range(0, len(data), batch_size), desc="explain eval", disable=not progress):
        faces = data.images[start:start + batch_size]
        vision = engine.look(faces)
        emotions = np.argmax(engine.emotion_probabilities(faces, vision), axis=1)
        hyps.extend(engine.generate(vision, emotions, decode))
        named.append(emotions)
        image_emb.append(vision["image_embedding"])
    named_arr = np.concatenate(named)
    out = {"n": len(data), "accuracy": float(np.mean(named_arr == data.labels))}
    if data.evidence is not None:
        rows = data.evidence[np.arange(len(data)), named_arr]
        refs = [render_rationale(engine.spec.emotions[c], r).text for c, r in zip(named_arr, rows)]
        said = [named_regions(engine.spec.emotions[c], h) for c, h in zip(named_arr, hyps)]
        out["faithfulness"] = metrics.faithfulness(said, rows)
        teacher_named = [ranked_regions(r) for r in rows]
        out["exact_regions"] = float(np.mean([s == t for s, t in zip(said, teacher_named)]))
        out["top_region"] = float(np.mean([s[:1] == t[:1] for s, t in zip(said, teacher_named)]))
        out["exact_text"] = float(np.mean([h == r for h, r in zip(hyps, refs)]))
    else:
        refs = [f"{prompt(engine.spec.emotions[c])} {t}" for c, t in zip(data.labels, data.texts)]
    out["bleu4"] = metrics.bleu4(hyps, [[r] for r in refs])
    out["rouge_l"] = metrics.rouge_l(hyps, [[r] for r in refs])
    out["cider"] = metrics.cider(hyps, [[r] for r in refs])
    if retrieval and engine.hidden is not None:
        gallery = sorted(set(refs))
        emotion_of = {r: c for r, c in zip(refs, named_arr if data.evidence is not None else data.labels)}
        text_emb = engine.text_embeddings(gallery, [emotion_of[g] for g in gallery])
        index = {g: i for i, g in enumerate(gallery)}
        out["retrieval_recall_at_1"] = metrics.recall_at_1(np.concatenate(image_emb), text_emb, [index[r] for r in refs])
        out["retrieval_gallery"] = len(gallery)
    return out


def evaluate_folder(data: str, model: Optional[str] = None, teacher: Optional[str] = None, backend: str = "onnxruntime",
                    precision: str = "fp32", threads: Optional[int] = None, limit: Optional[int] = None,
                    decode: DecodeConfig = GREEDY, progress: bool = True, emotions_from: str = "auto",
                    evidence: str = "auto", views: Optional[str | Sequence[Sequence[int]]] = None,
                    usage: Optional[str] = "test") -> dict:
    """`edgeaffect eval explain --data DIR`: faces in class folders (angry, disgust,
    ..., as ../shared/data/fer2013/val) or a FER2013 CSV (`usage`: its rows to score,
    as edgeaffect.fer.data.load_fer_csv; default "test", every row but Training); the rationale teacher
    (the model folder's rationale-teacher.onnx, or `teacher`: a .pt/.onnx FER
    teacher) supplies the evidence that faithfulness and the text scores use.
    `emotions_from`: who names the emotion, `evidence`: measured or predicted region evidence, `views`: which
    copies of each face it is read from (all as runtime.load_explainer)."""
    from pathlib import Path

    from ..fer import LABELS
    from ..fer.data import check_usage_applies, load_fer_csv, load_fer_folder
    from .rationale import occlusion_evidence
    from .runtime import load_explainer, load_rationale_teacher

    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(f"--data {path} does not exist")
    check_usage_applies(path, path.suffix == ".csv", usage)
    if path.suffix == ".csv":
        images, labels = load_fer_csv(path, usage=usage, limit=limit)
    else:
        images, labels = load_fer_folder(path, limit=limit)
    # batches of 256 faces: the decoder's steps are big enough here for threads to pay
    engine = load_explainer(model, backend=backend, precision=precision, threads=threads, decoder_threads=threads,
                            emotions_from=emotions_from, evidence=evidence, views=views)
    if tuple(engine.spec.emotions) != tuple(LABELS) or not engine.spec.regions:
        raise ValueError("eval explain scores face explainers over the FER2013 emotions with region evidence; "
                         f"this model explains {engine.spec.emotions}")
    if teacher:
        from .train import teacher_classifier

        classify = teacher_classifier(teacher)
    else:
        classify = load_rationale_teacher(model, threads=threads)
        if classify is None:
            raise FileNotFoundError("the model folder has no rationale-teacher.onnx: give --teacher (a FER teacher .pt or .onnx)")
    teacher_evidence = occlusion_evidence(classify, images, progress=progress, shifts=engine.spec.rationale_shifts)
    result = evaluate_engine(engine, ExplanationSet(images, labels, LABELS, evidence=teacher_evidence), decode=decode,
                             progress=progress)
    return {"model": str(engine.folder), "data": str(path), "backend": backend, "precision": precision,
            "beams": decode.beams, "emotions_from": engine.emotions_from, "emotion_model": engine.emotion_model,
            "evidence": engine.evidence_source,
            "views": len(engine.view_shifts), **({"usage": usage or "all"} if path.suffix == ".csv" else {}), **result}
