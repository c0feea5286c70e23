"""The shipped `eeg` model: the card agrees with the architecture, every
backend (ONNX Runtime, OpenVINO, native C++ engine) matches the torch weights
on real DEAP tokens, `edgeaffect eval eeg` reports the documented keys on
the real feature CSV, and the stream CLI runs it by default."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import edgeaffect
from conftest import OUTSIDE_SOURCE, _has, data_path

pytestmark = pytest.mark.skipif("eeg" not in edgeaffect.list_models(), reason="the eeg model is not shipped in this build")

DEAP = ("eeg", "features", "deap", "deap_band_features.csv")


def real_tokens(n: int) -> np.ndarray:
    from edgeaffect.eeg.features import prepare_tokens, read_feature_csv

    table = read_feature_csv(data_path(*DEAP))
    x = prepare_tokens(table.tokens, table.subjects, table.present)
    return x[np.random.default_rng(0).permutation(len(x))[:n]].astype(np.float32)


def test_card_matches_the_student_architecture():
    pytest.importorskip("torch")
    from edgeaffect.eeg.card import BANDS, ELECTRODES, STUDENT_HEADS
    from edgeaffect.eeg.model import STUDENT
    from edgeaffect.models import get_card

    assert (ELECTRODES, BANDS, STUDENT_HEADS) == (STUDENT.electrodes, STUDENT.bands, STUDENT.heads)
    card = get_card("eeg")
    assert card.task == "binary-heads" and card.eval_format == "eeg-features-csv"
    assert set(card.artifact_map()) == {"onnx-fp32", "torch-fp32"}


@pytest.mark.data
@pytest.mark.parametrize("backend", ["onnxruntime", pytest.param("openvino", marks=pytest.mark.openvino), "native"])
def test_every_backend_matches_the_torch_weights_on_real_tokens(backend, rng):
    pytest.importorskip("torch")
    if backend == "openvino" and not _has("openvino"):
        pytest.skip("OpenVINO is not installed")
    x = real_tokens(37)
    noisy = x + rng.normal(0, 0.3, x.shape).astype(np.float32)  # fresh inputs beside the real ones
    with edgeaffect.load("eeg", backend="torch") as reference, edgeaffect.load("eeg", backend=backend) as model:
        for batch in (x, noisy, x[:1]):
            np.testing.assert_allclose(model.predict_raw(batch), reference.predict_raw(batch), atol=2e-5, rtol=1e-4)


@pytest.mark.data
def test_eval_cli_on_the_real_feature_csv():
    done = subprocess.run([sys.executable, "-m", "edgeaffect", "eval", "eeg", "--data", str(data_path(*DEAP)), "--json",
                           "--backend", "onnxruntime"], capture_output=True, text=True, cwd=OUTSIDE_SOURCE, check=False)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics["n"] == 988 and metrics["model"] == "eeg"
    for head in ("valence", "arousal"):
        for key in ("accuracy", "balanced_accuracy", "macro_f1"):
            assert 0.0 <= metrics[f"{head}_{key}"] <= 1.0
        # trained on these subjects: above chance, yet not a memorised 100%
        assert 0.5 < metrics[f"{head}_balanced_accuracy"] < 0.99
    # and the report says so, so nobody takes these for scores on unseen people
    assert "was trained on: these are training-set scores" in metrics["warning"]


@pytest.mark.data
def test_eval_does_not_warn_about_other_data(tmp_path):
    """The training-data warning compares file contents: a different CSV (here the first 40 rows) gets none."""
    from edgeaffect.evaluation.training_data import training_data_note

    lines = data_path(*DEAP).read_text().splitlines(keepends=True)
    subset = tmp_path / "deap_band_features.csv"  # the same name, other bytes
    subset.write_text("".join(lines[:41]))
    assert training_data_note("eeg", subset) == ""
    assert "training-set scores" in training_data_note("eeg", data_path(*DEAP))


@pytest.mark.data
def test_eval_cli_prints_each_head_as_text():
    done = subprocess.run([sys.executable, "-m", "edgeaffect", "eval", "eeg", "--data", str(data_path(*DEAP)), "--limit",
                           "200", "--backend", "onnxruntime"], capture_output=True, text=True, cwd=OUTSIDE_SOURCE,
                          check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("eeg on ") and "(200 samples)" in lines[0]
    for head, line in zip(("valence", "arousal"), lines[1:]):
        assert line.split()[0] == f"{head}:" and "balanced accuracy" in line and "macro-F1" in line
