"""Greedy and beam decoding over numpy, with or without a KV cache.

The model is two functions, so the same loop drives torch (tests, training
checks) and ONNX Runtime / OpenVINO (the runtime):

    embed(ids (B, T) int64, rows (B,) int64) -> (B, T, d) float32   token embeddings fused with each row's VAD
    step(embeds (B, T, d), past or None)    -> logits (B, T, V), present (L, 2, B, H, Tp + T, dh)

`rows` says which input face each sequence belongs to (beams share a face).
Without the cache every step reruns the whole sequence; both give the same
tokens (tests/test_explain.py checks it), the cache only saves work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from .tokenizer import EOS

Embed = Callable[[np.ndarray, np.ndarray], np.ndarray]
Step = Callable[[np.ndarray, Optional[np.ndarray]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class DecodeConfig:
    max_new_tokens: int = 30
    beams: int = 1  # 1: greedy
    use_cache: bool = True
    length_penalty: float = 1.0  # beam score = sum log p / length ** length_penalty
    stop_at_eos: bool = True  # False: always max_new_tokens (fixed-length latency measurements; greedy only)


GREEDY = DecodeConfig()


def _log_softmax(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64) - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class _Runner:
    """Feeds new tokens to `step`, keeping either the KV cache or the whole sequence."""

    def __init__(self, step: Step, embed: Embed, prefix: np.ndarray, prompt: np.ndarray, rows: np.ndarray, use_cache: bool):
        self.step, self.embed, self.use_cache = step, embed, use_cache
        self.rows = rows
        self.sequence = np.concatenate([prefix[rows], embed(prompt, rows)], axis=1).astype(np.float32)
        logits, self.past = step(self.sequence, None)
        self.last = logits[:, -1]

    def advance(self, tokens: np.ndarray, order: Optional[np.ndarray] = None) -> np.ndarray:
        """Appends one token per sequence (after reordering sequences by `order`); returns the next logits."""
        if order is not None:
            self.rows = self.rows[order]
            self.sequence = self.sequence[order]
            self.past = self.past[:, :, order]
        new = self.embed(tokens[:, None], self.rows).astype(np.float32)
        if self.use_cache:
            logits, self.past = self.step(new, self.past)
        else:  # the whole sequence again: only the no-cache path keeps it growing
            self.sequence = np.concatenate([self.sequence, new], axis=1)
            logits, self.past = self.step(self.sequence, None)
        self.last = logits[:, -1]
        return self.last


def greedy(step: Step, embed: Embed, prefix: np.ndarray, prompts: Sequence[Sequence[int]],
           cfg: DecodeConfig = DecodeConfig()) -> list[list[int]]:
    """Batched greedy decoding: prefix (B, P, d), prompts[i] the prompt ids of face i
    (all the same length). Returns the generated ids after each prompt, without <eos>."""
    prompt = np.asarray(prompts, dtype=np.int64)
    if prompt.ndim != 2 or len(prompt) != len(prefix):
        raise ValueError("greedy needs one prompt per face, all of the same length; decode uneven prompts in groups")
    runner = _Runner(step, embed, prefix, prompt, np.arange(len(prefix)), cfg.use_cache)
    out: list[list[int]] = [[] for _ in range(len(prefix))]
    done = np.zeros(len(prefix), dtype=bool)
    logits = runner.last
    for _ in range(cfg.max_new_tokens):
        tokens = logits.argmax(axis=-1)
        if not cfg.stop_at_eos:
            tokens = np.where(tokens == EOS, logits.argsort(axis=-1)[:, -2], tokens)
        for i, t in enumerate(tokens):
            if not done[i]:
                if t == EOS:
                    done[i] = True
                else:
                    out[i].append(int(t))
        if done.all():
            break
        logits = runner.advance(np.where(done, EOS, tokens).astype(np.int64))
    return out


def beam_search(step: Step, embed: Embed, prefix: np.ndarray, prompt: Sequence[int],
                cfg: DecodeConfig = DecodeConfig(beams=4)) -> list[int]:
    """Beam search for one face: prefix (1, P, d). Returns the best continuation without <eos>."""
    if len(prefix) != 1:
        raise ValueError("beam_search decodes one face at a time: prefix must be (1, P, d)")
    k = max(1, cfg.beams)
    runner = _Runner(step, embed, prefix, np.asarray([prompt], dtype=np.int64), np.zeros(1, dtype=np.int64), cfg.use_cache)
    beams: list[tuple[list[int], float]] = [([], 0.0)]
    finished: list[tuple[list[int], float]] = []
    logp = _log_softmax(runner.last)
    for _ in range(cfg.max_new_tokens):
        candidates = []
        for b, (_, score) in enumerate(beams):
            for t in np.argsort(-logp[b], kind="stable")[: 2 * k]:
                candidates.append((score + float(logp[b, t]), b, int(t)))
        candidates.sort(key=lambda c: -c[0])
        keep = []
        for score, b, t in candidates:
            if t == EOS:
                seq = beams[b][0]
                finished.append((seq, score / max(1, len(seq) + 1) ** cfg.length_penalty))
            else:
                keep.append((score, b, t))
            if len(keep) == k:
                break
        best_open = keep[0][0] / max(1, len(beams[keep[0][1]][0]) + 1) ** cfg.length_penalty if keep else -np.inf
        if not keep or (len(finished) >= k and max(f[1] for f in finished) >= best_open):
            break
        beams = [(beams[b][0] + [t], score) for score, b, t in keep]
        order = np.array([b for _, b, _ in keep])
        logp = _log_softmax(runner.advance(np.array([t for _, _, t in keep], dtype=np.int64), order))
    if not finished:
        finished = [(tokens, score / max(1, len(tokens)) ** cfg.length_penalty) for tokens, score in beams]
    return max(finished, key=lambda f: f[1])[0]
