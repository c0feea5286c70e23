"""A byte-level BPE tokenizer trained on our own corpus (no download).

Text is split into words that carry their leading space (as GPT-2 does), each
word into UTF-8 bytes, and the most frequent adjacent pair is merged until
the vocabulary is full. Any text encodes (unknown characters fall back to
bytes) and decode(encode(t)) == t.

Ids: 0 <pad>, 1 <bos>, 2 <eos>, 3..258 the bytes, then one id per merge.

Example:
    >>> tok = BPETokenizer.train(["the lifted cheeks", "the raised brows"] * 10, vocab_size=270)
    >>> tok.decode(tok.encode("the lifted brows")) == "the lifted brows"
    True
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")
_BYTE0 = len(SPECIALS)
_WORD = re.compile(r" ?[A-Za-z]+| ?\d+| ?[^\sA-Za-z\d]+|\s+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


class BPETokenizer:
    def __init__(self, merges: Sequence[tuple[int, int]]):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        self.pieces: list[bytes] = [s.encode() for s in SPECIALS] + [bytes([b]) for b in range(256)]
        for a, b in self.merges:
            self.pieces.append(self.pieces[a] + self.pieces[b])
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 1024, min_frequency: int = 2) -> "BPETokenizer":
        """Learns merges from `texts` until vocab_size ids or no pair occurs min_frequency times."""
        if vocab_size < _BYTE0 + 256:
            raise ValueError(f"vocab_size must be at least {_BYTE0 + 256} (specials and bytes), got {vocab_size}")
        counts = Counter(w for t in texts for w in _words(t))
        words = {tuple(_BYTE0 + b for b in w.encode()): n for w, n in counts.items()}
        merges: list[tuple[int, int]] = []
        next_id = _BYTE0 + 256
        while next_id < vocab_size:
            pairs: Counter = Counter()
            for symbols, n in words.items():
                for pair in zip(symbols, symbols[1:]):
                    pairs[pair] += n
            if not pairs:
                break
            # most frequent; ties to the smallest pair, so training is deterministic
            best, freq = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
            if freq < min_frequency:
                break
            merges.append(best)
            words = {cls._merge(symbols, best, next_id): n for symbols, n in words.items()}
            next_id += 1
        return cls(merges)

    @staticmethod
    def _merge(symbols: tuple[int, ...], pair: tuple[int, int], new: int) -> tuple[int, ...]:
        out, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
                out.append(new)
                i += 2
            else:
                out.append(symbols[i])
                i += 1
        return tuple(out)

    def _encode_word(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        symbols = tuple(_BYTE0 + b for b in word.encode())
        while len(symbols) > 1:
            pairs = [(self.ranks.get(p, len(self.ranks)), p) for p in zip(symbols, symbols[1:])]
            rank, pair = min(pairs)
            if rank == len(self.ranks):
                break
            symbols = self._merge(symbols, pair, _BYTE0 + 256 + rank)
        self._cache[word] = list(symbols)
        return self._cache[word]

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        ids = [i for w in _words(text) for i in self._encode_word(w)]
        return ([BOS] if bos else []) + ids + ([EOS] if eos else [])

    def decode(self, ids: Iterable[int]) -> str:
        data = b"".join(self.pieces[i] for i in ids if i >= _BYTE0)
        return data.decode("utf-8", errors="replace")

    def to_json(self) -> str:
        return json.dumps({"kind": "byte-bpe", "specials": list(SPECIALS), "merges": [list(m) for m in self.merges]})

    @classmethod
    def from_json(cls, text: str) -> "BPETokenizer":
        data = json.loads(text)
        if data.get("kind") != "byte-bpe":
            raise ValueError("not an edgeaffect byte-bpe tokenizer file")
        return cls([tuple(m) for m in data["merges"]])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> "BPETokenizer":
        return cls.from_json(Path(path).read_text())
