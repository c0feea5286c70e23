"""Self-describing artifacts (DESIGN.md rule 4).

Every exported file carries: model name and version, task, labels, input
spec, preprocessing, output kind, the precision actually built, calibration
data, and the edgeaffect version. ONNX files hold them in metadata_props;
OpenVINO IR and TensorRT engines in a sidecar `<file>.edgeaffect.json`.
Loading checks them: a mismatch is an error, never a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .. import __version__
from ..models.card import InputSpec, ModelCard, Preprocessing
from ..errors import ArtifactMismatchError, CorruptArtifactError
from .onnx_proto import read_onnx_header

PREFIX = "edgeaffect."
PRECISIONS = ("fp32", "fp16", "int8")
SIDECAR_SUFFIX = ".edgeaffect.json"


@dataclass
class ArtifactInfo:
    model: str
    model_version: str
    task: str
    labels: tuple[str, ...]
    inputs: tuple[InputSpec, ...]
    preprocessing: Preprocessing
    output_kind: str
    precision: str
    format: str  # "onnx", "openvino", "tensorrt"
    calibration: Optional[dict] = None
    edgeaffect_version: str = __version__
    extra: dict = field(default_factory=dict)

    @staticmethod
    def from_card(card: ModelCard, precision: str, fmt: str = "onnx", calibration: Optional[dict] = None,
                  extra: Optional[dict] = None) -> "ArtifactInfo":
        return ArtifactInfo(card.name, card.version, card.task, tuple(card.labels), tuple(card.inputs),
                            card.preprocessing, card.output_kind, precision, fmt, calibration, __version__,
                            dict(extra or {}))

    def to_metadata(self) -> dict[str, str]:
        return {
            PREFIX + "model": self.model,
            PREFIX + "model_version": self.model_version,
            PREFIX + "task": self.task,
            PREFIX + "labels": json.dumps(list(self.labels)),
            PREFIX + "inputs": json.dumps([[i.name, list(i.shape), i.dtype] for i in self.inputs]),
            PREFIX + "preprocessing": self.preprocessing.to_json(),
            PREFIX + "output_kind": self.output_kind,
            PREFIX + "precision": self.precision,
            PREFIX + "format": self.format,
            PREFIX + "calibration": json.dumps(self.calibration),
            PREFIX + "version": self.edgeaffect_version,
            PREFIX + "extra": json.dumps(self.extra, sort_keys=True),
        }

    @staticmethod
    def from_metadata(meta: dict[str, str], source: str) -> "ArtifactInfo":
        missing = [k for k in ("model", "labels", "inputs", "precision") if PREFIX + k not in meta]
        if missing:
            raise ArtifactMismatchError(
                f"{source} carries no edgeaffect metadata (missing {', '.join(missing)}): it was not exported by "
                "edgeaffect. Export it with `edgeaffect export` so that it describes itself"
            )
        try:
            inputs = tuple(InputSpec(n, tuple(s), d) for n, s, d in json.loads(meta[PREFIX + "inputs"]))
            return ArtifactInfo(
                model=meta[PREFIX + "model"],
                model_version=meta.get(PREFIX + "model_version", ""),
                task=meta.get(PREFIX + "task", "classification"),
                labels=tuple(json.loads(meta[PREFIX + "labels"])),
                inputs=inputs,
                preprocessing=Preprocessing.from_json(meta.get(PREFIX + "preprocessing", '{"name": "identity"}')),
                output_kind=meta.get(PREFIX + "output_kind", "logits"),
                precision=meta[PREFIX + "precision"],
                format=meta.get(PREFIX + "format", "onnx"),
                calibration=json.loads(meta.get(PREFIX + "calibration", "null")),
                edgeaffect_version=meta.get(PREFIX + "version", ""),
                extra=json.loads(meta.get(PREFIX + "extra", "{}")),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptArtifactError(f"{source}: unreadable edgeaffect metadata ({exc}); re-export the model") from exc

    def check_against(self, card: ModelCard, source: str) -> None:
        """Raises ArtifactMismatchError when the artifact is not this card's model."""
        problems = []
        if self.model != card.name:
            problems.append(f"it is model {self.model!r}, not {card.name!r}")
        if tuple(self.labels) != tuple(card.labels):
            problems.append(f"its labels {list(self.labels)} differ from the card's {list(card.labels)}")
        if [(i.name, tuple(i.shape)) for i in self.inputs] != [(i.name, tuple(i.shape)) for i in card.inputs]:
            problems.append(f"its inputs {[i.describe() for i in self.inputs]} differ from the card's "
                            f"{[i.describe() for i in card.inputs]}")
        if problems:
            raise ArtifactMismatchError(f"{source} does not match model {card.name!r}: " + "; ".join(problems) +
                                        ". Re-export it from this model, or load it by path")


def read_onnx_artifact(path: str | Path) -> ArtifactInfo:
    """Reads and checks an ONNX artifact's self-description (no onnx/torch needed)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist")
    meta, graph_inputs = read_onnx_header(path)
    info = ArtifactInfo.from_metadata(meta, str(path))
    declared = {i.name: i for i in info.inputs}
    actual = {name: (dtype, shape) for name, dtype, shape in graph_inputs}
    if set(declared) != set(actual):
        raise ArtifactMismatchError(f"{path}: graph inputs {sorted(actual)} differ from its metadata's {sorted(declared)}")
    for name, spec in declared.items():
        dtype, shape = actual[name]
        fixed_ok = all(isinstance(w, str) or w == g for w, g in zip(spec.shape, shape))
        if len(shape) != len(spec.shape) or not fixed_ok or dtype != spec.dtype:
            raise ArtifactMismatchError(f"{path}: graph input {name} is {dtype} {shape}, metadata says {spec.describe()}")
    return info


def sidecar_path(path: str | Path) -> Path:
    return Path(str(path) + SIDECAR_SUFFIX)


def write_sidecar(path: str | Path, info: ArtifactInfo) -> Path:
    target = sidecar_path(path)
    target.write_text(json.dumps(info.to_metadata(), indent=2, sort_keys=True) + "\n")
    return target


def read_sidecar(path: str | Path) -> ArtifactInfo:
    target = sidecar_path(path)
    if not target.exists():
        raise ArtifactMismatchError(f"{path} has no {target.name} beside it: it does not describe itself; "
                                    "export it with `edgeaffect export`")
    try:
        meta = json.loads(target.read_text())
    except ValueError as exc:
        raise CorruptArtifactError(f"{target} is not valid JSON ({exc})") from exc
    return ArtifactInfo.from_metadata(meta, str(path))


def read_artifact(path: str | Path) -> ArtifactInfo:
    """The self-description of any artifact: ONNX metadata or a sidecar JSON."""
    path = Path(path)
    if path.suffix == ".onnx":
        return read_onnx_artifact(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist")
    return read_sidecar(path)
