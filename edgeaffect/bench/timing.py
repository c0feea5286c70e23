"""Timing on shared, noisy machines: interleaved rounds (drift hits every
contender alike), per-call samples for percentiles, and summaries.

Example:
    >>> from edgeaffect.bench.timing import percentiles_ms
    >>> percentiles_ms([0.001, 0.002, 0.003])["p50_ms"]
    2.0
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np


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


def timed_calls(func: Callable[[], object], calls: int) -> list[float]:
    """Seconds of each of `calls` back-to-back calls (for percentiles)."""
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return samples


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def percentiles_ms(samples: list[float]) -> dict[str, float]:
    """p50 / p90 / p99 in milliseconds of per-call samples in seconds."""
    p50, p90, p99 = np.percentile(np.asarray(samples) * 1e3, [50, 90, 99])
    return {"p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99)}
