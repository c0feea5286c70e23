"""ONNX -> OpenVINO IR (.xml/.bin) with a sidecar self-description."""

from __future__ import annotations

from pathlib import Path

from ..runtime.artifact import read_onnx_artifact, write_sidecar


def export_openvino_ir(onnx_path: str | Path, xml_path: str | Path, fp16_weights: bool = False):
    """Converts an fp32 ONNX artifact to OpenVINO IR. `fp16_weights` stores
    weights in half precision (OpenVINO decompresses them on load)."""
    import openvino as ov

    info = read_onnx_artifact(onnx_path)
    xml_path = Path(xml_path)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.convert_model(str(onnx_path)), str(xml_path), compress_to_fp16=fp16_weights)
    info.format = "openvino"
    info.precision = "fp16" if fp16_weights else info.precision
    write_sidecar(xml_path, info)
    return info
