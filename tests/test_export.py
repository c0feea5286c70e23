"""Export, self-description, quantisation presets, the accuracy gate, the
profiles, and the export/eval commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tiny_model
from conftest import OUTSIDE_SOURCE
from edgeaffect.export.gate import AccuracyGateError, accuracy_gate
from edgeaffect.export.profiles import available_profiles, get_profile
from edgeaffect.runtime.artifact import ArtifactInfo, read_artifact, read_onnx_artifact
from edgeaffect.runtime.onnx_proto import read_onnx_header

REQUIRED_PROFILES = ["openvino-cpu-int8", "onnxruntime-cpu-fp32", "onnxruntime-cpu-int8",
                     "tensorrt-jetson-orin-fp16", "tensorrt-jetson-orin-int8", "tensorrt-rtx-fp16"]


def test_required_profiles_exist_and_parse():
    profiles = available_profiles()
    for name in REQUIRED_PROFILES:
        assert name in profiles, name
    assert profiles["onnxruntime-cpu-int8"].quantization["preset"] == "ort-x86-u8s8"
    assert profiles["tensorrt-jetson-orin-int8"].quantization["preset"] == "ort-tensorrt-s8s8"
    with pytest.raises(ValueError, match="unknown target profile"):
        get_profile("coreml")


def test_metadata_round_trip(tiny):
    import onnx

    info = read_onnx_artifact(tiny.onnx_int8)
    assert info.model == tiny.card.name and info.precision == "int8" and info.labels == tiny_model.LABELS
    assert info.calibration["preset"] == "ort-x86-u8s8" and info.calibration["samples"] == 300
    again = ArtifactInfo.from_metadata(info.to_metadata(), "roundtrip")
    assert again == info
    # Our protobuf reader agrees with the onnx package.
    meta, inputs = read_onnx_header(tiny.onnx_fp32)
    model = onnx.load(str(tiny.onnx_fp32))
    assert meta == {p.key: p.value for p in model.metadata_props}
    assert inputs == [("input", "float32", ("batch", 1, 16, 16))]


def test_export_reports_validation_and_gate(tiny):
    fp32 = tiny.reports["fp32"]["steps"][0]
    assert fp32["validation"]["passed"] and fp32["validation"]["max_abs_error"] < 1e-4
    assert fp32["validated_on"] == "random and real"
    gate = tiny.reports["int8"]["steps"][-1]["gate"]
    assert gate["passed"] and gate["n"] == 400 and gate["drop"] <= 0.01
    assert 0.97 <= gate["top1_agreement"] <= 1.0
    assert json.loads((Path(tiny.reports["int8"]["out"]) / "report.json").read_text())["profile"] == "onnxruntime-cpu-int8"


@pytest.mark.openvino
def test_openvino_exports_describe_themselves(tiny):
    if not hasattr(tiny, "ov_int8"):
        pytest.skip("openvino/nncf are not installed")
    info = read_artifact(tiny.ov_int8)
    assert info.format == "openvino" and info.precision == "int8" and info.calibration["preset"] == "nncf-openvino"


def test_fp16_export_validates(tiny, tmp_path):
    from edgeaffect.export.onnx_export import convert_fp16, validate_against_torch

    fp16 = tmp_path / "tiny-fp16.onnx"
    info = convert_fp16(tiny.onnx_fp32, fp16)
    assert info.precision == "fp16" and read_onnx_artifact(fp16).precision == "fp16"
    x = tiny_model.make_images(9, seed=5)[0]
    from edgeaffect.runtime.preprocessing import grey_image

    report = validate_against_torch(tiny.card, tiny.module, fp16, [grey_image(x, **dict(tiny.card.preprocessing.params))],
                                    atol=tiny.card.export.fp16_atol, rtol=1e-2)
    assert report.passed and report.max_abs_error > 0  # fp16 really differs, within tolerance


def test_gate_refuses_a_deliberately_broken_quantisation(tiny, tmp_path):
    """Calibrating on blank images gives activation ranges far too small:
    every real activation saturates, and the gate must refuse the result."""
    from edgeaffect.export.calibration import CalibrationData
    from edgeaffect.export.pipeline import _ort_outputs, model_inputs
    from edgeaffect.export.quantize import quantize_onnx

    blank = CalibrationData("input", np.full((32, 1, 16, 16), -1.0, np.float32), progress=False)
    broken = tmp_path / "broken-int8.onnx"
    quantize_onnx(tiny.onnx_fp32, broken, "ort-x86-u8s8", blank)
    x, y = model_inputs(tiny.card, tiny.val, None)
    reference, candidate = _ort_outputs(tiny.onnx_fp32, x), _ort_outputs(broken, x)
    with pytest.raises(AccuracyGateError, match="fails the accuracy gate"):
        accuracy_gate(reference, candidate, y, tiny_model.LABELS, max_drop=0.01)
    forced = accuracy_gate(reference, candidate, y, tiny_model.LABELS, max_drop=0.01, force=True)
    assert not forced.passed and forced.forced and forced.drop > 0.2


def test_tensorrt_profiles_write_trtexec_and_calibration_cache(tiny, tmp_path):
    from edgeaffect.backends.tensorrt_support import CalibrationCache
    from edgeaffect.export.pipeline import export_model

    report = export_model(tiny.card.name, "tensorrt-jetson-orin-int8", calib=tiny.calib, val=tiny.val,
                          out=tmp_path / "trt", progress=False)
    trt = report["tensorrt"]
    assert trt["trtexec"].startswith("trtexec --onnx=tiny-test-int8-ort-tensorrt-s8s8.onnx") and "--int8" in trt["trtexec"]
    assert "--maxShapes=input:8x1x16x16" in trt["trtexec"]
    cache = CalibrationCache.read(trt["calibration_cache"])
    assert "input" in cache.scales and len(cache.scales) == trt["calibration_tensors"] >= 3
    assert all(s > 0 for s in cache.scales.values())
    assert Path(trt["build_script"]).read_text().rstrip().endswith(trt["trtexec"])
    fp16 = export_model(tiny.card.name, "tensorrt-rtx-fp16", out=tmp_path / "rtx", progress=False)
    assert "--fp16" in fp16["tensorrt"]["trtexec"] and "--maxShapes=input:32x1x16x16" in fp16["tensorrt"]["trtexec"]


def cli(tiny, *args):
    env = {**os.environ, "EDGEAFFECT_MODELS": "tiny_plugin",
           "PYTHONPATH": os.pathsep.join([str(tiny.root), str(Path(__file__).parent)])}
    (tiny.root / "tiny_plugin.py").write_text(
        f"import tiny_model\ntiny_model.register(__import__('pathlib').Path(r'{tiny.weights}'))\n")
    return subprocess.run([sys.executable, "-m", "edgeaffect", *args], capture_output=True, text=True, env=env,
                          cwd=OUTSIDE_SOURCE)


def test_export_and_eval_commands(tiny, tmp_path):
    result = cli(tiny, "export", "tiny-test", "--target", "onnxruntime-cpu-int8", "--calib", str(tiny.calib),
                 "--val", str(tiny.val), "--out", str(tmp_path / "cli"))
    assert result.returncode == 0, result.stderr
    assert "top-1 agreement" in result.stdout and "report:" in result.stdout
    artifact = tmp_path / "cli" / "tiny-test-int8-ort-x86-u8s8.onnx"
    result = cli(tiny, "eval", str(artifact), "--data", str(tiny.val), "--backend", "onnxruntime", "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    for key in ("model", "backend", "precision", "n", "accuracy", "macro_f1", "per_class_recall", "confusion"):
        assert key in metrics
    assert metrics["precision"] == "int8" and metrics["n"] == 400 and metrics["accuracy"] > 0.9
    assert np.array(metrics["confusion"]).sum() == 400


def test_eval_command_errors_are_clear(tiny):
    result = cli(tiny, "eval", "tiny-test", "--data", "/nonexistent.npz")
    assert result.returncode == 2 and "does not exist" in result.stderr
    result = cli(tiny, "export", "tiny-test", "--target", "onnxruntime-cpu-int8")
    assert result.returncode == 2 and "--calib" in result.stderr
