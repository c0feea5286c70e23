"""Deployment target profiles: one declarative TOML file per target, in the
repository's export/ folder (installed as edgeaffect/profiles). One table of
profiles drives validation, help text and `edgeaffect export --target`."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FORMATS = ("onnx", "openvino")
PRECISIONS = ("fp32", "fp16", "int8")
TARGETS = ("onnxruntime", "openvino", "tensorrt")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    target: str
    format: str
    precision: str
    device: str
    quantization: dict = field(default_factory=dict)
    gate: dict = field(default_factory=dict)
    tensorrt: dict = field(default_factory=dict)
    path: Optional[Path] = None

    @property
    def needs_calibration(self) -> bool:
        return self.precision == "int8"


def profile_dirs() -> list[Path]:
    """Where profiles are looked up: $EDGEAFFECT_PROFILES, the installed
    package's profiles/, and a source checkout's export/."""
    dirs = []
    if os.environ.get("EDGEAFFECT_PROFILES"):
        dirs.append(Path(os.environ["EDGEAFFECT_PROFILES"]))
    package = Path(__file__).resolve().parents[1]
    dirs += [package / "profiles", package.parent / "export"]
    return [d for d in dirs if d.is_dir()]


def parse_profile(path: Path) -> Profile:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"profile {path} is not valid TOML: {exc}") from exc
    missing = [k for k in ("name", "target", "format", "precision") if k not in data]
    if missing:
        raise ValueError(f"profile {path} lacks {missing}")
    checks = (("target", TARGETS), ("format", FORMATS), ("precision", PRECISIONS))
    for key, allowed in checks:
        if data[key] not in allowed:
            raise ValueError(f"profile {path}: {key}={data[key]!r} must be one of {allowed}")
    if data["precision"] == "int8" and "preset" not in data.get("quantization", {}):
        raise ValueError(f"profile {path}: int8 needs [quantization] preset = ...")
    return Profile(data["name"], data.get("description", ""), data["target"], data["format"], data["precision"],
                   data.get("device", "cpu"), dict(data.get("quantization", {})), dict(data.get("gate", {})),
                   dict(data.get("tensorrt", {})), path)


def available_profiles() -> dict[str, Profile]:
    found: dict[str, Profile] = {}
    for directory in profile_dirs():
        for path in sorted(directory.glob("*.toml")):
            profile = parse_profile(path)
            found.setdefault(profile.name, profile)
    return found


def get_profile(name_or_path: str) -> Profile:
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return parse_profile(path)
    profiles = available_profiles()
    if name_or_path not in profiles:
        raise ValueError(f"unknown target profile {name_or_path!r}; available: {', '.join(sorted(profiles)) or 'none'} "
                         "(or a path to a .toml profile)")
    return profiles[name_or_path]
