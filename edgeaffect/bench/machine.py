"""Facts that key a benchmark result to the machine it ran on: CPU model,
cores, instruction sets, GPU (if any) and library versions.

Example:
    >>> from edgeaffect.bench.machine import machine_facts, machine_slug
    >>> facts = machine_facts()
    >>> machine_slug(facts).endswith(facts["machine"])
    True
"""

from __future__ import annotations

import os
import platform
import re
from importlib import metadata
from pathlib import Path

LIBRARIES = ("numpy", "onnxruntime", "openvino", "torch", "scipy", "onnx", "tensorrt")
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "avx_vnni",  # x86
             "asimd", "asimddp", "i8mm", "bf16", "sve")  # aarch64 (Jetson Orin: asimddp, no i8mm)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model", "Hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The instruction-set extensions from ISA_FLAGS this CPU reports."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    words = set(re.findall(r"^(?:flags|Features)\s*:\s*(.*)$", text, re.MULTILINE)[0].split()) if re.search(
        r"^(?:flags|Features)\s*:", text, re.MULTILINE) else set()
    return [flag for flag in ISA_FLAGS if flag in words]


def library_versions() -> dict[str, str]:
    """Installed versions, read from package metadata (nothing is imported)."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def machine_facts() -> dict:
    from .. import info

    collected = info.collect()
    cuda = collected.get("cuda", {})
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "cpu_flags": cpu_flags(),
        "gpu": [device["name"] for device in cuda.get("devices", [])] or None,
        "python": platform.python_version(),
        "libraries": library_versions(),
        "edgeaffect": collected,
    }


def machine_slug(facts: dict) -> str:
    """A short file-name key for a machine, e.g. 'xeon-2c-x86_64'."""
    model = facts["cpu"].lower()
    for noise in ("(r)", "(tm)", "cpu", "processor", "intel", "amd", "@"):
        model = model.replace(noise, " ")
    words = [w for w in re.split(r"[^a-z0-9.]+", model) if w and not w.endswith("ghz")]
    return "-".join(words[:3] + [f"{facts['cores']}c", facts["machine"]])
