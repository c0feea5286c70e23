"""A cheap hardware probe for backend="auto" (file checks only: no CUDA
initialisation, nothing at import time). Tests replace `probe` to exercise
the policy on hardware they do not have."""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Hardware:
    machine: str  # platform.machine(): x86_64, aarch64, ...
    nvidia_gpu: bool
    jetson: bool

    @property
    def x86(self) -> bool:
        return self.machine.lower() in ("x86_64", "amd64", "i686", "x86")


def probe() -> Hardware:
    jetson = os.path.exists("/etc/nv_tegra_release")
    nvidia = jetson or os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0") or \
        shutil.which("nvidia-smi") is not None
    return Hardware(platform.machine(), nvidia, jetson)
