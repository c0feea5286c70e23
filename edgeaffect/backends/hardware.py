"""A cheap hardware probe for backend="auto" (file checks only: no CUDA
initialisation, nothing at import time). Tests replace `probe` to exercise
the policy on hardware they do not have."""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass


# x86 instructions that make INT8 matmuls pay (u8 x s8 dot products into 32 bits). Without them (AVX2-only
# CPUs: AMD Zen 1-3, Intel before Cascade Lake) INT8 inference was slower than fp32 on every backend we
# measured: the fer student on an AVX2 AMD EPYC, batch 1, 2 threads: ONNX Runtime fp32 2.41 ms, INT8
# 2.88 ms; OpenVINO fp32 2.83 ms, INT8 4.92 ms (session 13's run of benchmarks/bench_fer.py; its latest
# table is in benchmarks/results/fer-epyc-2c-x86_64.md).
X86_INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
X86_MACHINES = ("x86_64", "amd64", "i686", "x86")


@dataclass(frozen=True)
class Hardware:
    machine: str  # platform.machine(): x86_64, aarch64, ...
    nvidia_gpu: bool
    jetson: bool
    int8_dot: bool = True  # INT8 dot-product instructions (x86: VNNI/AMX); assumed elsewhere

    @property
    def x86(self) -> bool:
        return self.machine.lower() in X86_MACHINES


def probe() -> Hardware:
    jetson = os.path.exists("/etc/nv_tegra_release")
    nvidia = jetson or os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0") or \
        shutil.which("nvidia-smi") is not None
    machine = platform.machine()
    return Hardware(machine, nvidia, jetson, _x86_int8_dot() if machine.lower() in X86_MACHINES else True)


def _x86_int8_dot(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """VNNI or AMX in cpuinfo's flags; True where the flags cannot be read (no reason to demote INT8)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return bool(set(line.split(":", 1)[1].split()) & set(X86_INT8_DOT_FLAGS))
    except OSError:
        pass
    return True


def cpu_precision_order(preference: tuple[str, ...], device: str) -> tuple[str, ...]:
    """precision="auto"'s order for a CPU backend: `preference`, with fp32 first on an x86 CPU without
    INT8 dot products (where INT8 is slower; X86_INT8_DOT_FLAGS)."""
    if device == "gpu" or probe().int8_dot:
        return preference
    return ("fp32",) + tuple(p for p in preference if p != "fp32")
