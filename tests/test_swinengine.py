"""The native Swin-SE engine (edgeaffect.fer.native) against a float64 torch
forward pass, at the shipped shape and at an odd one, on one and two
threads; the shipped `fer` through the native backend against ONNX Runtime
on real faces; and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import edgeaffect
from conftest import data_path

torch = pytest.importorskip("torch", reason="the parity reference needs torch")

# An odd shape: 40x40 faces (10x10 tokens, 5x5 windows shifted by 2), two
# stages whose heads are 24 and 16 wide, MLP and SE widths (60, 12) that are
# no multiple of a vector, 5 classes.
ODD = "stem=20,dim=24,depths=2-3,heads=1-3,windows=5-5,mlp_ratio=2.5"


def random_student(rng, shape: str):
    from edgeaffect.fer.model import SwinSE, student_config

    cfg = student_config(shape)
    if shape == ODD:
        cfg = type(cfg)(**{**cfg.as_dict(), "image": 40, "classes": 5})
    torch.manual_seed(int(rng.integers(1 << 30)))
    model = SwinSE(cfg).eval()
    with torch.no_grad():  # BatchNorm statistics and affine terms far from the identity
        for bn in (model.stem[1], model.stem[4]):
            bn.running_mean.normal_(0, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.normal_(1, 0.2)
            bn.bias.normal_(0, 0.2)
    return model, cfg


def weights_of(model) -> dict:
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("shape", ["", ODD], ids=["shipped-shape", "odd-shape"])
@pytest.mark.parametrize("batch,threads", [(1, 1), (1, 2), (3, 1), (7, 2)])
def test_engine_matches_float64_torch(rng, shape, batch, threads):
    from edgeaffect.fer.native import NativeSwinEngine

    model, cfg = random_student(rng, shape)
    engine = NativeSwinEngine(weights_of(model), cfg.as_dict())
    x = rng.standard_normal((batch, 1, cfg.image, cfg.image)).astype(np.float32)
    with torch.inference_mode():
        reference32 = model(torch.from_numpy(x)).numpy()
        reference64 = model.double()(torch.from_numpy(x).double()).numpy()
    got = engine.forward(x, threads=threads)
    assert got.shape == (batch, cfg.classes)
    # float32 engine vs the float64 forward: within a few times torch's own
    # float32 error (about 1e-6 of logits near 1), never more than 2e-5.
    torch_err = np.abs(reference32 - reference64).max()
    assert np.abs(got - reference64).max() <= min(4 * torch_err + 1e-6, 2e-5)


@pytest.mark.parametrize("shape", ["", ODD], ids=["shipped-shape", "odd-shape"])
def test_threads_do_not_change_the_result(rng, shape):
    from edgeaffect.fer.native import NativeSwinEngine

    model, cfg = random_student(rng, shape)
    engine = NativeSwinEngine(weights_of(model), cfg.as_dict())
    x = rng.standard_normal((5, 1, cfg.image, cfg.image)).astype(np.float32)
    one = engine.forward(x, threads=1)
    # a batch splits by faces (each face's arithmetic unchanged): identical
    np.testing.assert_array_equal(engine.forward(x, threads=2), one)
    # one face: its layers split by rows or columns (which, depends on the
    # thread count and the map), its windows and SE channels over threads:
    # the same sums in the same order (8 threads: the odd shape's stem too
    # splits by columns)
    for threads in (2, 3, 4, 5, 8):
        np.testing.assert_array_equal(engine.forward(x[:1], threads=threads), one[:1], err_msg=f"{threads} threads")


def test_engine_errors(tmp_path, rng):
    from safetensors.numpy import save_file

    from edgeaffect.fer.native import NativeSwinEngine

    with pytest.raises(ValueError, match="not Swin-SE student weights"):
        NativeSwinEngine({"x": np.zeros(3, np.float32)}, {})
    model, cfg = random_student(rng, "")
    weights = weights_of(model)
    engine = NativeSwinEngine(weights, cfg.as_dict())
    with pytest.raises(ValueError, match=r"expected \(batch, 1, 48, 48\)"):
        engine.forward(np.zeros((1, 3, 48, 48), np.float32))
    # a shape whose heads are 20 channels wide: the engine says what it needs
    with pytest.raises(ValueError, match="multiples of 8"):
        NativeSwinEngine(weights, {**cfg.as_dict(), "heads": (3, 4, 8), "dim": 60})
    missing = {k: v for k, v in weights.items() if k != "stages.1.0.attn.proj.bias"}
    with pytest.raises(ValueError, match="lack stages.1.0.attn.proj.bias"):
        NativeSwinEngine(missing, cfg.as_dict())
    save_file({k: np.ascontiguousarray(v) for k, v in weights.items()}, str(tmp_path / "bare.safetensors"))
    with pytest.raises(ValueError, match="does not record the student's architecture"):
        NativeSwinEngine.from_safetensors(tmp_path / "bare.safetensors")
    save_file({k: np.ascontiguousarray(v) for k, v in weights.items()}, str(tmp_path / "w.safetensors"),
              metadata={"architecture": json.dumps(cfg.as_dict())})
    x = rng.standard_normal((2, 1, 48, 48)).astype(np.float32)
    np.testing.assert_array_equal(NativeSwinEngine.from_safetensors(tmp_path / "w.safetensors").forward(x),
                                  engine.forward(x))


shipped = pytest.mark.skipif("fer" not in edgeaffect.list_models(), reason="the fer model is not shipped in this build")


@shipped
def test_native_backend_serves_fer_and_refuses_other_image_models():
    from edgeaffect.backends import create_backend
    from edgeaffect.backends.base import Request

    with edgeaffect.load("fer", backend="native") as model:
        assert model.precision == "fp32" and model.backend.metadata["engine"] == "edgeaffect Swin-SE (C++)"
    if "fer-minixception" in edgeaffect.list_models():
        reasons = create_backend("native").not_supported_reasons(Request("fer-minixception", {}))
        assert any("RBTransformer (eeg) and Swin-SE (fer) models only" in r for r in reasons)


@shipped
@pytest.mark.data
def test_native_backend_agrees_with_onnxruntime_on_real_faces():
    from edgeaffect.fer.data import load_fer_folder

    faces, labels = load_fer_folder(data_path("fer2013", "val"))
    pick = np.random.default_rng(1).permutation(len(faces))[:400]  # a fixed sample
    faces, labels = faces[pick], labels[pick]
    with edgeaffect.load("fer", backend="native", threads=2) as native, \
            edgeaffect.load("fer", backend="onnxruntime", precision="fp32") as onnx:
        x = native.preprocess(faces)
        got, expected = native.predict_raw(x), onnx.predict_raw(x)
        single = np.concatenate([native.predict_raw(x[i:i + 1]) for i in range(0, 40)])
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(single, got[:40], atol=1e-5)
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.995
    assert (got.argmax(1) == labels).mean() > 0.5  # 7 classes: chance is about 0.25 (the commonest class)


@shipped
@pytest.mark.parametrize("int8_dot", [False, True])
def test_auto_picks_the_native_engine_for_fer_on_x86(monkeypatch, int8_dot):
    from edgeaffect.backends import hardware

    monkeypatch.setattr(hardware, "probe", lambda: hardware.Hardware("x86_64", False, False, int8_dot))
    with edgeaffect.load("fer") as model:
        assert (model.backend_name, model.precision) == ("native", "fp32")
    with edgeaffect.load("fer", precision="int8") as model:  # the engine runs fp32 only: a framework serves INT8
        assert model.backend_name != "native" and model.precision == "int8"
    monkeypatch.setattr(hardware, "probe", lambda: hardware.Hardware("aarch64", False, False))
    with edgeaffect.load("fer") as model:  # unmeasured there: the frameworks first
        assert model.backend_name != "native"


@shipped
def test_concurrent_native_predictions_equal_serial(rng):
    import concurrent.futures

    batches = [rng.integers(0, 256, (n, 48, 48), dtype=np.uint8) for n in (1, 2, 5, 1, 3, 1, 8, 1)]
    with edgeaffect.load("fer", backend="native", threads=2) as model:
        serial = [model.predict(b).probabilities for b in batches]
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:  # GIL released: calls overlap
            parallel = list(pool.map(lambda b: model.predict(b).probabilities, batches))
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)
