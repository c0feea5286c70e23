"""`edgeaffect train eeg`: the subject-independent protocol on the real band
features (a smoke run: few epochs), its checkpoint and resume, the choice of
the final student's teacher, and distillation from logits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import data_path

torch = pytest.importorskip("torch")

from edgeaffect.eeg.features import read_feature_csv  # noqa: E402
from edgeaffect.eeg.model import STUDENT, TEACHER, RBTransformer  # noqa: E402
from edgeaffect.eeg.train import TrainConfig, choose_student, cross_validate, fit, predict  # noqa: E402

STUDENTS = ("student_no_kd", "student_kd", "student_kd_lr")


@pytest.mark.data
def test_train_eeg_cli_on_real_features_holds_out_whole_subjects_and_resumes(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file

    from edgeaffect.cli import main

    csv = data_path("eeg", "features", "deap", "deap_band_features.csv")
    out = tmp_path / "run"
    assert main(["train", "eeg", "--data", str(csv), "--out", str(out), "--folds", "2", "--epochs", "1",
                 "--final"]) == 0
    state = json.loads((out / "cv.json").read_text())
    subjects = np.unique(read_feature_csv(csv).subjects)
    held_out = [set(f["test_subjects"]) for f in state["folds"].values()]
    assert len(held_out) == 2 and not held_out[0] & held_out[1]  # a subject is tested in exactly one fold
    assert held_out[0] | held_out[1] == set(subjects.tolist())
    for model in ("majority", "logistic_regression", "teacher", *STUDENTS):
        mean, std = state["summary"][model]["valence_balanced_accuracy"]
        assert 0.0 <= mean <= 1.0 and std >= 0.0
    assert state["summary"]["majority"]["arousal_balanced_accuracy"][0] == pytest.approx(0.5)

    final = json.loads((out / "final" / "final.json").read_text())
    assert final["student_key"] == choose_student(state["summary"]) and final["subjects"] == len(subjects)
    student = RBTransformer(STUDENT)
    student.load_state_dict(load_file(str(out / "final" / "student.safetensors")))
    with safe_open(str(out / "final" / "student.safetensors"), "pt") as f:
        assert f.metadata()["student_from"] == final["student_from"]

    # A rerun resumes: finished folds are read back, not trained again.
    again = cross_validate(csv, out, folds=2, tc=TrainConfig(epochs=1), progress=False)
    assert again["folds"] == state["folds"]


def test_choose_student_takes_the_best_cross_validated_teacher_or_the_one_named():
    def scores(valence, arousal):
        return {"valence_balanced_accuracy": [valence, 0.02], "arousal_balanced_accuracy": [arousal, 0.02]}

    summary = {"student_no_kd": scores(0.55, 0.53), "student_kd": scores(0.53, 0.55), "student_kd_lr": scores(0.58, 0.57),
               "logistic_regression": scores(0.60, 0.60)}  # a baseline, never the student
    assert choose_student(summary) == "student_kd_lr"
    assert choose_student(summary, "teacher") == "student_kd"
    assert choose_student(summary, "labels") == "student_no_kd"
    del summary["student_kd_lr"]  # a run from before the linear teacher
    assert choose_student(summary) == "student_no_kd"
    with pytest.raises(ValueError, match="no student_kd_lr results"):
        choose_student(summary, "logistic_regression")
    with pytest.raises(ValueError, match="use auto"):
        choose_student(summary, "svm")


def test_distilling_from_logits_equals_distilling_from_the_teacher_model(rng):
    x = rng.normal(size=(48, 32, 5)).astype(np.float32)
    y = rng.integers(0, 2, (48, 2)).astype(np.float32)
    tc = TrainConfig(epochs=2, batch_size=16)
    teacher, _ = fit(TEACHER, x, y, tc, seed=3)
    from_model, _ = fit(STUDENT, x, y, tc, seed=4, teacher=teacher)
    from_logits, _ = fit(STUDENT, x, y, tc, seed=4, teacher_logits=predict(teacher, x))
    labels_only, _ = fit(STUDENT, x, y, tc, seed=4)
    np.testing.assert_array_equal(predict(from_model, x), predict(from_logits, x))
    assert not np.allclose(predict(from_model, x), predict(labels_only, x))  # the soft targets did act
