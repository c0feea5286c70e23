"""Kernel rows of `edgeaffect bench`: the native core beside its peers, in
one process, interleaved round by round (the same code and shapes as
benchmarks/bench_bde.py and benchmarks/bench_attention.py).

- band differential entropy, 62 channels at 200 Hz, 1 s windows, float32:
  edgeaffect's kernel vs scipy `sosfilt` vs the torcheeg-style loop;
- attention (batch x heads, L, d) = (192, 62, 32) and (1024, 49, 32) with a
  window bias: edgeaffect's kernel vs torch SDPA (when torch is installed)
  vs numpy.

Each row: median ms, GFLOP/s, the fraction of the measured fp32 peak, and
how many times faster edgeaffect's kernel is.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .baselines import BDE_ORDER, numpy_attention, scipy_sosfilt_bde, torcheeg_loop_bde
from .timing import median_ms, time_interleaved

FS = 200.0
OURS = "edgeaffect"


def kernel_cases(quick: bool) -> list[dict]:
    """The configurations measured: full sizes, or small ones for --quick."""
    windows, channels = (4, 16) if quick else (32, 62)
    attention_batch = 12 if quick else 192
    return [
        {"kernel": "bde", "shape": (windows, channels, int(FS))},
        {"kernel": "attention", "shape": (attention_batch, 62, 32), "bias": False},
        {"kernel": "attention", "shape": (64 if quick else 1024, 49, 32), "bias": True},
    ]


def measure_kernels(threads: int, rounds: int, ceilings: dict, quick: bool,
                    progress: Callable[[], None] | None = None) -> tuple[list[dict], list[str]]:
    """Kernel rows and notes on what could not run here."""
    rows, notes = [], []
    rng = np.random.default_rng(0)
    for case in kernel_cases(quick):
        if case["kernel"] == "bde":
            funcs, flops, label, note = _bde_case(case["shape"], threads, rng)
        else:
            funcs, flops, label, note = _attention_case(case["shape"], case["bias"], threads, rng)
        if note:
            notes.append(note)
        if funcs is None:
            continue
        times = time_interleaved(funcs, rounds, warmup=1)
        ours = median_ms(times[OURS])
        for impl, samples in times.items():
            ms = median_ms(samples)
            gflops = flops / (ms * 1e-3) / 1e9
            rows.append({"kernel": case["kernel"], "shape": label, "impl": impl, "median_ms": ms, "rounds": rounds,
                         "threads": threads, "GFLOPs": gflops,
                         "fraction_of_peak": gflops / ceilings["matmul_float32_GFLOPs"],
                         "edgeaffect_speedup": ms / ours})
        if progress:
            progress()
    return rows, notes


def _bde_case(shape, threads, rng) -> tuple[Optional[dict], int, str, str]:
    from ..features import BAND_PRESETS, band_differential_entropy

    bands = list(BAND_PRESETS["torcheeg"])
    x = (rng.standard_normal(shape) * 20).astype(np.float32)
    label = f"{shape[0]} windows x {shape[1]} ch x {shape[2]} samples, float32"
    try:
        band_differential_entropy(x, FS, threads=threads)
    except (ImportError, RuntimeError) as exc:
        return None, 0, label, f"bde: edgeaffect's native kernel is unavailable ({exc})"
    funcs = {OURS: lambda: band_differential_entropy(x, FS, threads=threads)}
    note = ""
    try:
        import scipy  # noqa: F401

        funcs["scipy sosfilt"] = lambda: scipy_sosfilt_bde(x, FS, bands)
        funcs["torcheeg-style loop"] = lambda: torcheeg_loop_bde(x, FS, bands)
    except ImportError:
        note = "bde: scipy is not installed, so its peers were not run (pip install 'edgeaffect[bench]')"
    # Per sample and band: 6 flops per second-order section, 3 for the sums.
    flops = x.size * len(bands) * (6 * BDE_ORDER + 3)
    return funcs, flops, label, note


def _attention_case(shape, with_bias, threads, rng) -> tuple[Optional[dict], int, str, str]:
    from ..ops import attention

    sequences, length, dim = shape
    q, k, v = rng.standard_normal((3, sequences, 1, length, dim)).astype(np.float32)
    bias = rng.standard_normal((1, 1, length, length)).astype(np.float32) if with_bias else None
    label = f"({sequences}, {length}, {dim})" + (" + bias" if with_bias else "")
    try:
        attention(q, k, v, bias, threads=threads)
    except (ImportError, RuntimeError) as exc:
        return None, 0, label, f"attention: edgeaffect's native kernel is unavailable ({exc})"
    scale = dim**-0.5
    funcs = {OURS: lambda: attention(q, k, v, bias, threads=threads),
             "numpy": lambda: numpy_attention(q, k, v, bias, scale)}
    note = ""
    try:
        import torch

        torch.set_num_threads(threads)
        tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
        tb = torch.from_numpy(bias) if bias is not None else None
        funcs["torch SDPA"] = lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tb)
    except ImportError:
        note = "attention: torch is not installed, so torch SDPA was not run"
    return funcs, 4 * sequences * length * length * dim, label, note
