"""Model soups of FER checkpoints (edgeaffect/fer/soup.py): the average
against a float64 reference, the refusals, and the written checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="soups average torch checkpoints (pip install '.[test]')")

from conftest import OUTSIDE_SOURCE, data_path  # noqa: E402
from edgeaffect.fer.model import SwinSE, SwinSEConfig  # noqa: E402
from edgeaffect.fer.soup import average_weights, make_soup, paired_gain  # noqa: E402
from edgeaffect.fer.train import load_checkpoint_model, read_fer_weights  # noqa: E402

TINY = SwinSEConfig(stem=8, dim=8, depths=(1, 1, 1), heads=(1, 1, 2))


def save_checkpoint(model: SwinSE, path) -> str:
    """`model` in train_fer's checkpoint format."""
    torch.save({"model": model.state_dict(), "config": {"model": "student"}, "architecture": model.cfg.as_dict(),
                "seed": 0, "epoch": 1}, path)
    return str(path)


def save_safetensors(model: SwinSE, path) -> str:
    """`model` as exported weights: safetensors with the architecture in the metadata (lists, not tuples)."""
    from safetensors.torch import save_file

    save_file(dict(model.state_dict()), str(path), metadata={"architecture": json.dumps(model.cfg.as_dict())})
    return str(path)


def fresh_student(rng, config: SwinSEConfig = TINY) -> SwinSE:
    torch.manual_seed(int(rng.integers(1 << 31)))
    return SwinSE(config).eval()


def test_soup_is_the_float64_mean_of_its_ingredients(rng, tmp_path):
    models = [fresh_student(rng) for _ in range(3)]
    paths = [save_checkpoint(m, tmp_path / f"{i}.pt") for i, m in enumerate(models[:2])]
    paths.append(save_safetensors(models[2], tmp_path / "2.safetensors"))  # exported weights mix with checkpoints
    soup = average_weights(paths)
    assert soup["kind"] == "student" and soup["architecture"] == TINY.as_dict()
    for name, tensor in soup["model"].items():
        reference = np.mean([m.state_dict()[name].double().numpy() for m in models], axis=0)
        assert tensor.dtype == models[0].state_dict()[name].dtype
        if tensor.is_floating_point():
            np.testing.assert_allclose(tensor.double().numpy(), reference, rtol=1e-6, atol=1e-7)  # float32 storage
        else:  # integer buffers (index tables) are the same in every ingredient
            np.testing.assert_array_equal(tensor.numpy(), reference)


def test_soup_of_mirrored_perturbations_is_the_start(rng, tmp_path):
    """(w + d) and (w - d) average back to w: what fine-tunes scattered around one start do, in the limit."""
    start = fresh_student(rng)
    up, down = SwinSE(TINY).eval(), SwinSE(TINY).eval()  # weights loaded below
    state = start.state_dict()
    deltas = {k: torch.from_numpy(rng.normal(scale=0.05, size=tuple(v.shape)).astype(np.float32))
              for k, v in state.items() if v.is_floating_point()}
    up.load_state_dict({k: v + deltas[k] if k in deltas else v for k, v in state.items()})
    down.load_state_dict({k: v - deltas[k] if k in deltas else v for k, v in state.items()})
    report = make_soup([save_checkpoint(up, tmp_path / "up.pt"), save_checkpoint(down, tmp_path / "down.pt")],
                       tmp_path / "soup")
    assert report["best"] is None  # nothing scored without data
    model = load_checkpoint_model(tmp_path / "soup" / "best.pt")  # the soup loads like any checkpoint
    x = torch.from_numpy(rng.normal(size=(3, 1, 48, 48)).astype(np.float32))
    with torch.inference_mode():
        np.testing.assert_allclose(model(x).numpy(), start(x).numpy(), rtol=1e-4, atol=1e-5)
    assert read_fer_weights(tmp_path / "soup" / "best.pt")["kind"] == "student"
    written = json.loads((tmp_path / "soup" / "report.json").read_text())
    assert [len(i["sha256"]) for i in written["soup"]] == [64, 64]


def test_soup_refuses_one_ingredient_and_mixed_shapes(rng, tmp_path):
    a = save_checkpoint(fresh_student(rng), tmp_path / "a.pt")
    with pytest.raises(ValueError, match="at least two"):
        average_weights([a])
    wider = save_checkpoint(fresh_student(rng, SwinSEConfig(stem=8, dim=16, depths=(1, 1, 1), heads=(1, 1, 2))),
                            tmp_path / "wider.pt")
    with pytest.raises(ValueError, match="same architecture"):
        average_weights([a, wider])
    with pytest.raises(FileNotFoundError, match="best.pt"):
        average_weights([a, tmp_path / "missing.pt"])


def test_paired_gain_is_the_mean_difference_with_a_bootstrap_interval(rng):
    n = 3001  # odd, about the size of a val split
    other = rng.random(n) < 0.6
    soup = np.where(rng.random(n) < 0.1, ~other, other)  # flips a tenth of the answers
    result = paired_gain(soup, other)
    diff = soup.astype(np.float64) - other
    assert result["gain"] == pytest.approx(diff.mean(), abs=1e-15)
    low, high = result["ci95"]
    assert low <= result["gain"] <= high
    # the normal approximation's interval: 2 x 1.96 standard errors of the mean difference
    assert high - low == pytest.approx(2 * 1.96 * diff.std() / np.sqrt(n), rel=0.15)
    assert paired_gain(other, other) == {"gain": 0.0, "ci95": [0.0, 0.0]}


def test_soup_cli_writes_the_soup_and_explains_a_refusal(rng, tmp_path):
    a, b = (save_checkpoint(fresh_student(rng), tmp_path / f"{name}.pt") for name in "ab")
    done = subprocess.run([sys.executable, "-m", "edgeaffect", "soup", a, b, "--out", str(tmp_path / "soup")],
                          capture_output=True, text=True, cwd=OUTSIDE_SOURCE, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("soup of 2 checkpoints") and (tmp_path / "soup" / "best.pt").is_file()
    done = subprocess.run([sys.executable, "-m", "edgeaffect", "soup", a, "--out", str(tmp_path / "one")],
                          capture_output=True, text=True, cwd=OUTSIDE_SOURCE, check=False)
    assert done.returncode == 2 and "a soup needs at least two checkpoints" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.data
def test_soup_of_the_shipped_student_scores_on_real_faces(tmp_path):
    """The shipped student souped with itself stays itself on real val faces; every ingredient is scored."""
    data = data_path("fer2013")
    report = make_soup(["fer", "fer"], tmp_path / "soup", data=data, limit=15)
    fer = report["soup"][0]["val"]
    assert report["best"] == fer  # identical weights average to identical scores
    assert report["best"]["accuracy"] > 0.3  # seven classes: chance is about 0.14 on this balanced sample
    assert report["best_ingredient_accuracy"] == fer["accuracy"]
    assert report["soup"][1]["soup_gain"] == {"gain": 0.0, "ci95": [0.0, 0.0]}


@pytest.mark.data
def test_soup_scores_the_start_its_fine_tunes_share_when_its_weights_are_at_hand(tmp_path):
    """Fine-tunes of a start that is not an ingredient (a carried copy of the
    shipped weights): the soup is scored against that start too, and only
    while the file at the recorded path still holds the recorded weights."""
    import shutil

    from edgeaffect.models.registry import file_sha256
    from edgeaffect.fer.train import fer_weights_path

    data = data_path("fer2013")
    start = tmp_path / "carried" / "fer.safetensors"
    start.parent.mkdir()
    shutil.copy(fer_weights_path("fer"), start)
    weights = read_fer_weights(start)
    runs = []
    for name in ("ft-a", "ft-b"):  # "fine-tunes" that kept the start's weights: the soup is the start
        (tmp_path / name).mkdir()
        torch.save({"model": weights["model"], "config": {"model": "student"}, "architecture": weights["architecture"],
                    "seed": 0, "epoch": 1}, tmp_path / name / "best.pt")
        (tmp_path / name / "report.json").write_text(json.dumps({"init": str(start), "init_sha256": file_sha256(start)}))
        runs.append(tmp_path / name / "best.pt")
    report = make_soup(runs, tmp_path / "soup", data=data, limit=15)
    assert report["start"]["val"] == report["best"]
    assert report["start"]["soup_gain"] == {"gain": 0.0, "ci95": [0.0, 0.0]}
    start.write_bytes(b"since overwritten")  # the recorded weights are gone: nothing to score
    report = make_soup(runs, tmp_path / "soup-later", data=data, limit=15)
    assert "soup_gain" not in report["start"] and report["best"]["accuracy"] > 0.3
