"""Shared helpers for the benchmark scripts: writing JSON + Markdown results.
Machine facts, interleaved timing and the measured ceilings live in
`edgeaffect.bench`, shared with `edgeaffect bench`, so the per-model scripts
and the suite measure the same way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgeaffect.bench.ceilings import measure_ceilings  # noqa: F401  (re-exported for the scripts)
from edgeaffect.bench.machine import machine_facts, machine_slug  # noqa: F401
from edgeaffect.bench.timing import median_ms, per_call_us, time_interleaved  # noqa: F401

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def write_results(name: str, payload: dict, markdown: str) -> tuple[Path, Path]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    slug = payload["machine_slug"]
    json_path = RESULTS_DIR / f"{name}-{slug}.json"
    md_path = RESULTS_DIR / f"{name}-{slug}.md"
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    md_path.write_text(markdown + "\n")
    return json_path, md_path


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fer_faces() -> tuple[np.ndarray, np.ndarray]:
    """The fer benchmarks' inputs: one and 32 uint8 48x48 crops (fixed seed)."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (1, 48, 48), dtype=np.uint8), rng.integers(0, 256, (32, 48, 48), dtype=np.uint8)


def median_batch1_and_32(predictors: dict, face1: np.ndarray, face32: np.ndarray, repeats: int, calls: int) -> dict:
    """{key: {"b1": us per predict() at batch 1, "b32": us per predict() at
    batch 32}}: medians over `repeats` rounds that interleave every predictor,
    so drift on a shared machine hits them alike."""
    samples = {key: {"b1": [], "b32": []} for key in predictors}
    for p in predictors.values():
        p.predict(face1), p.predict(face32)
    for _ in range(repeats):
        for key, p in predictors.items():
            samples[key]["b1"].append(per_call_us(lambda p=p: p.predict(face1), calls))
            samples[key]["b32"].append(per_call_us(lambda p=p: p.predict(face32), max(1, calls // 10)))
    return {key: {b: float(np.median(v)) for b, v in s.items()} for key, s in samples.items()}
