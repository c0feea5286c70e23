"""The shipped `fer` model: every artifact at parity with the torch weights,
INT8 agreeing with fp32 on real faces, and `edgeaffect eval fer` on the
documented formats (class folders with a subset of classes, FER2013 CSV)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import edgeaffect
from conftest import OUTSIDE_SOURCE, _has, data_path

pytestmark = pytest.mark.skipif("fer" not in edgeaffect.list_models(), reason="the fer model is not shipped in this build")


def real_faces(n: int):
    from edgeaffect.fer.data import load_fer_folder

    x, y = load_fer_folder(data_path("fer2013", "val"))
    pick = np.random.default_rng(0).permutation(len(x))[:n]
    return x[pick], y[pick]


def torch_logits(faces: np.ndarray) -> np.ndarray:
    torch = pytest.importorskip("torch")
    from edgeaffect.backends.torch_backend import TorchBackend  # noqa: F401 (the reference backend exists)

    with edgeaffect.load("fer", backend="torch", precision="fp32") as reference:
        return reference.predict_raw(reference.preprocess(faces)), torch


@pytest.mark.parametrize("backend", ["onnxruntime", pytest.param("openvino", marks=pytest.mark.openvino), "native"])
def test_fp32_artifacts_match_the_torch_weights(backend, rng):
    if backend == "openvino" and not _has("openvino"):
        pytest.skip("OpenVINO is not installed")
    faces = rng.integers(0, 256, (5, 61, 53), dtype=np.uint8)  # odd sizes: resized by the preprocessing
    expected, _ = torch_logits(list(faces))
    with edgeaffect.load("fer", backend=backend, precision="fp32") as model:
        got = model.predict_raw(model.preprocess(list(faces)))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-3)


@pytest.mark.data
@pytest.mark.parametrize("backend", ["onnxruntime", pytest.param("openvino", marks=pytest.mark.openvino)])
def test_int8_agrees_with_fp32_on_real_faces(backend):
    if backend == "openvino" and not _has("openvino"):
        pytest.skip("OpenVINO is not installed")
    x, y = real_faces(400)
    with edgeaffect.load("fer", backend="onnxruntime", precision="fp32") as fp32, \
            edgeaffect.load("fer", backend=backend, precision="int8") as int8:
        a, b = fp32.predict(x).top_indices(), int8.predict(x).top_indices()
    assert np.mean(a == b) >= 0.9  # measured 0.93-0.97 on the whole val split
    assert abs(np.mean(a == y) - np.mean(b == y)) <= 0.03  # the gate allowed 1 point on all 3,589 faces


def test_onnxruntime_sessions_use_exact_int8_matmuls_on_every_x86_cpu():
    """Without session.x64quantprecision, ONNX Runtime's U8S8 kernels saturate on x86 CPUs without VNNI:
    on an AVX2-only AMD EPYC the INT8 model shipped before the soup agreed with fp32 on 84.1% of val faces (accuracy
    0.6096); with it, 96.4% (0.6400). The option is a no-op on VNNI and ARM CPUs."""
    from edgeaffect.explain.runtime import _ort_session

    with edgeaffect.load("fer", backend="onnxruntime", precision="int8") as model:
        options = model.backend.session.get_session_options()
        assert options.get_session_config_entry("session.x64quantprecision") == "1"
    from edgeaffect.models.registry import ARTIFACT_DIR

    explain_decoder = ARTIFACT_DIR / "explain" / "explain-decoder-int8.onnx"
    if explain_decoder.exists():
        session = _ort_session(explain_decoder, threads=1)
        assert session.get_session_options().get_session_config_entry("session.x64quantprecision") == "1"


@pytest.mark.data
def test_eval_cli_on_a_subset_of_classes_and_on_the_csv(tmp_path):
    import cv2

    x, y = real_faces(600)
    from edgeaffect.fer import LABELS

    keep = np.flatnonzero(np.isin(y, [LABELS.index("happy"), LABELS.index("surprise")]))[:30]
    for i in keep:
        folder = tmp_path / "faces" / LABELS[y[i]]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.png"), cv2.resize(x[i], (96, 96)))  # any size: resized by the model
    out = subprocess.run([sys.executable, "-m", "edgeaffect", "eval", "fer", "--data", str(tmp_path / "faces"),
                          "--backend", "onnxruntime", "--json"], capture_output=True, text=True, cwd=OUTSIDE_SOURCE,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] == len(keep) and report["per_class_recall"]["angry"] is None
    codes = {"angry": 0, "disgust": 1, "fear": 2, "happy": 3, "sad": 4, "surprise": 5, "neutral": 6}
    csv = tmp_path / "fer2013.csv"
    rows = [f"{codes[LABELS[y[i]]]},{' '.join(map(str, x[i].ravel()))},PublicTest\n" for i in keep]
    training = [f"{codes['disgust']},{' '.join(map(str, x[i].ravel()))},Training\n" for i in keep[:5]]
    csv.write_text("emotion,pixels,Usage\n" + "".join(training + rows))  # as Kaggle's file: Training rows first
    from edgeaffect.evaluation.run import evaluate

    from_csv = evaluate("fer", csv, backend="onnxruntime", precision="fp32")
    with edgeaffect.load("fer", backend="onnxruntime", precision="fp32") as model:
        direct = float(np.mean(model.predict(x[keep]).top_indices() == y[keep]))
    # the Training rows are never scored by default: they are what the model was trained on
    assert from_csv["n"] == len(keep) and from_csv["accuracy"] == pytest.approx(direct)
    assert from_csv["usage"] == "test"
    every_row = evaluate("fer", csv, backend="onnxruntime", precision="fp32", usage=None)
    assert every_row["n"] == len(keep) + 5 and every_row["usage"] == "all"


@pytest.mark.parametrize("backend", ["onnxruntime", pytest.param("openvino", marks=pytest.mark.openvino)])
def test_int8_does_not_depend_on_the_batch(backend, rng):
    """A sample's result must not change with its batch-mates (an NNCF transformer-mode IR did, see quantize.py)."""
    if backend == "openvino" and not _has("openvino"):
        pytest.skip("OpenVINO is not installed")
    faces = rng.integers(0, 256, (300, 48, 48), dtype=np.uint8)
    # OpenVINO's batch-1 calls run a separately compiled static copy (below); this checks the one model.
    options = {"static_batch_one": False} if backend == "openvino" else {}
    with edgeaffect.load("fer", backend=backend, precision="int8", **options) as model:
        whole = model.predict(faces).probabilities
        single = np.concatenate([model.predict(faces[i:i + 1]).probabilities for i in range(0, 300, 10)])
    # Batch-consistent INT8 is exact per face except where a float op between
    # quantise/dequantise pairs lands on a requantisation rounding boundary: one
    # step there moved one face's probability by 0.0044 (EDGEAFFECT_TEST_SEED=976753327)
    # and, with the session-18 weights, by 0.017 (seed 2572574623; ONNX Runtime, 1 face
    # of 30, 0 on 12 other seeds). So: nearly every face exact, a bounded step on the
    # rest. The bug this guards against changed the top-1 label of 22% of faces.
    per_face = np.abs(single - whole[::10]).max(axis=1)
    assert np.mean(per_face <= 1e-5) >= 0.9, per_face
    assert per_face.max() <= 0.05, per_face
    assert np.mean(single.argmax(1) == whole[::10].argmax(1)) >= 0.95


@pytest.mark.openvino
@pytest.mark.data
def test_openvino_int8_batch_one_copy_agrees_with_the_batched_model(rng):
    """The static batch-1 copy of the INT8 IR is compiled on its own, and OpenVINO may place its
    requantisation differently there. On all of FER2013 val (session-18 weights, EPYC AVX2) a
    face's largest probability step was 0 at the median, 0.027 at the 99th percentile and 0.057 at
    most (2 faces over 0.05), and top-1 agreed on 99.6% of faces. Real faces, freshly drawn: on
    uniform-noise images every class is near-tied, so top-1 flipped on up to 8% of them
    (EDGEAFFECT_TEST_SEED=2802362286), measuring the noise, not the copy. The bug this guards
    against changed the top-1 label of 22% of faces."""
    from edgeaffect.fer.data import load_fer_folder

    if not _has("openvino"):
        pytest.skip("OpenVINO is not installed")
    val, _ = load_fer_folder(data_path("fer2013", "val"))
    faces = val[rng.choice(len(val), 101, replace=False)]
    with edgeaffect.load("fer", backend="openvino", precision="int8") as model:
        assert model.backend.metadata["static_batch_one"]
        whole = model.predict(faces).probabilities
        single = np.concatenate([model.predict(faces[i:i + 1]).probabilities for i in range(len(faces))])
    per_face = np.abs(single - whole).max(axis=1)
    assert np.mean(per_face <= 0.03) >= 0.95, per_face
    assert per_face.max() <= 0.1, per_face
    assert np.mean(single.argmax(1) == whole.argmax(1)) >= 0.95


def test_mirror_averages_the_logits_of_each_face_and_its_mirror_image(rng):
    faces = rng.integers(0, 256, (3, 47, 59), dtype=np.uint8)  # odd sizes: resized by the preprocessing
    with edgeaffect.load("fer", backend="onnxruntime", precision="fp32") as plain, \
            edgeaffect.load("fer", backend="onnxruntime", precision="fp32", mirror=True) as mirrored:
        x = plain.preprocess(faces)
        logits = (plain.predict_raw(x).astype(np.float64) + plain.predict_raw(x[..., ::-1].copy())) / 2
        expected = np.exp(logits - logits.max(1, keepdims=True))
        expected /= expected.sum(1, keepdims=True)
        np.testing.assert_allclose(mirrored.predict(faces).probabilities, expected, rtol=1e-5, atol=1e-6)
        assert not np.allclose(plain.predict(faces).probabilities, expected, atol=1e-3)  # the mirror changes them
    with pytest.raises(ValueError, match="not images"):
        edgeaffect.load("eeg", backend="onnxruntime", mirror=True)


@pytest.mark.data
def test_eval_cli_with_mirror_on_real_faces():
    done = subprocess.run([sys.executable, "-m", "edgeaffect", "eval", "fer", "--data", str(data_path("fer2013", "val")),
                           "--limit", "20", "--backend", "onnxruntime", "--mirror", "--json"],
                          capture_output=True, text=True, cwd=OUTSIDE_SOURCE, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["mirror"] is True and result["n"] == 140 and result["accuracy"] > 0.4  # chance: 1/7
