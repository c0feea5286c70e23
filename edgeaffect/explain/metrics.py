"""Text and faithfulness metrics for explanations (numpy only).

- BLEU-4: corpus BLEU (Papineni et al. 2002): clipped n-gram precisions for
  n = 1..4, geometric mean with equal weights, brevity penalty; no smoothing.
- ROUGE-L: longest-common-subsequence F-measure with beta = 1.2 (as in the
  COCO caption evaluation), averaged over sentences.
- CIDEr: CIDEr-D as computed by the COCO caption evaluation (pycocoevalcap's
  Cider): tf-idf n-gram vectors for n = 1..4 with document frequencies over
  the references, clipped hypothesis counts, a Gaussian length penalty
  (sigma 6), the mean over n, times 10.
- faithfulness: the share of faces on which the k regions the student names
  are the rationale teacher's k strongest regions for the named emotion.

Words are lower-cased alphanumeric runs (apostrophes kept); punctuation is
dropped, as the COCO tokenizer does.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

import numpy as np

_TOKEN = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu4(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU-4 of hypotheses[i] against references[i] (one or more strings).

    Example:
        >>> bleu4(["the cat sat on the mat"], [["the cat sat on the mat"]])
        1.0
    """
    _check(hypotheses, references)
    matches, totals = [0] * 4, [0] * 4
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references):
        h = words(hyp)
        rs = [words(r) for r in refs]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]
        for n in range(1, 5):
            counts = _ngrams(h, n)
            best = Counter()
            for r in rs:
                best |= _ngrams(r, n)
            matches[n - 1] += sum(min(c, best[g]) for g, c in counts.items())
            totals[n - 1] += max(0, len(h) - n + 1)
    if min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / 4
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / max(hyp_len, 1))
    return float(brevity * math.exp(log_precision))


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, start=1):
            cur = row[j]
            row[j] = prev + 1 if x == y else max(row[j], row[j - 1])
            prev = cur
    return row[-1]


def rouge_l(hypotheses: Sequence[str], references: Sequence[Sequence[str]], beta: float = 1.2) -> float:
    """Mean sentence ROUGE-L F-measure (the best reference per sentence for
    precision and recall separately, as the COCO evaluation does).

    Example:
        >>> round(rouge_l(["a b c d"], [["a b x d"]]), 4)
        0.75
    """
    _check(hypotheses, references)
    scores = []
    for hyp, refs in zip(hypotheses, references):
        h = words(hyp)
        precisions, recalls = [], []
        for r in (words(x) for x in refs):
            lcs = _lcs(h, r)
            precisions.append(lcs / len(h) if h else 0.0)
            recalls.append(lcs / len(r) if r else 0.0)
        p, r = max(precisions), max(recalls)
        scores.append(((1 + beta**2) * p * r) / (r + beta**2 * p) if p and r else 0.0)
    return float(np.mean(scores))


def cider(hypotheses: Sequence[str], references: Sequence[Sequence[str]], sigma: float = 6.0) -> float:
    """CIDEr-D (pycocoevalcap's Cider): 10 x mean over n = 1..4 and references of
    clipped tf-idf cosine similarity with a Gaussian length penalty."""
    _check(hypotheses, references)
    refs_tokens = [[words(r) for r in refs] for refs in references]
    df: Counter = Counter()
    for refs in refs_tokens:
        df.update({g for r in refs for n in range(1, 5) for g in _ngrams(r, n)})
    log_n = math.log(float(len(references)))

    def vector(tokens):
        vec, norms = [], []
        for n in range(1, 5):
            v = {g: c * (log_n - math.log(max(1.0, df[g]))) for g, c in _ngrams(tokens, n).items()}
            vec.append(v)
            norms.append(math.sqrt(sum(x * x for x in v.values())))
        return vec, norms, len(tokens)

    scores = []
    for hyp, refs in zip(hypotheses, refs_tokens):
        hv, hn, hl = vector(words(hyp))
        total = np.zeros(4)
        for r in refs:
            rv, rn, rl = vector(r)
            for n in range(4):
                val = sum(min(x, rv[n].get(g, 0.0)) * rv[n].get(g, 0.0) for g, x in hv[n].items())
                if hn[n] and rn[n]:
                    val /= hn[n] * rn[n]
                total[n] += val * math.exp(-((hl - rl) ** 2) / (2 * sigma**2))
        scores.append(total.mean() / len(refs) * 10.0)
    return float(np.mean(scores))


def faithfulness(named: Sequence[Sequence[int]], teacher_evidence: np.ndarray) -> float:
    """Share of faces whose named regions (k of them) are the teacher's k strongest.

    teacher_evidence (N, R): the teacher's evidence for the emotion each face's
    explanation names. Naming no region is faithful exactly when no region
    has positive evidence (and naming one then is not).

    Example:
        >>> faithfulness([[2], [0, 1], []], np.array([[0.1, 0.0, 0.9, 0.2], [0.5, 0.1, 0.4, 0.0], [-1, -2, 0, -1]]))
        0.6666666666666666
    """
    if len(named) != len(teacher_evidence):
        raise ValueError(f"{len(named)} explanations for {len(teacher_evidence)} evidence rows")
    hits = 0
    for regions, row in zip(named, np.asarray(teacher_evidence)):
        k = len(regions)
        if k == 0 or not (row > 0).any():  # "no region" is right exactly when no region has positive evidence
            hits += int(k == 0 and not (row > 0).any())
            continue
        top = set(np.argsort(-row, kind="stable")[:k].tolist())
        hits += int(set(regions) == top)
    return hits / max(1, len(named))


def recall_at_1(image_embeddings: np.ndarray, text_embeddings: np.ndarray, targets: Sequence[int]) -> float:
    """Image-to-text retrieval: share of images whose most similar text (rows of
    text_embeddings, unit vectors) is text number targets[i]."""
    best = np.argmax(np.asarray(image_embeddings) @ np.asarray(text_embeddings).T, axis=1)
    return float(np.mean(best == np.asarray(targets)))


def _check(hypotheses, references) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} reference sets")
    if not hypotheses:
        raise ValueError("no sentences to score")
    for refs in references:
        if isinstance(refs, str) or not refs:
            raise ValueError("each hypothesis needs a list of one or more reference strings")
