"""The TensorRT part of an export: the trtexec command that builds the
engine on the target, a calibration cache for INT8, and the engine itself
where TensorRT is installed."""

from __future__ import annotations

import shlex
from pathlib import Path

from ..backends.tensorrt_support import CalibrationCache, batch_profile, trtexec_command
from ..models.card import ModelCard
from .profiles import Profile


def tensorrt_outputs(card: ModelCard, profile: Profile, out_dir: Path, artifacts: dict) -> dict:
    options = profile.tensorrt
    spec = card.inputs[0]
    shapes = (batch_profile(spec.name, spec.shape, 1, 1, int(options.get("max_batch", 8))),)
    result: dict = {}
    if profile.precision == "int8":
        from .quantize import activation_amax_from_qdq

        onnx_path = Path(artifacts["onnx-int8"])
        cache = CalibrationCache.from_amax(activation_amax_from_qdq(onnx_path))
        cache_path = cache.write(out_dir / f"{card.name}-int8.calib")
        result["calibration_cache"] = str(cache_path)
        result["calibration_tensors"] = len(cache.scales)
    else:
        onnx_path = Path(artifacts["onnx-fp32"])
    engine = out_dir / f"{card.name}-{profile.precision}.engine"
    command = trtexec_command(onnx_path.name, engine.name, profile.precision, shapes,
                              int(options.get("workspace_mib", 1024)), timing_cache="timing.cache",
                              builder_optimization_level=options.get("builder_optimization_level"))
    script = out_dir / "build_engine.sh"
    script.write_text("#!/usr/bin/env bash\n# Build the TensorRT engine on the target device (Jetson or RTX machine),\n"
                      "# from this folder, with the TensorRT that will run it.\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\n"
                      + shlex.join(command) + "\n")
    script.chmod(0o755)
    result.update({"trtexec": shlex.join(command), "build_script": str(script), "onnx": str(onnx_path)})
    from ..backends import create_backend

    missing = type(create_backend("tensorrt"))._missing_dependency()
    result["engine_built"] = False
    result["engine_note"] = (f"engine not built here: {missing}; run build_engine.sh on the target" if missing else
                             "TensorRT is installed: load the ONNX with backend='tensorrt' to build and cache the engine")
    return result
