"""The runtime chain on the tests' tiny model: backends at parity with the
torch reference, the auto policy, errors, thread safety."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys

import numpy as np
import pytest

import edgeaffect
import tiny_model
from conftest import OUTSIDE_SOURCE, _has
from edgeaffect.backends import Request, hardware, select_backend
from edgeaffect.runtime import (
    ArtifactMismatchError,
    BackendUnavailableError,
    CorruptArtifactError,
    InputError,
)

openvino = pytest.mark.openvino


def torch_logits(tiny, raw):
    import torch

    from edgeaffect.runtime.preprocessing import grey_image

    x = grey_image(raw, **dict(tiny.card.preprocessing.params))
    with torch.inference_mode():
        return tiny.module(torch.from_numpy(x)).numpy()


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


BACKEND_CASES = [("onnxruntime", "fp32"), ("onnxruntime", "int8"),
                 pytest.param("openvino", "fp32", marks=openvino), pytest.param("openvino", "int8", marks=openvino)]


@pytest.mark.parametrize("backend,precision", BACKEND_CASES)
def test_backend_parity_with_torch(tiny, backend, precision):
    if backend == "openvino" and not _has("openvino"):
        pytest.skip("openvino is not installed (pip install '.[openvino]')")
    raw, y = tiny_model.make_images(97, seed=11)  # an odd batch
    reference = softmax(torch_logits(tiny, raw))
    with edgeaffect.load(tiny.card.name, backend=backend, precision=precision, threads=2) as model:
        result = model.predict(raw)
    assert result.backend == backend and result.precision == precision
    assert result.probabilities.shape == (97, 3)
    if precision == "fp32":
        np.testing.assert_allclose(result.probabilities, reference, atol=1e-5)
    else:  # int8: the gate's measures on fresh data
        assert np.mean(result.top_indices() == reference.argmax(1)) >= 0.97
        assert np.abs(result.probabilities - reference).max() < 0.2
    assert np.mean(result.top_indices() == y) > 0.9  # the model really classifies


def test_openvino_reports_the_precision_that_ran(tiny):
    if not _has("openvino"):
        pytest.skip("openvino is not installed")
    with edgeaffect.load(tiny.card.name, backend="openvino", precision="fp32") as model:
        assert model.backend.metadata["inference_precision"] == "f32"  # not the bf16 AMX default


@openvino
def test_openvino_batch_one_copy_matches_the_model_as_exported(tiny):
    if not _has("openvino"):
        pytest.skip("openvino is not installed")
    raw, _ = tiny_model.make_images(7, seed=11)  # odd count: one batch of 7 and seven single calls
    with edgeaffect.load(tiny.card.name, backend="openvino", precision="fp32") as static, \
            edgeaffect.load(tiny.card.name, backend="openvino", precision="fp32", static_batch_one=False) as dynamic:
        assert static.backend.metadata["static_batch_one"] and not dynamic.backend.metadata["static_batch_one"]
        batch = static.predict(raw).probabilities
        for i in range(len(raw)):
            single = static.predict(raw[i:i + 1]).probabilities
            np.testing.assert_allclose(single, dynamic.predict(raw[i:i + 1]).probabilities, atol=1e-6)
            np.testing.assert_allclose(single[0], batch[i], atol=1e-5)
    np.testing.assert_allclose(batch, softmax(torch_logits(tiny, raw)), atol=1e-5)


@openvino
def test_batch_one_reshape_applies_only_to_a_lone_dynamic_batch():
    if not _has("openvino"):
        pytest.skip("openvino is not installed")
    import openvino as ov
    from openvino import opset13 as ops

    from edgeaffect.backends.openvino_backend import reshaped_to_batch_one

    def relu_model(*shapes):
        params = [ops.parameter(ov.PartialShape(list(s)), ov.Type.f32) for s in shapes]
        return ov.Model([ops.relu(p) for p in params], params)

    assert str(reshaped_to_batch_one(relu_model([-1, 3, 5])).inputs[0].get_partial_shape()) == "[1,3,5]"
    assert reshaped_to_batch_one(relu_model([-1, -1])) is None  # e.g. a sequence length too
    assert reshaped_to_batch_one(relu_model([2, 5])) is None  # already static
    assert reshaped_to_batch_one(relu_model([-1, 5], [-1, 5])) is None  # two inputs


def test_load_by_path_and_typed_results(tiny):
    raw, _ = tiny_model.make_images(5, seed=3)
    with edgeaffect.load(tiny.onnx_fp32, backend="onnxruntime") as model:
        result = model.predict(raw)
    assert model.info.model == tiny.card.name and model.labels == tiny_model.LABELS
    first = result[0]
    assert first.label in tiny_model.LABELS and abs(sum(first.probabilities.values()) - 1) < 1e-5
    assert result.top_labels()[0] == first.label


def test_onnxruntime_threads_can_be_told_not_to_spin(tiny):
    raw, _ = tiny_model.make_images(3, seed=4)
    with edgeaffect.load(tiny.onnx_fp32, backend="onnxruntime") as default, \
            edgeaffect.load(tiny.onnx_fp32, backend="onnxruntime", allow_spinning=False) as quiet:
        options = quiet.backend.session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        with pytest.raises(Exception, match="allow_spinning"):  # ONNX Runtime's default (spinning) sets no entry
            default.backend.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
        np.testing.assert_array_equal(quiet.predict(raw).probabilities, default.predict(raw).probabilities)


def test_runtime_never_imports_torch(tiny):
    code = (f"import sys, numpy as np, edgeaffect; m = edgeaffect.load(r'{tiny.onnx_int8}', backend='onnxruntime'); "
            "m.predict(np.zeros((2, 16, 16), np.uint8)); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=OUTSIDE_SOURCE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_concurrent_predictions_equal_serial(tiny):
    backends = ["onnxruntime"] + (["openvino"] if _has("openvino") else [])
    batches = [tiny_model.make_images(7, seed=100 + i)[0] for i in range(16)]
    for backend in backends:
        with edgeaffect.load(tiny.card.name, backend=backend, precision="fp32") as model:
            serial = [model.predict(b).probabilities for b in batches]
            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                parallel = list(pool.map(lambda b: model.predict(b).probabilities, batches))
        for a, b in zip(serial, parallel):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------- the auto policy


def fake_hardware(monkeypatch, machine, nvidia=False, jetson=False, int8_dot=True):
    monkeypatch.setattr(hardware, "probe", lambda: hardware.Hardware(machine, nvidia, jetson, int8_dot))


def test_auto_prefers_openvino_on_x86(tiny, monkeypatch):
    fake_hardware(monkeypatch, "x86_64")
    expected = "openvino" if _has("openvino") else "onnxruntime"
    with edgeaffect.load(tiny.card.name) as model:
        assert model.backend_name == expected


def test_auto_runs_fp32_on_x86_without_int8_dot_products(tiny, monkeypatch):
    """On AVX2-only CPUs INT8 was slower than fp32 on both CPU backends (hardware.X86_INT8_DOT_FLAGS)."""
    fake_hardware(monkeypatch, "x86_64", int8_dot=False)
    with edgeaffect.load(tiny.card.name) as model:
        assert (model.backend_name, model.precision) == ("onnxruntime", "fp32")
    with edgeaffect.load(tiny.card.name, precision="int8") as model:  # asked for: still served
        assert model.precision == "int8"
    if _has("openvino"):
        with edgeaffect.load(tiny.card.name, backend="openvino") as model:
            assert model.precision == "fp32"
    assert hardware.cpu_precision_order(("fp16", "int8", "fp32"), "gpu") == ("fp16", "int8", "fp32")
    fake_hardware(monkeypatch, "x86_64", int8_dot=True)
    with edgeaffect.load(tiny.card.name, backend="onnxruntime") as model:
        assert model.precision == "int8"


def test_int8_dot_products_are_read_from_cpu_flags(tmp_path):
    flags = "fpu sse2 avx2 fma"
    (tmp_path / "avx2").write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    (tmp_path / "vnni").write_text(f"processor\t: 0\nflags\t\t: {flags} avx512f avx512_vnni\n")
    assert not hardware._x86_int8_dot(str(tmp_path / "avx2"))
    assert hardware._x86_int8_dot(str(tmp_path / "vnni"))
    assert hardware._x86_int8_dot(str(tmp_path / "missing"))  # unreadable: INT8 is not demoted


def test_auto_uses_onnxruntime_on_arm_without_gpu(tiny, monkeypatch):
    fake_hardware(monkeypatch, "aarch64")
    with edgeaffect.load(tiny.card.name) as model:
        assert model.backend_name == "onnxruntime" and model.precision == "int8"


def test_auto_on_a_jetson_without_tensorrt_says_why(tiny, monkeypatch):
    fake_hardware(monkeypatch, "aarch64", nvidia=True, jetson=True)
    if _has("tensorrt"):
        pytest.skip("TensorRT is installed here")
    with edgeaffect.load(tiny.card.name) as model:  # TensorRT rejected (not installed): ONNX Runtime serves
        assert model.backend_name == "onnxruntime"


def test_no_backend_lists_every_reason(tiny, monkeypatch):
    fake_hardware(monkeypatch, "x86_64")
    request = Request(tiny.card.name, {("onnx", "fp32"): tiny.onnx_fp32}, precision="fp16")
    with pytest.raises(BackendUnavailableError) as err:
        select_backend("auto", request)
    text = str(err.value)
    for name in ("onnxruntime", "openvino", "tensorrt", "torch"):
        assert f"- {name}:" in text
    assert "no fp16 artifact" in text


# -------------------------------------------------------------------------- errors


def test_missing_precision_is_an_error_unless_fallback_allowed(tiny):
    with pytest.raises(BackendUnavailableError, match="no fp16 artifact"):
        edgeaffect.load(tiny.card.name, backend="onnxruntime", precision="fp16")
    with edgeaffect.load(tiny.card.name, backend="onnxruntime", precision="fp16", allow_fallback=True) as model:
        assert model.precision == "fp32"  # the result says what ran


def test_corrupt_model_file(tmp_path, tiny):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(tiny.onnx_fp32.read_bytes()[:1000])
    with pytest.raises(CorruptArtifactError, match="not a valid ONNX model"):
        edgeaffect.load(bad, backend="onnxruntime")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff" * 64)
    with pytest.raises(CorruptArtifactError):
        edgeaffect.load(junk)


def test_model_and_label_mismatch(tiny, tmp_path):
    from dataclasses import replace

    from edgeaffect.models import register_model, unregister_model

    other = replace(tiny.card, name="tiny-relabelled", labels=("a", "b", "c"),
                    artifacts=(("onnx-fp32", str(tiny.onnx_fp32)),))
    register_model(other, replace=True)
    try:
        with pytest.raises(ArtifactMismatchError, match=r"it is model 'tiny-test', not 'tiny-relabelled'.*labels"):
            edgeaffect.load("tiny-relabelled", backend="onnxruntime")
    finally:
        unregister_model("tiny-relabelled")


def test_artifact_without_metadata_is_refused(tiny, tmp_path):
    import onnx

    model = onnx.load(str(tiny.onnx_fp32))
    del model.metadata_props[:]
    plain = tmp_path / "plain.onnx"
    onnx.save(model, str(plain))
    with pytest.raises(ArtifactMismatchError, match="carries no edgeaffect metadata"):
        edgeaffect.load(plain)


def test_wrong_input_shape_and_values(tiny):
    with edgeaffect.load(tiny.card.name, backend="onnxruntime") as model:
        with pytest.raises(InputError, match="expected"):
            model.predict(np.zeros((2, 3, 16, 16, 1), np.uint8))
        with pytest.raises(InputError, match="NaN or inf"):
            model.predict(np.full((1, 16, 16), np.nan))
        with pytest.raises(InputError, match="empty"):
            model.predict(np.zeros((0, 16, 16)))
        with pytest.raises(InputError, match=r"model input has shape \(2, 1, 8, 8\)"):
            model.predict_raw(np.zeros((2, 1, 8, 8), np.float32))


def test_colour_crops_as_opencv_gives_them(tiny, rng):
    """One (H, W, 3) BGR crop is one face, not H faces 3 pixels wide; so is each crop of a list."""
    from edgeaffect.errors import InputWarning
    from edgeaffect.runtime.preprocessing import grey_image

    crops = [rng.integers(0, 256, (h, w, 3)).astype(np.uint8) for h, w in ((37, 29), (16, 16), (53, 61))]
    grey64 = crops[0].astype(np.float64) @ np.array([0.114, 0.587, 0.299])  # BT.601 on BGR, float64
    params = dict(tiny.card.preprocessing.params)
    np.testing.assert_allclose(grey_image(crops[0], **params), grey_image(grey64, **params), rtol=1e-5, atol=1e-5)
    with edgeaffect.load(tiny.card.name, backend="onnxruntime") as model:
        one = model.predict(crops[0])
        listed = model.predict(crops)
        alpha = model.predict(np.concatenate([crops[0], np.full((37, 29, 1), 255, np.uint8)], axis=2))
        expected = np.concatenate([model.predict(c[None]).probabilities for c in crops])
        with pytest.warns(InputWarning, match="multiply by 255"):
            model.predict(crops[0][None] / 255.0)
    assert one.probabilities.shape == (1, 3) and listed.probabilities.shape == (3, 3)
    np.testing.assert_allclose(one.probabilities, expected[:1], atol=1e-6)
    np.testing.assert_allclose(listed.probabilities, expected, atol=1e-6)
    np.testing.assert_allclose(alpha.probabilities, expected[:1], atol=1e-6)




def test_grey_crops_with_a_channel_axis_are_one_face(tiny, rng):
    """(H, W, 1) and PIL's grey + alpha (H, W, 2) are one face each, the same as the (H, W) crop, never a batch
    of H faces; a 16-bit crop is refused with a fix instead of being read as bright 8-bit pixels."""
    from edgeaffect.errors import InputWarning
    from edgeaffect.runtime.preprocessing import grey_image

    grey = rng.integers(0, 256, (37, 29)).astype(np.uint8)
    params = dict(tiny.card.preprocessing.params)
    with_alpha = np.stack([grey, np.full_like(grey, 255)], axis=-1)
    for crop in (grey[..., None], with_alpha):
        np.testing.assert_array_equal(grey_image(crop, **params), grey_image(grey, **params))
    batch = np.stack([grey, grey[::-1]])[..., None]  # (N, H, W, 1)
    np.testing.assert_array_equal(grey_image(batch, **params), grey_image(np.stack([grey, grey[::-1]]), **params))
    with edgeaffect.load(tiny.card.name, backend="onnxruntime") as model:
        assert model.predict(grey[..., None]).probabilities.shape == (1, 3)
        with pytest.raises(InputError, match="16-bit"):
            model.predict(grey.astype(np.uint16) * 257)
        with pytest.warns(InputWarning, match="16-bit values"):
            model.predict(grey.astype(np.float32) * 257)
        wide = model.predict(grey.astype(np.int64))  # Python-int arrays of 0-255 are fine
        np.testing.assert_allclose(wide.probabilities, model.predict(grey).probabilities, atol=1e-6)
def test_bad_load_arguments(tiny):
    with pytest.raises(ValueError, match="precision='int4'"):
        edgeaffect.load(tiny.card.name, precision="int4")
    with pytest.raises(ValueError, match="backend='tflite'"):
        edgeaffect.load(tiny.card.name, backend="tflite")
    with pytest.raises(KeyError, match="neither a registered model"):
        edgeaffect.load("no-such-model")
    with pytest.raises(ValueError, match="threads=0"):
        edgeaffect.load(tiny.card.name, threads=0)
