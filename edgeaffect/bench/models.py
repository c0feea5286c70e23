"""Model rows of `edgeaffect bench`: every registered model x backend x
precision that runs here, at each batch size.

Per deployment (model, backend, precision): the artifact and its size, cold
start in a fresh process (process start to first result, and load() to
first result), peak resident memory per batch, accuracy on validation data
when there is some. Per batch: p50 / p90 / p99 latency of predict() on raw
inputs (preprocessing included, as in an app), throughput, and the distance
to the machine's limit from the graph's FLOPs and bytes.

Latency samples are interleaved: each round runs every deployment in turn,
so drift on a shared machine hits them all alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .ceilings import peak_for
from .inputs import sample_batch
from .timing import percentiles_ms, timed_calls

# Below this fraction of the roofline a run is dominated by fixed costs per
# call (operator dispatch, framework overhead, small-kernel launch), not by
# arithmetic or memory traffic.
OVERHEAD_FRACTION = 0.10


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
    """Cold start and peak memory in a fresh interpreter (edgeaffect.bench.coldstart)."""
    target = deployment.artifact if deployment.artifact.endswith((".onnx", ".xml")) else deployment.model
    request = {"target": target, "backend": deployment.backend, "precision": deployment.precision,
               "threads": threads, "batches": batches}
    request["spawn_time"] = time.time()
    done = subprocess.run([sys.executable, "-m", "edgeaffect.bench.coldstart", json.dumps(request)],
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"cold-start process failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_latency(predictors: dict, batches: list[int], rounds: int, calls: int,
                    progress: Callable[[], None] | None = None) -> dict:
    """(deployment key, batch) -> per-call seconds, interleaved over rounds.
    Each round makes max(2, calls // batch) calls per deployment and batch."""
    rng = np.random.default_rng(0)
    inputs = {(key, b): sample_batch(p, b, rng) for key, p in predictors.items() for b in batches}
    for (key, _batch), x in inputs.items():  # warm-up: allocations, lazy initialisation, caches
        predictors[key].predict(x)
        predictors[key].predict(x)
    samples = {k: [] for k in inputs}
    for _ in range(rounds):
        for (key, b), x in inputs.items():
            predictor = predictors[key]
            samples[(key, b)] += timed_calls(lambda p=predictor, x=x: p.predict(x), max(2, calls // b))
        if progress:
            progress()
    return samples


def batch_row(batch: int, samples: list[float], count: Optional[dict], artifact_bytes: int, precision: str,
              ceilings: dict) -> dict:
    """One batch's latency percentiles, throughput and roofline position."""
    row = {"batch": batch, "samples": len(samples), **percentiles_ms(samples)}
    seconds = row["p50_ms"] / 1e3
    row["throughput_per_s"] = batch / seconds
    if count is not None:
        row.update(roofline(count, artifact_bytes, seconds, precision, ceilings))
    return row


def roofline(count: dict, artifact_bytes: int, seconds: float, precision: str, ceilings: dict) -> dict:
    """Where a run of `seconds` sits against this machine's limits.

    The floor is the larger of compute time at the precision's peak and the
    time to move the least bytes any run must move (the weights as stored
    in this artifact, plus inputs and outputs) at the copy bandwidth."""
    peak = peak_for(ceilings, precision) * 1e9
    bandwidth = ceilings["copy_GBps"] * 1e9
    min_bytes = artifact_bytes + count["io_bytes"]
    compute_s, memory_s = count["flops"] / peak, min_bytes / bandwidth
    floor = max(compute_s, memory_s)
    fraction = floor / seconds
    bound = "overhead" if fraction < OVERHEAD_FRACTION else ("compute" if compute_s >= memory_s else "memory")
    return {"flops": count["flops"], "min_bytes": min_bytes, "achieved_GFLOPs": count["flops"] / seconds / 1e9,
            "peak_GFLOPs": peak / 1e9, "floor_ms": floor * 1e3, "fraction_of_limit": fraction, "bound": bound}


def graph_counts(model: str, batches: list[int]) -> tuple[Optional[dict], str]:
    """FLOPs and bytes per batch from the model's fp32 ONNX graph (any ONNX
    artifact if it has no fp32 one), or None and why."""
    from ..models import get_card
    from ..models.registry import ARTIFACT_DIR
    from .flops import count_onnx

    artifacts = get_card(model).artifact_map()
    onnx_keys = [k for k in ("onnx-fp32", "onnx-fp16", "onnx-int8") if k in artifacts]
    if not onnx_keys:
        return None, f"model {model!r} has no ONNX artifact to count FLOPs from (export one first)"
    rel = Path(artifacts[onnx_keys[0]])
    path = rel if rel.is_absolute() else ARTIFACT_DIR / rel
    try:
        import onnx  # noqa: F401
    except ImportError:
        return None, "FLOP counting needs the onnx package: pip install 'edgeaffect[bench]'"
    return {b: count_onnx(path, b).to_dict() for b in batches}, ""
