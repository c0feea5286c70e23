"""Band differential entropy benchmark (issue #2), all in one process.

Side by side, interleaved round by round: the native kernel (1 and 2
threads), scipy `sosfilt` per band over the whole batch plus variance, and a
torcheeg-style per-window, per-channel `butter` + `lfilter` loop
(re-implemented: torcheeg pins an old scipy). 32 windows x 62 channels at
200 Hz, 1 s and 4 s windows, float32 and float64. Targets: >= 20x scipy
sosfilt and >= 1000x the loop.

Usage:
    python benchmarks/bench_bde.py               # >= 20 rounds, writes benchmarks/results/bde-<machine>.{json,md}
    python benchmarks/bench_bde.py --repeats 5   # quicker, noisier
    python benchmarks/bench_bde.py --impl cuda   # add the CUDA kernel (needs a GPU)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    machine_facts,
    machine_slug,
    markdown_table,
    measure_ceilings,
    median_ms,
    time_interleaved,
    write_results,
)

from edgeaffect import _native  # noqa: E402
from edgeaffect.bench.baselines import BDE_ORDER, scipy_sosfilt_bde, torcheeg_loop_bde  # noqa: E402
from edgeaffect.features import BAND_PRESETS, band_differential_entropy  # noqa: E402

FS = 200.0
BANDS = list(BAND_PRESETS["torcheeg"])
ORDER = BDE_ORDER
TARGETS = {"scipy_sosfilt": 20.0, "torcheeg_loop": 1000.0}


def scipy_sosfilt(x: np.ndarray) -> np.ndarray:
    return scipy_sosfilt_bde(x, FS, BANDS, ORDER)


def torcheeg_loop(x: np.ndarray) -> np.ndarray:
    return torcheeg_loop_bde(x, FS, BANDS, ORDER)


def _cupy_or_none():
    try:
        import cupy

        return cupy
    except ImportError:
        return None


def _synchronised(cupy, result):
    cupy.cuda.Device().synchronize()
    return result


def _gpu_name() -> str | None:
    info = _native.cuda_build_info()
    return info["devices"][0]["name"] if info.get("device_count") else None


def _slugify(text: str) -> str:
    return "-".join(w for w in "".join(ch.lower() if ch.isalnum() else " " for ch in text).split() if w != "nvidia")


def flops_per_call(x: np.ndarray) -> int:
    """Per sample and band: 6 flops per section (sub, mul, two FMAs) and 3 for
    the sum and the sum of squares."""
    return x.size * len(BANDS) * (6 * ORDER + 3)


def run(repeats: int, impls: list[str], seconds_list: list[float]) -> tuple[dict, str]:
    facts = machine_facts()
    ceilings = measure_ceilings()
    print(f"machine: {facts['cpu']} ({facts['cores']} cores); SIMD {facts['edgeaffect']['native_cpu']['simd_in_use']}")
    print(f"ceilings: copy {ceilings['copy_GBps']:.1f} GB/s, fp32 matmul {ceilings['matmul_float32_GFLOPs']:.0f} GFLOP/s, "
          f"fp64 matmul {ceilings['matmul_float64_GFLOPs']:.0f} GFLOP/s")
    rng = np.random.default_rng(0)
    rows, records = [], []
    for seconds in seconds_list:
        for dtype in (np.float32, np.float64):
            x = (rng.standard_normal((32, 62, int(seconds * FS))) * 20).astype(dtype)
            funcs = {
                "native 1 thread": lambda x=x: band_differential_entropy(x, FS, threads=1),
                "native 2 threads": lambda x=x: band_differential_entropy(x, FS, threads=2),
                "scipy_sosfilt": lambda x=x: scipy_sosfilt(x),
            }
            if "cuda" in impls:
                funcs["cuda (host arrays, incl. copies)"] = lambda x=x: band_differential_entropy(x, FS, impl="cuda")
                cupy = _cupy_or_none()
                if cupy is not None:
                    xd = cupy.asarray(x)
                    funcs["cuda (device arrays)"] = lambda xd=xd: _synchronised(
                        cupy, band_differential_entropy(xd, FS, impl="cuda"))
            if "loop" in impls:
                funcs["torcheeg_loop"] = lambda x=x: torcheeg_loop(x)
            label = f"{seconds:g} s {np.dtype(dtype).name}"
            started = time.perf_counter()
            times = time_interleaved(
                funcs, repeats, warmup=1,
                progress=lambda msg, label=label: print(f"\r  {label}: {msg}", end="", file=sys.stderr, flush=True))
            print(f"\r  {label}: {repeats} rounds in {time.perf_counter() - started:.0f} s", file=sys.stderr)

            native = band_differential_entropy(x, FS)
            ref = scipy_sosfilt(x.astype(np.float64))
            rel_err = float(np.max(np.abs(native - ref) / np.maximum(np.abs(ref), 1.0)))
            medians = {name: median_ms(t) for name, t in times.items()}
            best_native = min(medians["native 1 thread"], medians["native 2 threads"])
            for name, ms in medians.items():
                record = {
                    "window_s": seconds, "dtype": np.dtype(dtype).name, "impl": name, "median_ms": ms,
                    "p10_ms": float(np.percentile(times[name], 10) * 1e3),
                    "p90_ms": float(np.percentile(times[name], 90) * 1e3), "repeats": repeats,
                }
                if name.startswith("native"):
                    threads = 1 if "1 thread" in name else 2
                    gflops = flops_per_call(x) / (ms * 1e-3) / 1e9
                    peak = ceilings[f"matmul_{np.dtype(dtype).name}_GFLOPs"] * threads / 2
                    record.update({
                        "GFLOPs": gflops, "fraction_of_peak_flops": gflops / peak,
                        "GBps_read": x.nbytes / (ms * 1e-3) / 1e9,
                        "fraction_of_copy_bandwidth": x.nbytes / (ms * 1e-3) / 1e9 / ceilings["copy_GBps"],
                        "max_rel_error_vs_float64": rel_err,
                    })
                else:
                    record["speedup_of_best_native"] = ms / best_native
                    if name in TARGETS:
                        record["target_speedup"] = TARGETS[name]
                        record["meets_target"] = ms / best_native >= TARGETS[name]
                records.append(record)
                rows.append([
                    label, name, f"{ms:.3f}",
                    _ratio(ms / best_native) if not name.startswith("native") else "",
                    f"≥{TARGETS[name]:.0f}x {'met' if ms / best_native >= TARGETS[name] else 'NOT met'}"
                    if name in TARGETS else "",
                    f"{record['GFLOPs']:.1f} ({record['fraction_of_peak_flops']:.0%} of peak)" if "GFLOPs" in record else "",
                    f"{record['GBps_read']:.2f} ({record['fraction_of_copy_bandwidth']:.1%})" if "GBps_read" in record else "",
                    f"{rel_err:.1e}" if name.startswith("native") else "",
                ])
    headers = ["window, dtype", "implementation", "median ms", "native is faster by", "target",
               "GFLOP/s (of measured peak)", "GB/s read (of copy bandwidth)", "max rel err vs float64"]
    slug = machine_slug(facts)
    gpu = _gpu_name() if "cuda" in impls else None
    if gpu:
        slug = f"{slug}-{_slugify(gpu)}"
    md = (f"# Band differential entropy benchmark\n\nMachine: {facts['cpu']}, {facts['cores']} cores ({slug}); "
          f"SIMD {facts['edgeaffect']['native_cpu']['simd_in_use']}; "
          f"{'GPU ' + gpu + '; ' if gpu else ''}median of {repeats} interleaved rounds; "
          f"32 windows x 62 channels at {FS:g} Hz, {len(BANDS)} bands, order {ORDER}.\n"
          f"Ceilings measured in the same run: copy {ceilings['copy_GBps']:.1f} GB/s (read + write), matmul "
          f"{ceilings['matmul_float32_GFLOPs']:.0f} GFLOP/s fp32 and {ceilings['matmul_float64_GFLOPs']:.0f} GFLOP/s fp64 "
          "(2 threads; 1-thread rows are compared with half).\n\n" + markdown_table(headers, rows))
    payload = {"benchmark": "bde", "machine_slug": slug, "machine": facts, "ceilings": ceilings,
               "config": {"fs": FS, "bands": BANDS, "order": ORDER, "windows": 32, "channels": 62},
               "results": records}
    return payload, md


def _ratio(ratio: float) -> str:
    """"48x" for the baselines; "0.41x" where the other implementation (CUDA) is the faster one."""
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.2f}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20, help="interleaved rounds per configuration (default 20)")
    parser.add_argument("--impl", action="append", default=[], choices=["cuda"], help="also time the CUDA kernel")
    parser.add_argument("--no-loop", action="store_true", help="skip the slow torcheeg-style loop")
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0, 4.0], help="window lengths (default 1 4)")
    args = parser.parse_args()
    impls = list(args.impl) + ([] if args.no_loop else ["loop"])
    if "cuda" in impls and _native.cuda_module_reason():
        parser.error(f"--impl cuda: {_native.cuda_module_reason()}")
    payload, md = run(args.repeats, impls, args.seconds)
    print(md)
    json_path, md_path = write_results("bde", payload, md)
    print(f"\nwrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
