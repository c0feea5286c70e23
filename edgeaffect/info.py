"""Build and runtime facts: `edgeaffect info` or `python -m edgeaffect.info`."""

from __future__ import annotations

import json
import os
import platform
import sys

from . import __version__, _native


def collect() -> dict:
    """Everything `edgeaffect info` prints, as a dict (JSON-serialisable)."""
    facts: dict = {
        "edgeaffect": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    try:
        import numpy

        facts["numpy"] = numpy.__version__
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        facts["numpy"] = None
    try:
        cpu = _native.cpu_module()
    except _native.NativeUnavailableError as exc:
        facts["native_cpu"] = {"built": False, "reason": str(exc)}
    else:
        build = dict(cpu.build_info())
        build["built"] = True
        build["simd_in_use"] = cpu.simd_level()
        if os.environ.get("OMP_NUM_THREADS"):
            build["OMP_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"]
        facts["native_cpu"] = build
    facts["cuda"] = _native.cuda_build_info()
    from .backends import Request, describe_backends
    from .export.profiles import available_profiles
    from .models import list_models

    facts["backends"] = describe_backends()
    from .backends import auto_priority, create_backend, hardware

    hw = hardware.probe()
    cpu_backend = create_backend("onnxruntime")
    facts["auto"] = {"int8_dot_products": hw.int8_dot, "backend_order": auto_priority(hw),
                     "cpu_precision_order": list(cpu_backend.auto_precision_order(Request("", {}, device="cpu")))}
    facts["models"] = list_models()
    from .models.registry import ARTIFACT_DIR

    # the explainer is a folder of graphs that edgeaffect.explain.load_explainer reads, not a registered model
    facts["explainers"] = ["explain"] if (ARTIFACT_DIR / "explain" / "config.json").exists() else []
    facts["profiles"] = sorted(available_profiles())
    return facts


def format_text(facts: dict) -> str:
    cpu, cuda = facts["native_cpu"], facts["cuda"]
    lines = [
        f"edgeaffect {facts['edgeaffect']}  (python {facts['python']}, numpy {facts['numpy']}, {facts['platform']})",
    ]
    if cpu.get("built"):
        lines += [
            f"native CPU module: built with {cpu['compiler']} ({cpu['build_type']}, {cpu['system_processor']})",
            f"  SIMD in use: {cpu['simd_in_use']}  (compiled: {', '.join(cpu['simd_compiled'])}; "
            "override with EDGEAFFECT_SIMD)",
            f"  OpenMP: {'yes, ' + str(cpu['openmp_max_threads']) + ' threads' if cpu['openmp'] else 'no (single-threaded)'}",
        ]
    else:
        lines.append(f"native CPU module: NOT available: {cpu['reason']}")
    if cuda.get("compiled"):
        lines.append(f"CUDA module: built for sm {cuda['compiled_archs']} (CUDA runtime {cuda['runtime_version']})")
        if cuda["device_count"]:
            for i, dev in enumerate(cuda["devices"]):
                lines.append(f"  device {i}: {dev['name']} (sm {dev['compute_capability']}, "
                             f"{dev['memory_bytes'] / 2**30:.1f} GiB)")
        else:
            lines.append(f"  no usable device: {cuda['reason']}")
    else:
        lines.append(f"CUDA module: not built: {cuda['reason']}")
    lines.append("backends:")
    for name, reasons in facts["backends"].items():
        lines.append(f"  {name:<12} {'available' if not reasons else 'unavailable: ' + '; '.join(reasons)}")
    auto = facts["auto"]
    lines.append(f"auto policy here: backends {' > '.join(auto['backend_order'])}; CPU precisions "
                 f"{' > '.join(auto['cpu_precision_order'])} (INT8 dot products: {'yes' if auto['int8_dot_products'] else 'no'})")
    lines.append(f"models: {', '.join(facts['models']) or 'none registered yet'}")
    if facts.get("explainers"):
        lines.append(f"explainers: {', '.join(facts['explainers'])} (edgeaffect explain IMAGE, "
                     "edgeaffect.explain.load_explainer())")
    lines.append(f"export profiles: {', '.join(facts['profiles'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    facts = collect()
    print(json.dumps(facts, indent=2) if "--json" in argv else format_text(facts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
