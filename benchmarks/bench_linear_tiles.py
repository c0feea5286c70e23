"""The native engines' linear kernel (EEG and FER) as shipped against the form
it had before (4-row tiles outermost), per instruction set this
CPU runs, side by side in one process (benchmarks/linear_tiles.cpp, compiled
here with g++ and the flags CMakeLists.txt gives each kernel build).

Why: a tile of R rows x U vectors keeps R*U accumulators and U weight
vectors in registers. With AVX-512 (32 registers) 4 x 4 fits; with AVX2 or
SSE (16 registers) 4 x 4 spilled to the stack, so those builds use U = 2,
and since the FER engine 6 rows (BLIS's 6 x 16 shape: 12 accumulators, 3
loads per 4 FMAs) instead of 4. Also since then each strip of columns has
its weights packed contiguously and the loop over strips is outermost, so a
layer's weights stream once, in the order the prefetchers follow. The
numbers here are with hot caches; in a whole model's pass the weights come
from L3 and the layout matters more (the FER engine's profile).

Usage: python benchmarks/bench_linear_tiles.py   (needs g++)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_facts, machine_slug, markdown_table, write_results  # noqa: E402

from edgeaffect.bench.machine import cpu_flags  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FLAGS = {  # as CMakeLists.txt compiles each kernel build
    "baseline": [],
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mprefer-vector-width=512"],
}
CPU_FLAG = {"baseline": None, "avx2": "avx2", "avx512": "avx512f"}


def main() -> int:
    compiler = shutil.which("g++")
    if compiler is None:
        print("g++ not found: install a C++ compiler (Debian: g++) to build the kernel benchmark", file=sys.stderr)
        return 1
    flags, rows = set(cpu_flags()), []
    with tempfile.TemporaryDirectory() as tmp:
        for isa, extra in FLAGS.items():
            if CPU_FLAG[isa] and CPU_FLAG[isa] not in flags:
                continue  # this CPU cannot run that build
            exe = Path(tmp) / f"tiles-{isa}"
            subprocess.run([compiler, "-O3", "-std=c++17", *extra, f"-I{ROOT / 'csrc'}",
                            str(ROOT / "benchmarks" / "linear_tiles.cpp"), "-o", str(exe)], check=True)
            for line in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines():
                r, i, o, shipped, old, diff = line.split()
                rows.append({"isa": isa, "rows": int(r), "in": int(i), "out": int(o), "shipped_us": float(shipped),
                             "tiles_4row_us": float(old), "ratio": float(shipped) / float(old), "max_abs_diff": float(diff)})
    facts = machine_facts()
    slug = machine_slug(facts)
    table = markdown_table(["build", "rows x in -> out", "shipped tiles us", "4-row tiles us", "shipped / 4-row",
                            "max abs diff"],
                           [[r["isa"], f"{r['rows']} x {r['in']} -> {r['out']}", f"{r['shipped_us']:.2f}",
                             f"{r['tiles_4row_us']:.2f}", f"{r['ratio']:.3f}", f"{r['max_abs_diff']:.1g}"] for r in rows])
    markdown = (f"# Native engines: linear kernel tiles\n\nMachine: {facts['cpu']} ({slug}); one thread; "
                f"median of 21 interleaved rounds. EEG: 32 rows = one window's electrodes (batch 1), 1024 = batch 32. "
                f"FER: 576 and 144 rows = the stem's im2col, then 144, 36 and 9 tokens = stages 1-3 at batch 1.\n\n"
                + table)
    paths = write_results("linear-tiles", {"machine_slug": slug, "machine": facts, "results": rows}, markdown)
    print(markdown)
    print("wrote", *paths)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
