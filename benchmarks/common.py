"""Shared helpers for the benchmark scripts: writing JSON + Markdown results.
Machine facts, interleaved timing and the measured ceilings live in
`edgeaffect.bench`, shared with `edgeaffect bench`, so the per-model scripts
and the suite measure the same way."""

from __future__ import annotations

import json
from pathlib import Path

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
