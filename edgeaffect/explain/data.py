"""Training data for the explainer.

- Faces (FER2013 folders): the images, their labels, and the rationale
  teacher's evidence (N, C, R) from occlusion of a FER teacher; the target
  sentence for (face i, emotion c) is render_rationale(c, evidence[i, c]).
- A user's CSV of (image path, emotion, explanation), ArtEmis style: any
  image size (brought to the 48x48 grey input), any emotion set, free text;
  no region evidence.
- The human explanations in ../shared/data/explanations (text only): for
  text-only pretraining of the decoder.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

IMAGE_COLUMNS = ("image", "image_path", "path", "img_name")
EMOTION_COLUMNS = ("emotion", "label")
TEXT_COLUMNS = ("explanation", "utterance", "text")


@dataclass
class ExplanationSet:
    """Faces and, per face, either evidence (region-grounded targets) or a fixed text."""

    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) emotion indices
    emotions: tuple[str, ...]
    evidence: Optional[np.ndarray] = None  # (N, C, R) rationale-teacher evidence
    texts: Optional[list[str]] = None  # free-text targets (CSV data)

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: np.ndarray) -> "ExplanationSet":
        return ExplanationSet(self.images[index], self.labels[index], self.emotions,
                              None if self.evidence is None else self.evidence[index],
                              None if self.texts is None else [self.texts[i] for i in index])


def _column(fields: Sequence[str], choices: Sequence[str], path, what: str) -> str:
    for name in choices:
        if name in fields:
            return name
    raise ValueError(f"{path}: no {what} column; name one of {list(choices)} (found {list(fields)})")


def load_explanation_csv(path: str | Path, size: int = 48) -> ExplanationSet:
    """A CSV with a header naming an image column (image, image_path, path or
    img_name; relative paths are relative to the CSV), an emotion column
    (emotion or label) and a text column (explanation, utterance or text).

    Example:
        >>> data = load_explanation_csv("my_art/explanations.csv")   # doctest: +SKIP
        >>> data.emotions                                            # doctest: +SKIP
        ('awe', 'contentment', 'fear')
    """
    import cv2

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        image_col = _column(fields, IMAGE_COLUMNS, path, "image")
        emotion_col = _column(fields, EMOTION_COLUMNS, path, "emotion")
        text_col = _column(fields, TEXT_COLUMNS, path, "explanation")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{path}: no rows")
    emotions = tuple(sorted({r[emotion_col].strip().lower() for r in rows}))
    images, labels, texts = [], [], []
    for line, row in enumerate(rows, start=2):
        image_path = Path(row[image_col])
        image_path = image_path if image_path.is_absolute() else path.parent / image_path
        img = cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise ValueError(f"{path}:{line}: cannot read image {image_path}")
        text = row[text_col].strip()
        if not text:
            raise ValueError(f"{path}:{line}: empty explanation")
        images.append(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA))
        labels.append(emotions.index(row[emotion_col].strip().lower()))
        texts.append(text)
    return ExplanationSet(np.stack(images), np.asarray(labels), emotions, texts=texts)


def load_human_explanations(path: str | Path) -> list[tuple[str, str]]:
    """(emotion, sentence) pairs from affection_utterances.json (user -> split -> records)."""
    data = json.loads(Path(path).read_text())
    pairs = []
    for splits in data.values():
        for records in splits.values():
            for r in records:
                text = r.get("utterance", "").strip()
                if text:
                    pairs.append((r["emotion"].strip().lower(), text))
    if not pairs:
        raise ValueError(f"{path}: no utterances found")
    return pairs
