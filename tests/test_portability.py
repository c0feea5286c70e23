"""The native kernel on another architecture: cross-compiled for aarch64
(Jetson) and run under QEMU, it must give this machine's numbers. Skips
where the cross compiler or QEMU is absent (apt-get install
g++-aarch64-linux-gnu qemu-user-static)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import max_rel_error
from edgeaffect.features import band_differential_entropy

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["csrc/bde/bde_cpu_baseline.cpp", "csrc/bde/bde_cpu.cpp", "csrc/bde/bde_design.cpp",
           "csrc/common/cpu_dispatch.cpp", "tests/native/bde_probe.cpp"]


@pytest.mark.slow
def test_aarch64_build_matches_this_machine(tmp_path, rng):
    compiler, qemu = shutil.which("aarch64-linux-gnu-g++"), shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
    if not compiler or not qemu:
        pytest.skip("needs aarch64-linux-gnu-g++ and qemu-aarch64(-static) (Debian: g++-aarch64-linux-gnu qemu-user-static)")
    binary = tmp_path / "bde_probe"
    build = subprocess.run([compiler, "-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp", "-static",
                            *[str(ROOT / s) for s in SOURCES], "-o", str(binary)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    x = rng.standard_normal((3, 7, 333)) * 20
    stdin = "3 7 333 200\n" + "\n".join(f"{v:.17g}" for v in x.ravel())
    run = subprocess.run([qemu, str(binary)], input=stdin, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "simd neon" in run.stderr
    arm = np.array([float(v) for v in run.stdout.split()]).reshape(3, 7, 5)
    assert max_rel_error(arm, band_differential_entropy(x, 200)) <= 1e-12
