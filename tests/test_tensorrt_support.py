"""TensorRT pieces that need no TensorRT, and the TensorRT backend itself
(marked `tensorrt`: skips where TensorRT is absent)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from conftest import _has
from edgeaffect.backends.tensorrt_support import CalibrationCache, EngineKey, batch_profile, trtexec_command


def test_calibration_cache_round_trip(tmp_path):
    cache = CalibrationCache.from_amax({"input": 1.0, "/conv1/Conv_output_0": 6.25, "x:y": 0.5})
    text = cache.dumps()
    assert text.splitlines()[0] == "TRT-100000-EntropyCalibration2"
    assert "input: 3c010204" in text  # 1/127 as big-endian float32 bits
    path = cache.write(tmp_path / "model.calib")
    again = CalibrationCache.read(path)
    assert list(again.scales) == ["input", "/conv1/Conv_output_0", "x:y"]  # names with ':' survive
    for name, scale in cache.scales.items():
        assert again.scales[name] == struct.unpack(">f", struct.pack(">f", scale))[0]
    assert abs(again.amax()["/conv1/Conv_output_0"] - 6.25) < 1e-5


def test_calibration_cache_reads_tensorrts_own_files():
    text = "TRT-8601-EntropyCalibration2\nimages: 3c010a14\n/model.0/conv/Conv_output_0: 3df5587f\n"
    cache = CalibrationCache.loads(text)
    assert cache.tensorrt_version == 8601 and cache.algorithm == "EntropyCalibration2"
    assert cache.scales["images"] == pytest.approx(0.00787594, rel=1e-6)  # 0x3c010a14


@pytest.mark.parametrize("text,match", [("", "empty"), ("hello\n", "not a TensorRT calibration cache"),
                                        ("TRT-1-X\nname: 12zz\n", "line 2")])
def test_calibration_cache_rejects_garbage(text, match):
    with pytest.raises(ValueError, match=match):
        CalibrationCache.loads(text)


def test_calibration_cache_rejects_bad_scales():
    with pytest.raises(ValueError, match="positive and finite"):
        CalibrationCache({"x": float("nan")}).dumps()


def test_engine_key_changes_with_every_component():
    shapes = (batch_profile("input", ("batch", 1, 48, 48), 1, 1, 8),)
    base = EngineKey("abc", "10.3.0", "Orin", "fp16", shapes)
    variants = [EngineKey("abd", "10.3.0", "Orin", "fp16", shapes), EngineKey("abc", "10.4.0", "Orin", "fp16", shapes),
                EngineKey("abc", "10.3.0", "RTX 4090", "fp16", shapes), EngineKey("abc", "10.3.0", "Orin", "int8", shapes),
                EngineKey("abc", "10.3.0", "Orin", "fp16", (batch_profile("input", ("b", 1, 48, 48), 1, 1, 16),))]
    digests = {base.digest()} | {v.digest() for v in variants}
    assert len(digests) == 6
    assert base.file_name("fer").startswith("fer-fp16-trt10.3.0-orin-") and base.file_name("fer").endswith(".engine")
    assert base.digest() == EngineKey("abc", "10.3.0", "Orin", "fp16", shapes).digest()


def test_batch_profile_checks_order():
    assert batch_profile("x", ("b", 3, 4), 1, 2, 8) == ("x", (1, 3, 4), (2, 3, 4), (8, 3, 4))
    with pytest.raises(ValueError, match="min"):
        batch_profile("x", ("b", 3), 4, 2, 8)


def test_trtexec_command_lines():
    shapes = (("input", (1, 1, 48, 48), (4, 1, 48, 48), (8, 1, 48, 48)),)
    int8 = trtexec_command("m.onnx", "m.engine", "int8", shapes, 512, timing_cache="t.cache",
                           calibration_cache="m.calib", use_dla_core=0, builder_optimization_level=4)
    assert int8 == ["trtexec", "--onnx=m.onnx", "--saveEngine=m.engine", "--memPoolSize=workspace:512M", "--int8",
                    "--fp16", "--calib=m.calib", "--minShapes=input:1x1x48x48", "--optShapes=input:4x1x48x48",
                    "--maxShapes=input:8x1x48x48", "--timingCacheFile=t.cache", "--useDLACore=0",
                    "--allowGPUFallback", "--builderOptimizationLevel=4"]
    assert "--fp16" not in trtexec_command("m.onnx", "m.engine", "fp32")
    with pytest.raises(ValueError, match="precision"):
        trtexec_command("m.onnx", "m.engine", "int4")


@pytest.mark.tensorrt
def test_tensorrt_backend_matches_onnxruntime(tiny, tmp_path):
    if not _has("tensorrt"):
        pytest.skip("TensorRT is not installed (it cannot be installed in our development and CI environments)")
    import edgeaffect
    import tiny_model

    raw = tiny_model.make_images(9, seed=4)[0]
    with edgeaffect.load(tiny.card.name, backend="onnxruntime", precision="fp32") as ref, \
            edgeaffect.load(tiny.card.name, backend="tensorrt", precision="fp16", engine_cache=tmp_path) as trt:
        np.testing.assert_allclose(trt.predict(raw).probabilities, ref.predict(raw).probabilities, atol=5e-3)
