"""`edgeaffect bench`: arguments and the command (also behind
benchmarks/run_all.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DESCRIPTION = """Benchmark every registered model x backend x precision x batch that runs
here (cold start, p50/p90/p99 latency, throughput, peak memory, artifact
size, validation accuracy, distance to the machine's measured limits), the
native kernels beside their peers, and write JSON, a Markdown report and
plots. --quick is a small run for checking that everything works."""


def add_arguments(p: argparse.ArgumentParser, default_out: str = "bench-results") -> None:
    p.add_argument("--quick", action="store_true", help="a small run: 3 rounds, 20 validation items per class, "
                   "small kernel shapes")
    p.add_argument("--models", nargs="+", help="models to run (default: every registered model)")
    p.add_argument("--backends", nargs="+", help="backends to run (default: every one that runs here)")
    p.add_argument("--precisions", nargs="+", choices=["fp32", "fp16", "int8"], help="precisions (default: all)")
    p.add_argument("--batches", nargs="+", type=int, help="batch sizes (default 1 8 32)")
    p.add_argument("--threads", type=int, help="CPU threads for every backend and kernel (default 2)")
    p.add_argument("--rounds", type=int, help="interleaved timing rounds (default 10; --quick 3)")
    p.add_argument("--data", action="append", default=[], metavar="MODEL=PATH",
                   help="validation data for a model (default: fer2013/val under $EDGEAFFECT_DATA or ../shared/data)")
    p.add_argument("--artifacts", nargs="+", default=[], metavar="PATH",
                   help="artifacts exported with `edgeaffect export` (files or their --out folders) to run beside "
                        "the registered ones, e.g. TensorRT fp16/int8 ONNX on a Jetson")
    p.add_argument("--no-accuracy", action="store_true", help="skip validation accuracy")
    p.add_argument("--no-cold-start", action="store_true", help="skip the fresh-process cold-start runs")
    p.add_argument("--no-kernels", action="store_true", help="skip the kernel benchmarks")
    p.add_argument("--no-plots", action="store_true", help="skip the matplotlib plots")
    p.add_argument("--out", type=Path, default=Path(default_out), help=f"output folder (default {default_out})")
    p.add_argument("--compare", type=Path, metavar="OLD.json", help="print the change of each row against an earlier run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from .report import compare, write_outputs
    from .suite import BenchConfig, run_suite

    data = []
    for item in args.data:
        model, sep, path = item.partition("=")
        if not sep or not model or not path:
            raise SystemExit(f"edgeaffect bench: --data {item!r} must be MODEL=PATH, e.g. --data fer=faces/val")
        data.append((model, path))
    old = None
    if args.compare is not None:
        try:
            old = json.loads(args.compare.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SystemExit(f"edgeaffect bench: cannot read --compare {args.compare}: {exc}") from None
    if args.threads is not None and args.threads < 1 or args.rounds is not None and args.rounds < 1:
        raise SystemExit("edgeaffect bench: --threads and --rounds must be positive")
    if args.batches and min(args.batches) < 1:
        raise SystemExit("edgeaffect bench: batch sizes must be positive")
    overrides = {k: v for k, v in {
        "models": tuple(args.models) if args.models else None,
        "backends": tuple(args.backends) if args.backends else None,
        "precisions": tuple(args.precisions) if args.precisions else None,
        "batches": tuple(sorted(set(args.batches))) if args.batches else None,
        "threads": args.threads, "rounds": args.rounds,
    }.items() if v is not None}
    overrides.update(data=tuple(data), artifacts=tuple(args.artifacts), cold_start=not args.no_cold_start, accuracy=not args.no_accuracy,
                     kernels=not args.no_kernels, progress=not args.quiet)
    config = BenchConfig.quick_config(**overrides) if args.quick else BenchConfig(**overrides)
    try:
        result = run_suite(config)
    except (KeyError, FileNotFoundError) as exc:
        raise SystemExit(f"edgeaffect bench: {exc.args[0] if isinstance(exc, KeyError) else exc}") from None
    paths = write_outputs(result, args.out, plots=not args.no_plots)
    print(paths["markdown"].read_text())
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}", file=sys.stderr)
    if old is not None:
        print("\n## Change against " + str(args.compare) + "\n\n" + compare(old, result))
    return 0
