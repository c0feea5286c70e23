"""Model soup: the uniform average of the weights of FER models fine-tuned
from one start (Wortsman et al., "Model soups", ICML 2022).

Fine-tunes of the same weights (other seeds, learning rates or teachers)
stay in one basin of the loss, so the mean of their weights is itself a good
model, and usually a better one than each of them: the averaging cancels
part of each run's noise, much as an ensemble does, but the soup is one
model with the ingredients' graph, so it costs nothing at run time. Averaging
models that did not start from the same weights does not work (their units
are permuted), so every ingredient must share the architecture, and the
soup is scored on the validation split beside its ingredients, with the
paired-bootstrap interval of its gain over each (val splits are small).
Each ingredient is named by its sha256 in the report: "fer" means the
weights shipped at the time, which a build of the soup then replaces.

Example:
    >>> from edgeaffect.fer.soup import make_soup
    >>> report = make_soup(["fer", "runs/fer-ft-a/best.pt", "runs/fer-ft-b/best.pt"], "runs/fer-soup",
    ...                    data="../shared/data/fer2013")                       # doctest: +SKIP
    >>> report["best"]["accuracy"]                                             # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..models.registry import file_sha256
from . import LABELS
from .data import load_fer_folder
from .train import _atomic, fer_weights_path, load_checkpoint_model, predict_logits, read_fer_weights


def average_weights(sources: Sequence[str | Path]) -> dict:
    """{"kind", "architecture", "model"} whose tensors are the element-wise
    mean of the sources' (checkpoints, .safetensors or "fer"), computed in
    float64 and stored in each tensor's own dtype.

    Example:
        >>> soup = average_weights(["fer", "runs/fer-ft-a/best.pt"])        # doctest: +SKIP
        >>> sorted(soup)                                                    # doctest: +SKIP
        ['architecture', 'kind', 'model']
    """
    if len(sources) < 2:
        raise ValueError(f"a soup needs at least two checkpoints, got {len(sources)}")
    ingredients = [read_fer_weights(s) for s in sources]
    first = ingredients[0]
    for source, ingredient in zip(sources[1:], ingredients[1:]):
        if ingredient["kind"] != first["kind"]:
            raise ValueError(f"{source} is a {ingredient['kind']} and {sources[0]} a {first['kind']}: a soup averages "
                             "fine-tunes of one model")
        # json round trips: a checkpoint holds tuples where safetensors metadata holds lists
        have, want = (json.loads(json.dumps(w["architecture"])) for w in (first, ingredient))
        differ = sorted(k for k in {**have, **want} if have.get(k) != want.get(k))
        if differ:
            raise ValueError(f"{source} and {sources[0]} differ in {', '.join(differ)}: only fine-tunes of the same "
                             "architecture (and the same starting weights) average into a soup")
        missing = sorted(first["model"].keys() ^ ingredient["model"].keys())
        if missing:
            raise ValueError(f"{source} and {sources[0]} hold different tensors ({', '.join(missing[:3])}"
                             f"{', ...' if len(missing) > 3 else ''}): pass the training checkpoints (best.pt) of "
                             "fine-tunes of one model")
    averaged = {}
    for name, tensor in first["model"].items():
        total = sum(ingredient["model"][name].double() for ingredient in ingredients)
        averaged[name] = (total / len(ingredients)).to(tensor.dtype)
    return {"kind": first["kind"], "architecture": first["architecture"], "model": averaged}


def paired_gain(soup_right: np.ndarray, other_right: np.ndarray, resamples: int = 2000) -> dict:
    """The soup's accuracy minus another model's on the same faces, with a 95% paired-bootstrap
    interval (faces resampled with replacement, seed 0): how sure the gain is on this many faces.

    Example:
        >>> paired_gain(np.array([1, 1, 0, 1], bool), np.array([1, 0, 0, 1], bool))["gain"]
        0.25
    """
    diff = soup_right.astype(np.float64) - other_right
    draws = np.random.default_rng(0).integers(0, len(diff), size=(resamples, len(diff)))
    means = diff[draws].mean(1)
    return {"gain": float(diff.mean()), "ci95": [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]}


def starting_point(path: Path) -> Optional[dict]:
    """The weights a train_fer run started from (its report's `init`): path, sha256 and whether
    they were the shipped `fer` weights; None for weights with no run report beside them. The
    sha256 is the one the run recorded; for reports older than that field, the file's now."""
    report = path.parent / "report.json"
    facts = json.loads(report.read_text()) if report.is_file() else {}
    if "soup" in facts:  # a soup of fine-tunes of one start is itself a fine-tune of that start
        return facts.get("start")
    init = facts.get("init")
    if init is None:
        return None
    # the shipped weights of this or another install (a run records the path its package had)
    shipped = Path(init).name == "fer.safetensors" and Path(init).parent.parent.name == "artifacts"
    sha = facts.get("init_sha256") or (file_sha256(init) if Path(init).is_file() else None)
    return {"path": str(init), "sha256": sha, "shipped": shipped}


def ingredient_facts(sources: Sequence[str | Path], out: Path) -> tuple[list[dict], Optional[dict]]:
    """Each ingredient's path, sha256 and role ("fine-tune", "start" or "unknown"), and the start
    the fine-tunes share. Refuses an --out that holds an ingredient, fine-tunes of different
    starts, and an ingredient that is neither a fine-tune nor that start (e.g. 'fer' after a
    build replaced the weights the fine-tunes started from)."""
    ingredients = []
    for source in sources:
        path = fer_weights_path(source).resolve()  # the sha256 names it even after a build overwrites the shipped weights
        if path.parent == out.resolve():
            raise ValueError(f"--out {out} holds the ingredient {path}: write the soup to a new folder, e.g. runs/fer-soup")
        ingredients.append({"source": str(source), "path": str(path), "sha256": file_sha256(path),
                            "started_from": starting_point(path)})
    start_shas = {i["started_from"]["sha256"] for i in ingredients if i["started_from"]}
    starts = {}
    for ingredient in ingredients:
        start = ingredient.pop("started_from")
        if ingredient["sha256"] in start_shas:
            ingredient["role"] = "start"  # passed as `fer`, a file, or its own run's checkpoint
        elif start is not None:
            ingredient["role"] = "fine-tune"
            starts.setdefault(start["sha256"] or start["path"], start)
        else:
            ingredient["role"] = "unknown"
    if len(starts) > 1:
        raise ValueError("the fine-tunes started from different weights (" + ", ".join(s["path"] for s in starts.values())
                         + "): averaging models from different starts does not make a good model")
    start = next(iter(starts.values()), None)
    for ingredient in ingredients:
        if ingredient["role"] == "unknown" and start is not None and start["sha256"] is not None:
            raise ValueError(f"{ingredient['source']} (sha256 {ingredient['sha256'][:12]}) is neither a fine-tune with its "
                             f"run's report.json beside it nor the weights the fine-tunes started from (sha256 "
                             f"{start['sha256'][:12]}, {start['path']}): pass those weights instead; for a shipped "
                             "student that a build has since replaced: git show COMMIT:edgeaffect/models/artifacts/fer/"
                             "fer.safetensors > start.safetensors")
    return ingredients, start


def _start_weights(start: Optional[dict], ingredients: list[dict]) -> Optional[Path]:
    """The file of the start the fine-tunes share, when it is not an ingredient itself and the
    file at its recorded path still holds those weights (its sha256); else None."""
    if start is None or start.get("sha256") is None or any(i["role"] == "start" for i in ingredients):
        return None
    path = Path(start["path"])
    return path if path.is_file() and file_sha256(path) == start["sha256"] else None


def make_soup(sources: Sequence[str | Path], out: str | Path, data: Optional[str | Path] = None,
              limit: Optional[int] = None) -> dict:
    """Averages `sources` into out/best.pt (a train_fer checkpoint, so `--init`,
    `--teacher`, `load_checkpoint_model` and export/build_fer.py take it) and
    writes out/report.json. With `data` (a folder with val/<class>/), the soup
    and each ingredient are scored on data/val (at most `limit` faces per class)
    and the report gives the best ingredient's accuracy beside the soup's; the
    start the fine-tunes share is scored too when it is not an ingredient and
    its weights are still at the path their runs recorded."""
    from ..evaluation.metrics import classification_metrics

    out = Path(out)
    if data is not None and not (Path(data) / "val").is_dir():
        raise FileNotFoundError(f"{Path(data) / 'val'} is missing: --data must hold val/<class>/ folders")
    ingredients, start = ingredient_facts(sources, out)
    soup = average_weights(sources)
    val = None
    if data is not None:
        x_val, y_val = load_fer_folder(Path(data) / "val", limit=limit)

        right = {}

        def score(model, key):
            predicted = predict_logits(model, x_val).argmax(1)
            right[key] = predicted == y_val
            metrics = classification_metrics(y_val, predicted, LABELS)
            return {k: metrics[k] for k in ("accuracy", "balanced_accuracy", "macro_f1", "per_class_recall")}

        for i, (source, ingredient) in enumerate(zip(sources, ingredients)):
            ingredient["val"] = score(load_checkpoint_model(source), i)
        model = load_checkpoint_model(sources[0])
        model.load_state_dict(soup["model"])
        val = score(model, "soup")
        for i, ingredient in enumerate(ingredients):
            ingredient["soup_gain"] = paired_gain(right["soup"], right[i])
        start_file = _start_weights(start, ingredients)
        if start_file is not None:  # the gain that matters: over the model the fine-tunes started from
            start["val"] = score(load_checkpoint_model(start_file), "start")
            start["soup_gain"] = paired_gain(right["soup"], right["start"])
    out.mkdir(parents=True, exist_ok=True)
    # train_fer's checkpoint format; a soup has no schedule of its own (its ingredients' reports hold theirs)
    checkpoint = {"model": soup["model"], "config": {"model": soup["kind"]}, "architecture": soup["architecture"],
                  "seed": None, "epoch": "soup", "val": val, "soup": ingredients, "start": start}
    _atomic(lambda tmp: torch.save(checkpoint, tmp), out / "best.pt")
    report = {"model": soup["kind"], "architecture": soup["architecture"], "soup": ingredients, "start": start,
              "selection": "uniform average of every ingredient (nothing chosen on val)", "best": val}
    if val is not None:
        report["best_ingredient_accuracy"] = max(i["val"]["accuracy"] for i in ingredients)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
