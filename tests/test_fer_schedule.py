"""The FER model card's training history (export/fer_schedule.py) through
fine-tunes and soups, on run folders laid out as `edgeaffect train fer` and
`edgeaffect soup` write them (tiny real checkpoints, made-up scores)."""

from __future__ import annotations

import hashlib
import json
import sys

import pytest

torch = pytest.importorskip("torch", reason="soups average torch checkpoints (pip install '.[test]')")

from conftest import PROJECT_ROOT  # noqa: E402
from edgeaffect.fer.model import SwinSE, SwinSEConfig  # noqa: E402
from edgeaffect.fer.soup import make_soup  # noqa: E402

sys.path.insert(0, str(PROJECT_ROOT / "export"))
from fer_schedule import schedule_of, schedule_text, schedules, soup_config, training_budget  # noqa: E402

TINY = SwinSEConfig(stem=8, dim=8, depths=(1, 1, 1), heads=(1, 1, 2))
CONFIG = {"model": "student", "epochs": 3, "batch_size": 128, "lr": 2e-4, "alpha": 0.7, "temperature": 4.0,
          "online_teacher": True}


def fake_run(folder, init, seed, lr=2e-4, device="cpu", accuracy=0.6, **config):
    """A run folder: a tiny best.pt and the report.json train_fer would write for it."""
    folder.mkdir(parents=True)
    torch.manual_seed(seed)
    model = SwinSE(TINY)
    torch.save({"model": model.state_dict(), "config": {"model": "student"}, "architecture": TINY.as_dict(),
                "seed": seed, "epoch": 3}, folder / "best.pt")
    report = {"model": "student", "seed": seed, "config": {**CONFIG, "lr": lr, **config}, "device": device,
              "best": {"epoch": 3, "accuracy": accuracy, "macro_f1": accuracy - 0.03}, "init": str(init),
              "teacher": {"checkpoint": "fer", "val_accuracy": 0.64}}
    (folder / "report.json").write_text(json.dumps(report))
    return folder / "best.pt"


@pytest.fixture
def runs(tmp_path):
    """A shipped start (artifacts/fer/fer.safetensors of some install) and two fine-tunes of it."""
    shipped = tmp_path / "site" / "artifacts" / "fer" / "fer.safetensors"
    shipped.parent.mkdir(parents=True)
    shipped.write_bytes(b"the shipped weights")
    a = fake_run(tmp_path / "runs" / "ft-a", shipped, seed=1, accuracy=0.61)
    b = fake_run(tmp_path / "runs" / "ft-b", shipped, seed=2, lr=1e-4, device="cuda (H100)", accuracy=0.62, alpha=0.5)
    return tmp_path / "runs", shipped, a, b


SHIPPED_SCHEDULE = [{"run": "fer-student-kd", "model": "student", "epochs": 10, "lr": 2e-3, "seed": 1, "teacher": True,
                     "teacher_run": "fer-teacher", "best_val_accuracy": 0.6, "best_epoch": 9, "device": "cpu"}]


def test_soup_of_shipped_fine_tunes_continues_the_shipped_schedule(runs):
    folder, _, a, b = runs
    report = make_soup([a, b], folder / "fer-soup")
    assert report["start"]["shipped"]
    chain = schedule_of(folder / "fer-soup" / "best.pt", SHIPPED_SCHEDULE)
    assert [r["run"] for r in chain] == ["fer-student-kd", "fer-soup"]
    assert [i["run"] for i in chain[-1]["soup"]] == ["ft-a", "ft-b"]
    assert chain[-1]["epochs"] == 6 and chain[-1]["gpu_epochs"] == 3  # only ft-b ran on a GPU
    text = schedule_text(chain)
    assert "a uniform average of the weights" in text and "ft-a (3 epochs at peak lr 0.0002, seed 1" in text
    assert training_budget(chain, [], 3).startswith("Trained for 16 epochs in all (teacher: 4), 3 of them")
    # a rebuild reads the schedule back from metrics.json, soup included: the soup appears once
    assert schedule_of(folder / "fer-soup" / "best.pt", chain) == chain
    facts = schedules(folder / "fer-soup" / "best.pt", {"schedule": SHIPPED_SCHEDULE, "teacher_schedule": ["kept"]})
    assert facts["teacher_schedule"] == ["kept"]  # the fine-tunes distilled from the shipped student


def test_runs_after_a_soup_and_soups_of_soups(runs):
    folder, _, a, b = runs
    make_soup([a, b], folder / "fer-soup")
    c = fake_run(folder / "ft-c", folder / "fer-soup" / "best.pt", seed=3)
    chain = schedule_of(c, SHIPPED_SCHEDULE)
    assert [r["run"] for r in chain] == ["fer-student-kd", "fer-soup", "ft-c"]
    d = fake_run(folder / "ft-d", folder / "fer-soup" / "best.pt", seed=4)
    make_soup([folder / "fer-soup" / "best.pt", c, d], folder / "fer-soup-2")
    chain = schedule_of(folder / "fer-soup-2" / "best.pt", SHIPPED_SCHEDULE)
    assert [r["run"] for r in chain] == ["fer-student-kd", "fer-soup", "fer-soup-2"]
    assert chain[-1]["epochs"] == 6  # ft-c and ft-d; fer-soup's own fine-tunes are counted in its step
    assert chain[-1]["soup"][0]["run"] == "the start"  # fer-soup is the start of ft-c and ft-d
    assert "the model before this step (the start), ft-c (3 epochs" in schedule_text(chain)
    # a soup of fine-tunes of the shipped start averages with another such fine-tune
    make_soup([folder / "fer-soup" / "best.pt", fake_run(folder / "ft-f", runs[1], seed=6)], folder / "fer-soup-3")
    chain = schedule_of(folder / "fer-soup-3" / "best.pt", SHIPPED_SCHEDULE)
    assert [r["run"] for r in chain] == ["fer-student-kd", "fer-soup-3"]
    assert chain[-1]["epochs"] == 9  # fer-soup's two fine-tunes and ft-f
    assert "the soup fer-soup, ft-f (3 epochs" in schedule_text(chain)


def test_soup_config_names_settings_the_fine_tunes_differ_in(runs):
    folder, _, a, b = runs
    make_soup([a, b], folder / "fer-soup")
    config, differ = soup_config(folder / "fer-soup" / "report.json")
    assert config["batch_size"] == 128
    assert differ == ["alpha (0.7 in ft-a, 0.5 in ft-b)"]  # lr and seed differ by design, not listed


def test_soup_refuses_an_out_folder_holding_an_ingredient_and_mixed_starts(runs, tmp_path):
    folder, _, a, b = runs
    with pytest.raises(ValueError, match="new folder"):
        make_soup([a, b], folder / "ft-a")
    other = tmp_path / "other.pt"
    other.write_bytes(b"other weights")
    e = fake_run(folder / "ft-e", other, seed=5)
    with pytest.raises(ValueError, match="different weights"):
        make_soup([a, e], folder / "mixed")
    assert not (folder / "mixed").exists()


def test_soup_refuses_a_start_that_a_build_has_since_replaced(runs, tmp_path):
    """'fer' after a build shipped new weights is not what the fine-tunes started from: refused, not averaged."""
    folder, shipped, a, b = runs
    for run in (a, b):  # what train_fer records: the start's sha256 when the run began
        report = json.loads((run.parent / "report.json").read_text())
        report["init_sha256"] = hashlib.sha256(shipped.read_bytes()).hexdigest()
        (run.parent / "report.json").write_text(json.dumps(report))
    shipped.write_bytes(b"weights a later build shipped")
    replaced = tmp_path / "replaced.pt"
    torch.save(torch.load(a, weights_only=False), replaced)  # any weights without a run report beside them
    with pytest.raises(ValueError, match="neither a fine-tune"):
        make_soup([replaced, a, b], folder / "soup")
    # the start passed as its own run's checkpoint is the start, not a fine-tune of another start
    start_run = fake_run(folder / "start-run", tmp_path / "older.pt", seed=9)
    for run in (a, b):
        report = json.loads((run.parent / "report.json").read_text())
        report["init_sha256"] = hashlib.sha256(start_run.read_bytes()).hexdigest()
        (run.parent / "report.json").write_text(json.dumps(report))
    report = make_soup([start_run, a, b], folder / "soup")
    assert [i["role"] for i in report["soup"]] == ["start", "fine-tune", "fine-tune"]
    chain = schedule_of(folder / "soup" / "best.pt", [])
    assert chain[-1]["epochs"] == 6 and chain[-1]["soup"][0]["run"] == "the start"


def test_soup_of_fine_tunes_of_a_copy_of_the_shipped_weights_continues_the_shipped_schedule(runs, tmp_path):
    """Fine-tunes made on a lent GPU start from a copy of the shipped weights
    carried there (another path, the same sha256): their soup continues the
    shipped schedule and keeps its teacher. A run a timeout stopped counts
    the epochs its history holds."""
    folder, shipped, _, _ = runs
    copy = tmp_path / "carried" / "fer.safetensors"
    copy.parent.mkdir()
    copy.write_bytes(shipped.read_bytes())
    a = fake_run(folder / "gpu-a", copy, seed=7, device="cuda (H200)")
    b = fake_run(folder / "gpu-b", copy, seed=8, device="cuda (H200)")
    report = json.loads((folder / "gpu-b" / "report.json").read_text())
    report.update(unfinished="the call's timeout stopped it after epoch 2 of 3",
                  history=[{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 2, "val_accuracy": 0.6}],
                  # a copy of the teacher outside its run's folder names that run
                  teacher={"checkpoint": "/tmp/teacher-fp16.safetensors", "run": "fer-teacher-r18", "val_accuracy": 0.7})
    (folder / "gpu-b" / "report.json").write_text(json.dumps(report))
    soup = make_soup([a, b], folder / "gpu-soup")
    assert not soup["start"]["shipped"]  # not an install's artifacts path
    facts = schedules(folder / "gpu-soup" / "best.pt", {"schedule": SHIPPED_SCHEDULE, "teacher_schedule": ["kept"]},
                      _sha256(shipped))
    assert [r["run"] for r in facts["schedule"]] == ["fer-student-kd", "gpu-soup"]
    assert [i["epochs"] for i in facts["schedule"][-1]["soup"]] == [3, 2]
    assert facts["schedule"][-1]["soup"][1]["teacher_run"] == "fer-teacher-r18"
    assert facts["teacher_schedule"] == ["kept"]
    text = schedule_text([{**facts["schedule"][-1], "start_gain": {"gain": 0.0117, "ci95": [0.0039, 0.0198]}}])
    assert "+1.17 points over the weights the fine-tunes started from, 95% paired-bootstrap interval +0.39 to +1.98" in text
    # without the shipped sha256 nothing ties the copy to the shipped schedule
    assert [r["run"] for r in schedules(folder / "gpu-soup" / "best.pt", {"schedule": SHIPPED_SCHEDULE})["schedule"]] \
        == ["gpu-soup"]


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_runs_made_on_a_lent_gpu_continue_the_shipped_schedule(runs, tmp_path):
    """A run started from the shipped weights (its report's init_sha256)
    continues the shipped schedule; its follow-up names a path on the GPU
    machine (/tmp/...), found here in the run folder of the same name when
    the weights match; the teacher is found the same way. A rebuild from the
    card's own schedule lists each run once."""
    folder, shipped, _, _ = runs
    shipped_sha = _sha256(shipped)
    teacher = folder / "gpu-teacher"
    teacher.mkdir()
    from edgeaffect.fer.model import ConvTeacher, ConvTeacherConfig

    wide = ConvTeacherConfig(widths=(4, 8), blocks=(2, 2))
    torch.save({"model": ConvTeacher(wide).state_dict(), "config": {"model": "teacher"}, "architecture": wide.as_dict(),
                "seed": 0, "epoch": 5}, teacher / "best.pt")
    (teacher / "report.json").write_text(json.dumps({
        "model": "teacher", "seed": 61, "config": {**CONFIG, "model": "teacher", "epochs": 43, "lr": 2e-3},
        "device": "cuda (H100)", "best": {"epoch": 43, "accuracy": 0.70, "macro_f1": 0.69}}))

    def gpu_run(name, init, init_sha, seed):
        best = fake_run(folder / name, init, seed=seed, device="cuda (H100)")
        report = json.loads((folder / name / "report.json").read_text())
        report.update(init_sha256=init_sha, teacher={"checkpoint": "/tmp/runs/gpu-teacher/best.pt", "val_accuracy": 0.7})
        (folder / name / "report.json").write_text(json.dumps(report))
        return best

    first = gpu_run("gpu-a", shipped, shipped_sha, seed=5)
    second = gpu_run("gpu-b", "/tmp/runs/gpu-a/best.pt", _sha256(first), seed=6)
    facts = schedules(second, {"schedule": SHIPPED_SCHEDULE}, shipped_sha)
    assert [r["run"] for r in facts["schedule"]] == ["fer-student-kd", "gpu-a", "gpu-b"]
    assert [r["run"] for r in facts["teacher_schedule"]] == ["gpu-teacher"]
    assert facts["teacher_model"]["architecture"]["blocks"] == (2, 2)
    assert facts["teacher_model"]["parameters"] == sum(p.numel() for p in ConvTeacher(wide).parameters())
    rebuilt = schedules(second, {"schedule": facts["schedule"]}, shipped_sha)  # build_fer.py --card-only
    assert rebuilt["schedule"] == facts["schedule"]
    # a soup of gpu-b and fine-tunes of it goes back through gpu-b to the shipped schedule
    tunes = [fake_run(folder / f"ft-{i}", second, seed=10 + i) for i in range(2)]
    make_soup([second, *tunes], folder / "soup-b")
    souped = schedules(folder / "soup-b" / "best.pt", {"schedule": SHIPPED_SCHEDULE}, shipped_sha)
    assert [r["run"] for r in souped["schedule"]] == ["fer-student-kd", "gpu-a", "gpu-b", "soup-b"]
    assert [r["run"] for r in souped["teacher_schedule"]] == ["gpu-teacher"]
    # the shipped weights were replaced since: the chain stops at the run that started from them
    assert [r["run"] for r in schedules(second, {"schedule": SHIPPED_SCHEDULE}, "another sha")["schedule"]] == \
        ["gpu-a", "gpu-b"]
    # gpu-a's folder here holds other weights than gpu-b started from: not followed
    torch.save({"other": torch.zeros(1)}, first)
    assert [r["run"] for r in schedule_of(second, SHIPPED_SCHEDULE, shipped_sha)] == ["gpu-b"]


def test_a_run_distilled_from_an_ensemble_names_it_and_a_cut_run_keeps_its_epochs(runs, tmp_path):
    """A report of `--teacher A,B` names the ensemble (no single checkpoint to follow, so the
    card keeps the shipped teacher's schedule); export/unfinished_report.py rebuilds the report
    of a run a lent GPU's timeout cut, ensemble included, and the schedule counts the epochs it ran."""
    from unfinished_report import unfinished_report

    folder, shipped, _, _ = runs
    shipped_sha = _sha256(shipped)
    best = fake_run(folder / "ens-kd", shipped, seed=7, device="cuda (H200)")
    report = json.loads((folder / "ens-kd" / "report.json").read_text())
    report.update(init_sha256=shipped_sha, teacher={"run": "ensemble of t-a + t-b", "val_accuracy": 0.69,
                                                    "checkpoints": ["/tmp/runs/t-a/best.pt", "/tmp/runs/t-b/best.pt"]})
    (folder / "ens-kd" / "report.json").write_text(json.dumps(report))
    shipped_facts = {"schedule": SHIPPED_SCHEDULE, "teacher_schedule": ["kept"], "teacher_model": {"kind": "teacher"}}
    facts = schedules(best, shipped_facts, shipped_sha)
    assert [r["run"] for r in facts["schedule"]] == ["fer-student-kd", "ens-kd"]
    assert "distilled from ensemble of t-a + t-b (val 0.6900)" in schedule_text(facts["schedule"])
    assert facts["teacher_schedule"] == [] and facts["teacher_model"] == {"kind": "teacher"}

    history = [{"epoch": e, "val_accuracy": 0.6} for e in (1, 2)]
    last = tmp_path / "last.pt"
    torch.save({"epoch": 2, "config": {**CONFIG, "epochs": 9}, "architecture": TINY.as_dict(), "seed": 7,
                "best": {"epoch": 2, "accuracy": 0.6}, "history": history}, last)
    cut = unfinished_report(str(last), "/tmp/runs/t-a/best.pt,/tmp/runs/t-b/best.pt", str(shipped), "cpu")
    assert cut["unfinished"] == "the call's timeout stopped it after epoch 2 of 9"
    assert cut["teacher"] == {"run": "ensemble of t-a + t-b",
                              "checkpoints": ["/tmp/runs/t-a/best.pt", "/tmp/runs/t-b/best.pt"]}
    assert cut["init_sha256"] == shipped_sha
    assert unfinished_report(str(last), "fer", "none", "cpu")["teacher"] == {"checkpoint": "fer"}
    (folder / "cut").mkdir()
    torch.save({"model": SwinSE(TINY).state_dict()}, folder / "cut" / "best.pt")
    (folder / "cut" / "report.json").write_text(json.dumps(cut))
    assert [r["epochs"] for r in schedule_of(folder / "cut" / "best.pt", SHIPPED_SCHEDULE, shipped_sha)] == [10, 2]
