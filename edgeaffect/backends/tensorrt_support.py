"""The parts of TensorRT deployment that need no TensorRT: engine cache keys,
the INT8 calibration-cache file format, and trtexec command lines. All of it
is plain code with tests; the TensorRT-touching part (tensorrt_backend.py)
stays thin.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

# ------------------------------------------------------------------ engine cache


@dataclass(frozen=True)
class EngineKey:
    """What makes a serialized engine reusable: the exact ONNX bytes, the
    TensorRT version, the GPU, the precision and the optimisation-profile
    shapes. Anything else (a driver update aside) builds the same engine."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    precision: str
    shapes: tuple[tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]], ...]  # (input, min, opt, max)

    def digest(self) -> str:
        text = json.dumps([self.onnx_sha256, self.tensorrt_version, self.gpu_name, self.precision,
                           [[n, list(a), list(b), list(c)] for n, a, b, c in self.shapes]])
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def file_name(self, model: str) -> str:
        gpu = re.sub(r"[^a-z0-9]+", "-", self.gpu_name.lower()).strip("-")
        return f"{model}-{self.precision}-trt{self.tensorrt_version}-{gpu}-{self.digest()}.engine"


def batch_profile(name: str, shape: tuple, min_batch: int = 1, opt_batch: int = 1, max_batch: int = 32):
    """(name, min, opt, max) shapes for an input whose first axis is the batch."""
    if not 1 <= min_batch <= opt_batch <= max_batch:
        raise ValueError(f"batch sizes must satisfy 1 <= min ({min_batch}) <= opt ({opt_batch}) <= max ({max_batch})")
    rest = tuple(int(d) for d in shape[1:])
    return name, (min_batch, *rest), (opt_batch, *rest), (max_batch, *rest)


# ---------------------------------------------------------- calibration cache


@dataclass
class CalibrationCache:
    """TensorRT's INT8 calibration cache: a header line
    `TRT-<version>-<algorithm>` then one `tensor: scale` line per tensor,
    the scale written as the 8 hex digits of its big-endian IEEE-754 float32
    (scale = amax / 127). trtexec reads it with --calib=FILE."""

    scales: dict[str, float]
    tensorrt_version: int = 100000  # TensorRT 10.0.0 as TensorRT encodes it (major*10000 + minor*100 + patch)
    algorithm: str = "EntropyCalibration2"

    @staticmethod
    def from_amax(amax: dict[str, float], **kwargs) -> "CalibrationCache":
        return CalibrationCache({k: float(v) / 127.0 for k, v in amax.items()}, **kwargs)

    def amax(self) -> dict[str, float]:
        return {k: v * 127.0 for k, v in self.scales.items()}

    def dumps(self) -> str:
        lines = [f"TRT-{self.tensorrt_version}-{self.algorithm}"]
        for name, scale in self.scales.items():
            if not (scale > 0 and scale == scale and scale != float("inf")):
                raise ValueError(f"calibration scale of {name!r} is {scale}; scales must be positive and finite")
            lines.append(f"{name}: {struct.pack('>f', scale).hex()}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def loads(text: str) -> "CalibrationCache":
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if not lines:
            raise ValueError("empty calibration cache")
        header = re.fullmatch(r"TRT-(\d+)-(\w+)", lines[0])
        if not header:
            raise ValueError(f"not a TensorRT calibration cache: first line {lines[0]!r} is not 'TRT-<version>-<algorithm>'")
        scales = {}
        for number, line in enumerate(lines[1:], start=2):
            name, sep, value = line.rpartition(":")
            if not sep or not re.fullmatch(r"[0-9a-fA-F]{8}", value.strip()):
                raise ValueError(f"calibration cache line {number}: {line!r} is not 'tensor: 8 hex digits'")
            scales[name.strip()] = struct.unpack(">f", bytes.fromhex(value.strip()))[0]
        return CalibrationCache(scales, int(header.group(1)), header.group(2))

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.dumps())
        return path

    @staticmethod
    def read(path: str | Path) -> "CalibrationCache":
        return CalibrationCache.loads(Path(path).read_text())


# ------------------------------------------------------------- trtexec commands


def trtexec_command(onnx_path: str | Path, engine_path: str | Path, precision: str,
                    shapes: tuple = (), workspace_mib: int = 1024, timing_cache: Optional[str | Path] = None,
                    calibration_cache: Optional[str | Path] = None, use_dla_core: Optional[int] = None,
                    builder_optimization_level: Optional[int] = None) -> list[str]:
    """The trtexec command that builds the same engine on the target itself
    (for Jetson users who build where they deploy).

    Example:
        >>> " ".join(trtexec_command("fer.onnx", "fer.engine", "fp16", [("input", (1, 1, 48, 48), (1, 1, 48, 48), (8, 1, 48, 48))]))
        'trtexec --onnx=fer.onnx --saveEngine=fer.engine --memPoolSize=workspace:1024M --fp16 --minShapes=input:1x1x48x48 --optShapes=input:1x1x48x48 --maxShapes=input:8x1x48x48'
    """
    if precision not in ("fp32", "fp16", "int8"):
        raise ValueError(f"precision={precision!r} must be fp32, fp16 or int8")
    cmd = ["trtexec", f"--onnx={onnx_path}", f"--saveEngine={engine_path}", f"--memPoolSize=workspace:{workspace_mib}M"]
    if precision == "fp16":
        cmd.append("--fp16")
    elif precision == "int8":
        # A QDQ ONNX carries its scales; --fp16 lets the layers left unquantised run in half precision.
        cmd += ["--int8", "--fp16"]
        if calibration_cache:
            cmd.append(f"--calib={calibration_cache}")
    for flag, index in (("--minShapes", 1), ("--optShapes", 2), ("--maxShapes", 3)):
        if shapes:
            cmd.append(flag + "=" + ",".join(f"{s[0]}:{'x'.join(str(d) for d in s[index])}" for s in shapes))
    if timing_cache:
        cmd.append(f"--timingCacheFile={timing_cache}")
    if use_dla_core is not None:
        cmd += [f"--useDLACore={use_dla_core}", "--allowGPUFallback"]
    if builder_optimization_level is not None:
        cmd.append(f"--builderOptimizationLevel={builder_optimization_level}")
    return cmd
