"""Model cards: everything the runtime, the exporters and the evaluator need
to know about a model, in one declarative object (DESIGN.md rule 5)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Optional, Union

Dim = Union[int, str]  # an int is fixed; a str names a dynamic axis, e.g. "batch"


@dataclass(frozen=True)
class InputSpec:
    """One model input: name, shape (named dynamic axes as strings) and dtype."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str = "float32"

    def dynamic_axes(self) -> dict[int, str]:
        return {i: d for i, d in enumerate(self.shape) if isinstance(d, str)}

    def matches(self, shape: tuple[int, ...]) -> bool:
        """True when a concrete shape fits (dynamic axes take any size >= 1)."""
        return len(shape) == len(self.shape) and all(
            isinstance(want, str) or want == got for want, got in zip(self.shape, shape)
        )

    def describe(self) -> str:
        return f"{self.name}: ({', '.join(str(d) for d in self.shape)}) {self.dtype}"


@dataclass(frozen=True)
class Preprocessing:
    """A numpy preprocessing step by registered name, with its parameters
    (edgeaffect.runtime.preprocessing); every backend runs the same one."""

    name: str
    params: tuple[tuple[str, object], ...] = ()

    def kwargs(self) -> dict:
        return dict(self.params)

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "params": dict(self.params)}, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> "Preprocessing":
        data = json.loads(text)
        return Preprocessing(data["name"], tuple(sorted(data.get("params", {}).items())))


@dataclass(frozen=True)
class ExportConfig:
    """How the model is exported and how closely exports must match torch."""

    # torch's exporter writes opset 18 natively (older opsets go through a
    # version converter that fails on some ops); ONNX Runtime >= 1.14,
    # OpenVINO >= 2023.0 and TensorRT 10 all read it.
    opset: tuple[tuple[str, int], ...] = (("onnxruntime", 18), ("openvino", 18), ("tensorrt", 18))
    atol: float = 1e-4  # fp32 export vs torch, on the model's outputs
    rtol: float = 1e-3
    fp16_atol: float = 5e-3

    def opset_for(self, target: str) -> int:
        return dict(self.opset).get(target, dict(self.opset)["onnxruntime"])


@dataclass(frozen=True)
class ModelCard:
    """A registered model.

    `artifacts` maps a precision ("fp32", "fp16", "int8") to a file path,
    relative to the package's `models/artifacts` folder for shipped models or
    absolute for user artifacts. `builder` is "module:function" returning the
    torch module (training/export extra only); it is imported lazily so the
    runtime never needs torch.
    """

    name: str
    version: str
    task: str  # "classification"
    labels: tuple[str, ...]
    inputs: tuple[InputSpec, ...]
    preprocessing: Preprocessing
    output_kind: str = "logits"  # or "probabilities"
    export: ExportConfig = field(default_factory=ExportConfig)
    artifacts: tuple[tuple[str, str], ...] = ()
    eval_format: str = ""  # a name in edgeaffect.evaluation.datasets
    builder: Optional[str] = None
    description: str = ""
    # Architecture facts a backend may need beyond the weights, e.g. the
    # attention heads of an RBTransformer for the native engine.
    architecture: tuple[tuple[str, object], ...] = ()

    def artifact_map(self) -> dict[str, str]:
        return dict(self.artifacts)

    def summary(self) -> dict:
        data = asdict(self)
        data["inputs"] = [i.describe() for i in self.inputs]
        return data
