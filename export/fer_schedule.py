"""The training history of a FER checkpoint, read from the run reports that
`edgeaffect train fer` and `edgeaffect soup` write, and its one-line form
for the model card (export/build_fer.py).

A run's report names the weights it started from (`init`, with their
sha256) and its teacher; following `init` back gives the schedule, oldest
run first. A run that started from the shipped student continues the
shipped card's schedule. A run made on another machine (a lent GPU) names
paths there: the run folder of the same name among these runs stands in
when its weights have the recorded sha256. A soup's report names its
ingredients and the start its fine-tunes share.

Example:
    >>> from fer_schedule import schedule_of, schedule_text          # doctest: +SKIP
    >>> print(schedule_text(schedule_of(Path("runs/fer-soup/best.pt"), shipped=[])))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

# settings the fine-tunes of one soup may differ in; the card lists them per fine-tune
PER_RUN_SETTINGS = ("epochs", "lr", "seed")


def schedules(student: Path, shipped_facts: dict, shipped_sha256: str | None = None) -> dict:
    """{"schedule", "teacher_schedule", "teacher_model"} of the student checkpoint.
    `shipped_facts` are the metrics.json of the shipped model, whose weights have
    `shipped_sha256`: a run started from them continues their schedule, and a soup of
    fine-tunes of the shipped student also keeps its teacher (the fine-tunes distil from
    that student)."""
    schedule = schedule_of(student, shipped_facts.get("schedule", []), shipped_sha256)
    start = _soup_start(student)
    if _is_shipped(start, shipped_sha256):
        return {"schedule": schedule, "teacher_schedule": shipped_facts.get("teacher_schedule", []),
                "teacher_model": shipped_facts.get("teacher_model")}
    last = Path(start["path"]) if start else student
    return {"schedule": schedule, "teacher_schedule": teacher_schedule(last, shipped_sha256),
            "teacher_model": teacher_model(last) or shipped_facts.get("teacher_model")}


def _is_shipped(start, shipped_sha256: str | None) -> bool:
    """Whether a soup's start is the shipped student: its path in an install's artifacts, or a
    copy of those weights elsewhere (carried to a lent GPU), recognised by their sha256."""
    return bool(start) and (start["shipped"] or (shipped_sha256 is not None and start.get("sha256") == shipped_sha256))


def _soup_start(checkpoint: Path):
    """False when `checkpoint` is not a soup; else the start its fine-tunes share (None when unknown)."""
    report_path = checkpoint.parent / "report.json"
    if not report_path.exists():
        return False
    report = json.loads(report_path.read_text())
    return report.get("start") if "soup" in report else False


def schedule_of(checkpoint: Path, shipped: list[dict] | None = None, shipped_sha256: str | None = None) -> list[dict]:
    """The runs that made a checkpoint, oldest first, following each report's `init`;
    a soup on the way contributes one entry (soup_entry) and the schedule of its start;
    a run started from the shipped weights (sha256 `shipped_sha256`) continues `shipped`."""
    chain, report_path = [], checkpoint.parent / "report.json"
    while report_path.exists():
        report = json.loads(report_path.read_text())
        if "soup" in report:
            return _last_wins(soup_schedule(report_path, shipped or [], shipped_sha256) + chain)
        teacher = report.get("teacher") or {}
        # a run a timeout stopped (its report rebuilt from last.pt, "unfinished") ran the epochs in its history
        epochs = len(report["history"]) if report.get("unfinished") else report["config"]["epochs"]
        chain.insert(0, {"run": report_path.parent.name, "model": report["model"], "epochs": epochs,
                         "lr": report["config"]["lr"], "seed": report["seed"], "teacher": bool(teacher),
                         # "run": the teacher's run, where its checkpoint was a copy outside that run's folder
                         "teacher_run": (teacher.get("run") or Path(teacher["checkpoint"]).parent.name) if teacher else None,
                         "teacher_val_accuracy": teacher.get("val_accuracy"),
                         "best_val_accuracy": report["best"]["accuracy"], "best_epoch": report["best"]["epoch"],
                         "device": report.get("device", "cpu"), "online_teacher": report["config"].get("online_teacher", False)})
        if shipped_sha256 and report.get("init_sha256") == shipped_sha256:
            return _last_wins((shipped or []) + chain)
        init = _beside(report_path, report.get("init"), report.get("init_sha256"))
        report_path = init.parent / "report.json" if init is not None else Path("/nonexistent")
    return chain


def _last_wins(chain: list[dict]) -> list[dict]:
    """The chain with each run once, at its last place: a rebuild's shipped schedule already
    lists the runs it is followed back to."""
    seen, kept = set(), []
    for entry in reversed(chain):
        if entry["run"] not in seen:
            seen.add(entry["run"])
            kept.insert(0, entry)
    return kept


def soup_schedule(report_path: Path, shipped: list[dict], shipped_sha256: str | None = None) -> list[dict]:
    """The schedule of the soup's start and the soup's own entry. The start is the shipped
    student (`shipped`, its schedule, less any earlier build of this same soup) or a run
    (whose own chain may go back to the shipped weights, sha256 `shipped_sha256`)."""
    report = json.loads(report_path.read_text())
    start = report.get("start")
    if start is None:  # fine-tunes without run reports: what came before is unknown
        before = []
    elif _is_shipped(start, shipped_sha256):
        before = [r for r in shipped if r.get("run") != report_path.parent.name]
    else:
        before = schedule_of(Path(start["path"]), shipped, shipped_sha256)
    return before + [soup_entry(report_path, report)]


def soup_entry(report_path: Path, report: dict) -> dict:
    """One schedule step for a soup: each fine-tune's own last run (or nested soup), and the start."""
    ingredients = []
    for ingredient in report["soup"]:
        own = _last_run(Path(ingredient["path"])) if ingredient.get("role") != "start" else None
        ingredients.append({**(own or {"run": "the start", "sha256": ingredient["sha256"],
                                        "best_val_accuracy": (ingredient.get("val") or {}).get("accuracy")}),
                            "soup_gain": ingredient.get("soup_gain")})
    runs = [i for i in ingredients if "epochs" in i]  # the start's epochs are in the steps before this one
    return {"run": report_path.parent.name, "model": report["model"], "soup": ingredients,
            "start_gain": (report.get("start") or {}).get("soup_gain"),  # when the start was scored but not souped
            "epochs": sum(i["epochs"] for i in runs),
            "gpu_epochs": sum(i.get("gpu_epochs", i["epochs"] if i.get("device", "cpu") != "cpu" else 0) for i in runs),
            "best_val_accuracy": report["best"]["accuracy"] if report.get("best") else None}


def _last_run(checkpoint: Path) -> dict | None:
    """The entry of the run (or soup) that wrote `checkpoint`, or None when no report is beside it."""
    report_path = checkpoint.parent / "report.json"
    if not report_path.exists():
        return None
    report = json.loads(report_path.read_text())
    if "soup" in report:
        return soup_entry(report_path, report)
    return schedule_of(checkpoint)[-1]


def soup_config(report_path: Path) -> tuple[dict, list[str]]:
    """The training config the soup's fine-tunes share, and one phrase per setting (beyond
    epochs, lr and seed) in which they differ, e.g. "sam_rho (0.05 in fer-sam, 0.0 in fer-a)";
    raises when no fine-tune's run report is found."""
    configs = {}
    for ingredient in json.loads(report_path.read_text())["soup"]:
        run_report = Path(ingredient["path"]).parent / "report.json"
        if ingredient.get("role") != "start" and run_report.exists() and "config" in json.loads(run_report.read_text()):
            configs[run_report.parent.name] = json.loads(run_report.read_text())["config"]
    if not configs:
        raise FileNotFoundError(f"no ingredient of the soup {report_path.parent} has its run's report.json beside it: "
                                "keep the fine-tunes' run folders where `edgeaffect soup` found them")
    keys = sorted({k for c in configs.values() for k in c} - set(PER_RUN_SETTINGS))
    differ = [f"{k} (" + ", ".join(f"{c[k] if k in c else 'unset'} in {run}" for run, c in configs.items()) + ")"
              for k in keys
              if len({json.dumps(c.get(k)) for c in configs.values()}) > 1]
    return next(iter(configs.values())), differ


def _beside(report_path: Path, checkpoint: str | None, sha256: str | None = None) -> Path | None:
    """A checkpoint a report names; a relative one is relative to where training ran: the runs
    folder. One not found (named on another machine) is looked for in the run folder of the same
    name among these runs. With `sha256` (the weights the run started from), a file with other
    weights (since overwritten, or another run's) is no answer: None."""
    if not checkpoint:
        return None
    from edgeaffect.models.registry import file_sha256

    path = Path(checkpoint)
    path = path if path.is_absolute() else report_path.parent.parent / path
    if not path.exists():
        path = report_path.parent.parent / path.parent.name / path.name
    if sha256 and path.is_file() and file_sha256(path) != sha256:
        return None
    return path


def _teacher_of(student: Path) -> Path | None:
    """The checkpoint of the teacher the student's last run was distilled from, when its report names one."""
    report_path = student.parent / "report.json"
    if not report_path.exists():
        return None
    return _beside(report_path, (json.loads(report_path.read_text()).get("teacher") or {}).get("checkpoint"))


def teacher_schedule(student: Path, shipped_sha256: str | None = None) -> list[dict]:
    """The schedule of the teacher the student's last run was distilled from."""
    teacher = _teacher_of(student)
    return schedule_of(teacher, [], shipped_sha256) if teacher is not None else []


def teacher_model(student: Path) -> dict | None:
    """{"kind", "architecture", "parameters"} of the teacher the student's last run was distilled from."""
    teacher = _teacher_of(student)
    if teacher is None or not teacher.is_file():
        return None
    from edgeaffect.fer.model import parameter_count
    from edgeaffect.fer.train import load_checkpoint_model, read_fer_weights

    weights = read_fer_weights(teacher)
    return {"kind": weights["kind"], "architecture": weights["architecture"],
            "parameters": parameter_count(load_checkpoint_model(teacher))}


def schedule_text(chain: list[dict]) -> str:
    """One line for the runs of schedule_of(), oldest first."""
    parts = []
    for r in chain:
        if "soup" in r:
            parts.append(soup_text(r))
            continue
        distilled = ""
        if r["teacher"]:
            distilled = f", distilled from {r.get('teacher_run') or 'the teacher'}"
            if r.get("teacher_val_accuracy"):
                distilled += f" (val {r['teacher_val_accuracy']:.4f})"
            if r.get("online_teacher"):
                distilled += ", scoring each augmented view"
        if r.get("device", "cpu") != "cpu":
            distilled += f"; on {r['device']}"
        parts.append(f"{r['epochs']} epochs at peak lr {r['lr']} (seed {r['seed']}{distilled}; "
                     f"best val {r['best_val_accuracy']:.4f} at epoch {r['best_epoch']}; run {r['run']})")
    return "; then ".join(parts) or "see metrics.json"


def soup_text(entry: dict) -> str:
    """One schedule step: the uniform average of fine-tunes of one start (and the start)."""
    items = []
    for i in entry["soup"]:
        if "soup" in i:
            items.append(f"the soup {i['run']}")
        elif "epochs" not in i:
            gain = i.get("soup_gain")
            items.append("the model before this step (the start" + (
                f"; the soup's gain over it: {100 * gain['gain']:+.2f} points, 95% paired-bootstrap interval "
                f"{100 * gain['ci95'][0]:+.2f} to {100 * gain['ci95'][1]:+.2f}" if gain else "") + ")")
        else:
            teacher = f", distilled from {i['teacher_run'] or 'the start'}" if i["teacher"] else ""
            teacher += ", scoring each augmented view" if i.get("online_teacher") else ""
            items.append(f"{i['run']} ({i['epochs']} epochs at peak lr {i['lr']}, seed {i['seed']}{teacher}; "
                         f"its best val {i['best_val_accuracy']:.4f})")
    score = f"; the soup's best val {entry['best_val_accuracy']:.4f}" if entry.get("best_val_accuracy") is not None else ""
    gain = entry.get("start_gain")
    if gain:
        score += (f" ({100 * gain['gain']:+.2f} points over the weights the fine-tunes started from, 95% "
                  f"paired-bootstrap interval {100 * gain['ci95'][0]:+.2f} to {100 * gain['ci95'][1]:+.2f})")
    return (f"a uniform average of the weights (a model soup, `edgeaffect soup`; run {entry['run']}) of "
            + ", ".join(items) + f"; each fine-tune started from the weights before this step{score}")


def training_budget(student_chain: list[dict], teacher_chain: list[dict], last_epochs: int) -> str:
    """'Trained for N epochs in all (teacher: M), ...' with how many ran on a GPU."""
    def on_gpu_epochs(chain):
        return sum(r["gpu_epochs"] if "gpu_epochs" in r else r["epochs"] if r.get("device", "cpu") != "cpu" else 0
                   for r in chain)

    total = sum(r["epochs"] for r in student_chain) or last_epochs
    teacher = sum(r["epochs"] for r in teacher_chain) or 4
    on_gpu = on_gpu_epochs(student_chain), on_gpu_epochs(teacher_chain)
    where = (f"{on_gpu[0]} of them (teacher: {on_gpu[1]}) on a lent GPU, the rest on two CPU cores" if any(on_gpu)
             else "on two CPU cores, no GPU")
    return f"Trained for {total} epochs in all (teacher: {teacher}), {where}"
