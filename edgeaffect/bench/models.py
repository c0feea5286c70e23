"""Model rows of `edgeaffect bench`: every registered model x backend x
precision that runs here, at each batch size.

Per deployment (model, backend, precision): the artifact and its size, cold
start in a fresh process (process start to first result, and load() to
first result), peak resident memory per batch, accuracy on validation data
when there is some. Per batch: p50 / p90 / p99 latency of predict() on raw
inputs (preprocessing included, as in an app), throughput, and the distance
to the machine's limit from the graph's FLOPs and bytes, and what bounds it.

Latency samples are interleaved: each round runs every deployment in turn,
so drift on a shared machine hits them all alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .ceilings import peak_for
from .inputs import sample_batch
from .timing import percentiles_ms, timed_calls

@dataclass
class Deployment:
    """One way to run a model here, and what was measured about it."""

    model: str
    backend: str
    precision: str
    artifact: str = ""
    artifact_bytes: int = 0
    cold_start: dict = field(default_factory=dict)
    accuracy: Optional[dict] = None
    batches: list = field(default_factory=list)
    error: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.model, self.backend, self.precision


def list_deployments(models: list[str], backends: Optional[list[str]], precisions: Optional[list[str]]
                     ) -> tuple[list[Deployment], list[dict]]:
    """The deployments to measure, and the ones left out with their reasons."""
    from ..runtime.predictor import deployments

    chosen, skipped = [], []
    for model in models:
        try:
            pairs = deployments(model)
        except FileNotFoundError as exc:  # a registered card with no artifact here (e.g. a peer's weights absent)
            skipped.append({"model": model, "backend": "any", "precision": "any", "reasons": [str(exc)]})
            continue
        for (backend, precision), reasons in pairs.items():
            if backends and backend not in backends or precisions and precision not in precisions:
                continue
            if reasons:
                skipped.append({"model": model, "backend": backend, "precision": precision, "reasons": reasons})
            else:
                chosen.append(Deployment(model, backend, precision))
    return chosen, skipped


def artifact_size(path: Path) -> int:
    """Bytes on disk of an artifact with its companion files (OpenVINO .bin,
    external ONNX data)."""
    companions = [path.with_suffix(".bin")] if path.suffix == ".xml" else [Path(str(path) + ".data")]
    return sum(p.stat().st_size for p in [path, *companions] if p.exists())


def measure_cold_start(deployment: Deployment, threads: int, batches: list[int], timeout: float = 300) -> dict:
    """Cold start and peak memory in a fresh interpreter (edgeaffect.bench.coldstart).
    The artifact file is usually in the OS page cache already (the suite has
    loaded it), so this is a warm-disk cold start."""
    by_path = Path(deployment.artifact).suffix in (".onnx", ".xml", ".engine")
    request = {"target": deployment.artifact if by_path else deployment.model, "backend": deployment.backend,
               "precision": deployment.precision, "threads": threads, "batches": batches}
    # The child must import this very edgeaffect: from a source checkout,
    # `python -m` would otherwise pick the uncompiled source folder in the
    # working directory. So: a neutral working directory, and this package's
    # parent first on the path.
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    request["spawn_time"] = time.time()
    try:
        done = subprocess.run([sys.executable, "-m", "edgeaffect.bench.coldstart", json.dumps(request)],
                              capture_output=True, text=True, timeout=timeout, check=False, env=env,
                              cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the cold-start process did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the cold-start process failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_latency(predictors: dict, batches: list[int], rounds: int, calls: int, min_samples: int,
                    progress: Callable[[], None] | None = None) -> tuple[dict, dict]:
    """(deployment key, batch) -> per-call seconds, interleaved over rounds,
    and deployment key -> error for those that failed (they are dropped).
    Each round makes max(calls // batch, min_samples / rounds) timed calls per
    deployment and batch, so every row has at least `min_samples` samples."""
    rng = np.random.default_rng(0)
    errors, inputs = {}, {}
    for key, predictor in predictors.items():
        try:
            for b in batches:  # warm-up: allocations, lazy initialisation, caches
                x = sample_batch(predictor, b, rng)
                predictor.predict(x)
                predictor.predict(x)
                inputs[(key, b)] = x
        except Exception as exc:  # noqa: BLE001  (reported in the row; the other deployments go on)
            errors[key] = f"{type(exc).__name__}: {exc}"
            inputs = {k: v for k, v in inputs.items() if k[0] != key}
    per_round = {b: max(calls // b, -(-min_samples // rounds)) for b in batches}
    samples = {k: [] for k in inputs}
    for _ in range(rounds):
        for (key, b), x in inputs.items():
            predictor = predictors[key]
            samples[(key, b)] += timed_calls(lambda p=predictor, x=x: p.predict(x), per_round[b])
        if progress:
            progress()
    return samples, errors


def batch_row(batch: int, samples: list[float]) -> dict:
    """One batch's latency percentiles and sustained throughput (items over
    the total time of back-to-back calls)."""
    return {"batch": batch, "samples": len(samples), **percentiles_ms(samples),
            "throughput_per_s": batch * len(samples) / float(np.sum(samples))}


def add_bounds(rows: list[dict], counts: Optional[dict], artifact_bytes: int, precision: str, ceilings: dict) -> None:
    """Adds to each batch row its roofline position (when FLOPs are known) and
    what bounds it.

    Fixed per-call cost comes from how latency grows with the batch: a line
    t(b) = fixed + b * per_item fitted to the p50s. A row is `overhead`-bound
    when the fixed part is at least half its latency (batching would help
    most); otherwise it is `compute` or `memory`, the side of the roofline
    its floor sits on."""
    fixed = None
    if len(rows) >= 2:
        slope, intercept = np.polyfit([r["batch"] for r in rows], [r["p50_ms"] for r in rows], 1)
        fixed = max(float(intercept), 0.0)
        for r in rows:
            r["fixed_ms_per_call"], r["per_item_ms"] = fixed, max(float(slope), 0.0)
    for r in rows:
        r["fixed_share"] = fixed / r["p50_ms"] if fixed is not None else None
        side = None
        if counts is not None:
            r.update(roofline(counts[r["batch"]], artifact_bytes, r["p50_ms"] / 1e3, precision, ceilings))
            side = r["roofline_side"]
        if r["fixed_share"] is not None and r["fixed_share"] >= 0.5:
            r["bound"] = "overhead"
        else:
            r["bound"] = side or "unknown"


def roofline(count: dict, artifact_bytes: int, seconds: float, precision: str, ceilings: dict) -> dict:
    """Where a run of `seconds` sits against this machine's limits.

    The floor is the larger of the compute time (the matmul-class FLOPs at
    the precision's peak, the rest at the fp32 peak) and the time to move the
    least bytes any run must move (this artifact's weights as stored, plus
    inputs and outputs) at the copy bandwidth."""
    peak = peak_for(ceilings, precision) * 1e9
    fp32_peak = ceilings["matmul_float32_GFLOPs"] * 1e9
    bandwidth = ceilings["copy_GBps"] * 1e9
    min_bytes = artifact_bytes + count["io_bytes"]
    compute_s = count["matmul_flops"] / peak + (count["flops"] - count["matmul_flops"]) / fp32_peak
    memory_s = min_bytes / bandwidth
    floor = max(compute_s, memory_s)
    return {"flops": count["flops"], "matmul_flops": count["matmul_flops"], "min_bytes": min_bytes,
            "achieved_GFLOPs": count["flops"] / seconds / 1e9, "peak_GFLOPs": peak / 1e9, "floor_ms": floor * 1e3,
            "fraction_of_limit": floor / seconds, "roofline_side": "compute" if compute_s >= memory_s else "memory"}


def graph_counts(model: str, batches: list[int]) -> tuple[Optional[dict], str]:
    """FLOPs and bytes per batch from the model's fp32 ONNX graph (any ONNX
    artifact if it has no fp32 one), or None and why."""
    from ..models import get_card
    from ..models.registry import artifact_path
    from .flops import count_onnx

    card = get_card(model)
    onnx_keys = [k for k in ("onnx-fp32", "onnx-fp16", "onnx-int8") if k in card.artifact_map()]
    if not onnx_keys:
        return None, f"model {model!r} has no ONNX artifact to count FLOPs from (export one first)"
    path = artifact_path(card, onnx_keys[0])
    try:
        import onnx  # noqa: F401
    except ImportError:
        return None, "FLOP counting needs the onnx package: pip install 'edgeaffect[bench]'"
    try:
        return {b: count_onnx(path, b).to_dict() for b in batches}, ""
    except Exception as exc:  # noqa: BLE001  (an odd graph costs its FLOP columns, not the run)
        return None, f"{model}: FLOPs not counted ({type(exc).__name__}: {exc})"
