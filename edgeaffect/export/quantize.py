"""Named INT8 quantisation presets by target (optimum-style), each with the
reasons for its flags.

- ort-x86-u8s8: ONNX Runtime static QDQ, uint8 activations / int8 weights,
  per-channel weights. On x86 this is faster than s8s8 (VNNI's u8 x s8 dot
  product; measured in DESIGN.md).
- ort-tensorrt-s8s8: symmetric int8 activations and weights (zero points 0),
  per-channel weights: the QDQ form TensorRT's explicit quantisation wants,
  and what the Jetson profiles build engines from.
- nncf-openvino: OpenVINO's own post-training quantisation (NNCF, the
  "performance" preset = symmetric), measured fastest on CPUs here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..runtime.artifact import read_onnx_artifact
from .calibration import CalibrationData
from .onnx_export import write_metadata


@dataclass(frozen=True)
class QuantPreset:
    name: str
    engine: str  # "onnxruntime" or "nncf"
    activation_type: str = "uint8"
    weight_type: str = "int8"
    symmetric_activations: bool = False
    per_channel: bool = True
    description: str = ""


PRESETS = {
    p.name: p
    for p in (
        QuantPreset("ort-x86-u8s8", "onnxruntime", "uint8", "int8", False, True,
                    "x86 CPUs: u8 activations x s8 weights maps onto VNNI/AMX"),
        QuantPreset("ort-tensorrt-s8s8", "onnxruntime", "int8", "int8", True, True,
                    "TensorRT explicit quantisation: symmetric s8 QDQ"),
        QuantPreset("nncf-openvino", "nncf", "int8", "int8", True, True, "OpenVINO CPU via NNCF (performance preset)"),
    )
}


def activation_matmuls(onnx_path: str | Path) -> list[str]:
    """Names of the MatMul nodes whose two inputs are both activations (attention's
    Q K^T and P V). Quantising them costs transformers most of their INT8 accuracy
    loss for little speed: their operands change every call and have outliers."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    constants = {i.name for i in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and not any(i in constants for i in n.input)]


def quantize_onnx(src: str | Path, dst: str | Path, preset_name: str, calibration: CalibrationData) -> dict:
    """Static QDQ INT8 with ONNX Runtime; returns calibration facts for the metadata."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    preset = PRESETS[preset_name]
    if preset.engine != "onnxruntime":
        raise ValueError(f"preset {preset_name} is not an ONNX Runtime preset")
    types = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    from onnxruntime.quantization.shape_inference import quant_pre_process

    info = read_onnx_artifact(src)
    # ONNX Runtime's recommended pre-processing (shape inference, graph
    # optimisation) before calibration; it keeps the metadata.
    prepared = Path(dst).with_suffix(".prep.onnx")
    quant_pre_process(str(src), str(prepared), skip_symbolic_shape=False)
    # Only the weight-carrying compute ops are quantised (the rest run in fp32
    # between DQ and Q), and never the attention MatMuls between activations.
    excluded = activation_matmuls(prepared)
    quantize_static(
        str(prepared), str(dst), calibration, quant_format=QuantFormat.QDQ, per_channel=preset.per_channel,
        activation_type=types[preset.activation_type], weight_type=types[preset.weight_type],
        calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=["Conv", "MatMul", "Gemm"],
        nodes_to_exclude=excluded,
        extra_options={"ActivationSymmetric": preset.symmetric_activations, "WeightSymmetric": True},
    )
    prepared.unlink(missing_ok=True)
    facts = {"preset": preset_name, "samples": len(calibration), "method": "minmax",
             "quantized_ops": ["Conv", "MatMul", "Gemm"], "activation_matmuls_kept_fp32": len(excluded)}
    info.precision, info.calibration = "int8", facts
    write_metadata(dst, info)
    return facts


def quantize_openvino(src_onnx: str | Path, xml_path: str | Path, calibration: CalibrationData) -> dict:
    """OpenVINO IR INT8 through NNCF post-training quantisation."""
    import nncf
    import openvino as ov

    from ..runtime.artifact import write_sidecar

    info = read_onnx_artifact(src_onnx)
    model = ov.convert_model(str(src_onnx))
    batches = list(calibration.batches())
    dataset = nncf.Dataset(batches, lambda item: item[calibration.input_name])
    # NNCF's default mode, not model_type=TRANSFORMER: measured on the fer
    # Swin student (OpenVINO 2026.4, NNCF 3.4), the transformer mode's IR gave
    # batch-dependent outputs (78% top-1 agreement between batch 256 and
    # batch 1) and lower accuracy; the default mode's IR is batch-consistent.
    # NNCF counts dataset items (our batches), not samples.
    quantized = nncf.quantize(model, dataset, preset=nncf.QuantizationPreset.PERFORMANCE, subset_size=len(batches))
    Path(xml_path).parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(xml_path))
    facts = {"preset": "nncf-openvino", "samples": len(calibration), "nncf": nncf.__version__}
    info.format, info.precision, info.calibration = "openvino", "int8", facts
    write_sidecar(xml_path, info)
    return facts


def activation_amax_from_qdq(qdq_onnx: str | Path) -> dict[str, float]:
    """Per-tensor activation ranges (amax = scale * 127) of a symmetric QDQ
    ONNX: the contents of a TensorRT calibration cache for the same model."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(qdq_onnx))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    weights = set(inits)
    amax = {}
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in weights:
            continue
        scale = inits.get(node.input[1])
        if scale is not None and np.size(scale) == 1:
            amax[node.input[0]] = float(np.asarray(scale).reshape(())) * 127.0
    return amax

