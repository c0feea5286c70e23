"""Shared helpers for the benchmark scripts: machine facts, interleaved
timing, measured ceilings, and writing JSON + Markdown results."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts() -> dict:
    facts = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    try:
        import scipy

        facts["scipy"] = scipy.__version__
    except ImportError:
        pass
    from edgeaffect import info

    facts["edgeaffect"] = info.collect()
    return facts


def machine_slug(facts: dict) -> str:
    """A short file-name key for a machine, e.g. 'xeon-2c-x86_64'."""
    model = facts["cpu"].lower()
    for noise in ("(r)", "(tm)", "cpu", "processor", "intel", "amd", "@"):
        model = model.replace(noise, " ")
    words = [w for w in re.split(r"[^a-z0-9.]+", model) if w and not w.endswith("ghz")]
    return "-".join(words[:3] + [f"{facts['cores']}c", facts["machine"]])


def time_interleaved(funcs: dict[str, Callable[[], object]], repeats: int, warmup: int = 2,
                     progress: Callable[[str], None] | None = None) -> dict[str, list[float]]:
    """Runs every function once per round, `repeats` rounds, so drift on a
    shared machine hits all of them alike. Returns seconds per call."""
    for _ in range(warmup):
        for f in funcs.values():
            f()
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for r in range(repeats):
        for name, f in funcs.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
        if progress:
            progress(f"round {r + 1}/{repeats}")
    return times


def per_call_us(func: Callable[[], object], calls: int) -> float:
    """Mean microseconds per call over `calls` back-to-back calls (one timing sample)."""
    start = time.perf_counter()
    for _ in range(calls):
        func()
    return (time.perf_counter() - start) / calls * 1e6


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def measure_ceilings(threads: int = 2, repeats: int = 7) -> dict:
    """This machine's measured limits: a large copy (GB/s, read + write) and
    large float32/float64 matmuls (GFLOP/s) through numpy's BLAS."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    src = np.ones(64 * 2**20 // 8)  # 64 MiB, well past the caches
    dst = np.empty_like(src)
    copy = min(_timed(lambda: np.copyto(dst, src)) for _ in range(repeats))
    result = {"copy_GBps": 2 * src.nbytes / copy / 1e9}
    for dtype in (np.float32, np.float64):
        a = np.ones((1024, 1024), dtype)
        best = min(_timed(lambda: a @ a) for _ in range(repeats))
        result[f"matmul_{np.dtype(dtype).name}_GFLOPs"] = 2 * 1024**3 / best / 1e9
    return result


def _timed(f: Callable[[], object]) -> float:
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


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
