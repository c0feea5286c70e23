"""`edgeaffect train eeg`: subject-independent training and evaluation of the
RBTransformer teacher and its distilled student on band-feature CSVs.

Protocol (no leak): K folds over the subjects of the evaluation dataset;
whole subjects are held out; every row's tokens are re-referenced to their
electrode mean and every subject's are then standardised with its own rows
only (no labels; `features.prepare_tokens`); model selection (the epoch) uses an inner
split of the training subjects; extra datasets (--extra, e.g. MAHNOB) only
ever add training subjects. Baselines on the same folds: the majority class
and an L2 logistic regression. The student is trained three times per fold:
from the labels alone, distilled from that fold's RBTransformer teacher
(soft targets at a temperature plus the hard labels), and distilled from
that fold's logistic regression (its soft targets alone), so the report
shows whether distillation helps and from which teacher. Seeded; per-fold
results are checkpointed and a rerun resumes.

Why a linear teacher: on these folds the logistic regression beats every
transformer trained from the labels (the cross-subject signal in trial-level
band features is small and close to linear, and 988 trials are too few for
attention to find it unaided); its soft targets hand the student that
function over the whole input space, which the hard labels do not.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch.nn import functional as F

from ..evaluation.metrics import binary_heads_metrics
from .features import HEADS, FeatureTable, prepare_tokens, read_feature_csv
from .model import STUDENT, TEACHER, RBConfig, RBTransformer


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    noise: float = 0.15  # Gaussian noise on standardised tokens
    electrode_dropout: float = 0.1  # tokens zeroed = "no information", as fill="mean" feeds them
    temperature: float = 2.0
    alpha: float = 0.5  # weight of the distillation term, RBTransformer teacher
    # Weight of the distillation term when the logistic regression teaches. Its targets are already fitted to
    # the labels and class-balanced; 5 subject folds (seed 0), mean balanced accuracy valence / arousal:
    # 0.578 / 0.576 at 1.0, 0.562 / 0.560 at 0.8, 0.563 / 0.568 at 0.5 (LR itself 0.572 / 0.585).
    linear_alpha: float = 1.0
    inner_val_fraction: float = 0.2


def head_metrics(labels: np.ndarray, logits: np.ndarray) -> dict:
    metrics = binary_heads_metrics(labels, logits, HEADS)
    return {k: v for k, v in metrics.items() if not k.endswith("_confusion") and k != "n"}


def _mean_balanced(metrics: dict) -> float:
    return float(np.mean([metrics[f"{h.replace('_high', '')}_balanced_accuracy"] for h in HEADS]))


def fit(cfg: RBConfig, x: np.ndarray, y: np.ndarray, tc: TrainConfig, seed: int, val: Optional[tuple] = None,
        teacher: Optional[RBTransformer] = None, epochs: Optional[int] = None,
        teacher_logits: Optional[np.ndarray] = None):
    """Trains one model; with `val`, returns the weights of the best epoch by
    mean balanced accuracy and that epoch. The soft targets come from
    `teacher` or, for a teacher that is not an RBTransformer, from its
    `teacher_logits` on `x`. Returns (model, best_epoch)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = RBTransformer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    epochs = epochs or tc.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=epochs * ((len(x) + tc.batch_size - 1) // tc.batch_size))
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
    pos = yt.mean(0).clamp(0.05, 0.95)
    pos_weight = (1 - pos) / pos  # balance each head's classes
    if teacher is not None:
        teacher_logits = predict(teacher, x)
    soft = None if teacher_logits is None else torch.sigmoid(torch.from_numpy(teacher_logits).float() / tc.temperature)
    best, best_epoch, best_score = None, epochs, -1.0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.from_numpy(rng.permutation(len(x)))
        for start in range(0, len(x), tc.batch_size):
            idx = order[start : start + tc.batch_size]
            xb = xt[idx] + tc.noise * torch.randn_like(xt[idx])
            keep = (torch.rand(xb.shape[:2]) > tc.electrode_dropout).float().unsqueeze(-1)
            logits = model(xb * keep)
            loss = F.binary_cross_entropy_with_logits(logits, yt[idx], pos_weight=pos_weight)
            if soft is not None:
                kd = F.binary_cross_entropy_with_logits(logits / tc.temperature, soft[idx])
                loss = (1 - tc.alpha) * loss + tc.alpha * tc.temperature**2 * kd
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if val is not None:
            score = _mean_balanced(head_metrics(val[1], predict(model, val[0])))
            if score > best_score:
                best_score, best_epoch = score, epoch
                best = {k: v.clone() for k, v in model.state_dict().items()}
    if best is not None:
        model.load_state_dict(best)
    return model.eval(), best_epoch


def predict(model: RBTransformer, x: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.inference_mode():
        return model(torch.from_numpy(x.astype(np.float32))).numpy()


def logistic_regression(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, l2: float = 10.0, steps: int = 400) -> np.ndarray:
    """An L2 logistic regression per head (full-batch L-BFGS), class-balanced: test logits."""
    xt, yt = torch.from_numpy(x.reshape(len(x), -1)).double(), torch.from_numpy(y).double()
    w = torch.zeros(xt.shape[1], y.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(y.shape[1], dtype=torch.float64, requires_grad=True)
    pos = yt.mean(0).clamp(0.05, 0.95)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(xt @ w + b, yt, pos_weight=(1 - pos) / pos) + l2 * (w**2).sum() / len(xt)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (torch.from_numpy(x_test.reshape(len(x_test), -1)).double() @ w + b).numpy()


def subject_folds(subjects: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    unique = np.unique(subjects)
    if k < 2 or k > len(unique):
        raise ValueError(f"folds={k} must be between 2 and the number of subjects ({len(unique)})")
    return [np.sort(f) for f in np.array_split(np.random.default_rng(seed).permutation(unique), k)]


def load_training_tables(data: str | Path, extra: list) -> tuple[FeatureTable, list[FeatureTable]]:
    main = read_feature_csv(data)
    extras = []
    for i, path in enumerate(extra, start=1):
        table = read_feature_csv(path)
        table.subjects = table.subjects + 100000 * i  # keep subject ids of different datasets apart
        extras.append(table)
    return main, extras


def cross_validate(data: str | Path, out: str | Path, extra: tuple = (), folds: int = 5, seed: int = 0,
                   tc: TrainConfig = TrainConfig(), progress: bool = True) -> dict:
    """Runs the protocol above; writes out/cv.json (resumable) and returns it."""
    from tqdm.auto import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "cv.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"folds": {}}
    main, extras = load_training_tables(data, list(extra))
    x_main = prepare_tokens(main.tokens, main.subjects, main.present)
    x_extra = [prepare_tokens(t.tokens, t.subjects, t.present) for t in extras]
    fold_subjects = subject_folds(main.subjects, folds, seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    for f, test_subjects in enumerate(tqdm(fold_subjects, desc="folds", disable=not progress)):
        if str(f) in state["folds"]:
            continue
        started = time.time()
        test = np.isin(main.subjects, test_subjects)
        train_subjects = np.unique(main.subjects[~test])
        inner = np.random.default_rng(seed + f).permutation(train_subjects)[: max(1, int(len(train_subjects) * tc.inner_val_fraction))]
        inner_mask = np.isin(main.subjects, inner) & ~test
        fit_mask = ~test & ~inner_mask
        x_fit = np.concatenate([x_main[fit_mask]] + x_extra)
        y_fit = np.concatenate([main.labels[fit_mask]] + [t.labels for t in extras])
        val = (x_main[inner_mask], main.labels[inner_mask])
        x_test, y_test = x_main[test], main.labels[test]
        x_trainall = np.concatenate([x_main[~test]] + x_extra)
        y_trainall = np.concatenate([main.labels[~test]] + [t.labels for t in extras])

        results = {}
        majority = (y_trainall.mean(0) >= 0.5).astype(float) * 2 - 1
        results["majority"] = head_metrics(y_test, np.tile(majority, (len(y_test), 1)))
        results["logistic_regression"] = head_metrics(y_test, logistic_regression(x_trainall, y_trainall, x_test))
        teacher, t_epoch = fit(TEACHER, x_fit, y_fit, tc, seed + 10 * f, val)
        results["teacher"] = head_metrics(y_test, predict(teacher, x_test))
        student, s_epoch = fit(STUDENT, x_fit, y_fit, tc, seed + 10 * f + 1, val)
        results["student_no_kd"] = head_metrics(y_test, predict(student, x_test))
        distilled, d_epoch = fit(STUDENT, x_fit, y_fit, tc, seed + 10 * f + 1, val, teacher=teacher)
        results["student_kd"] = head_metrics(y_test, predict(distilled, x_test))
        linear_logits = logistic_regression(x_fit, y_fit, x_fit)  # the teacher sees the same subjects as the others
        from_linear, l_epoch = fit(STUDENT, x_fit, y_fit, replace(tc, alpha=tc.linear_alpha), seed + 10 * f + 1, val,
                                   teacher_logits=linear_logits)
        results["student_kd_lr"] = head_metrics(y_test, predict(from_linear, x_test))
        state["folds"][str(f)] = {"test_subjects": test_subjects.tolist(), "n_test": int(test.sum()),
                                  "best_epochs": {"teacher": t_epoch, "student_no_kd": s_epoch, "student_kd": d_epoch,
                                                  "student_kd_lr": l_epoch},
                                  "results": results, "seconds": round(time.time() - started, 1)}
        state_path.write_text(json.dumps(state, indent=2))  # checkpoint: a rerun resumes from here
    state["summary"] = summarize(state["folds"])
    state["protocol"] = {"data": str(data), "extra": [str(e) for e in extra], "folds": folds, "seed": seed,
                         "train_config": tc.__dict__, "teacher": TEACHER.as_dict(), "student": STUDENT.as_dict()}
    state_path.write_text(json.dumps(state, indent=2))
    return state


def summarize(fold_states: dict) -> dict:
    # models every fold has (a run resumed across versions may lack the newer ones in early folds)
    models = [m for m in next(iter(fold_states.values()))["results"] if all(m in s["results"] for s in fold_states.values())]
    summary = {}
    for model in models:
        keys = next(iter(fold_states.values()))["results"][model].keys()
        summary[model] = {k: [float(np.mean([s["results"][model][k] for s in fold_states.values()])),
                              float(np.std([s["results"][model][k] for s in fold_states.values()]))] for k in keys}
    return summary


STUDENT_SOURCES = {"labels": "student_no_kd", "teacher": "student_kd", "logistic_regression": "student_kd_lr"}


def choose_student(summary: dict, student_from: str = "auto") -> str:
    """The cross-validation key of the student to train: `student_from` names its
    teacher ("labels" for none); "auto" picks the best mean balanced accuracy over folds."""
    if student_from == "auto":
        present = [key for key in STUDENT_SOURCES.values() if key in summary]
        return max(present, key=lambda key: _mean_balanced_summary(summary[key]))
    if student_from not in STUDENT_SOURCES:
        raise ValueError(f"student_from={student_from!r}: use auto, {', '.join(STUDENT_SOURCES)}")
    key = STUDENT_SOURCES[student_from]
    if key not in summary:
        raise ValueError(f"the cross-validation has no {key} results: rerun `edgeaffect train eeg` into a new --out")
    return key


def train_final(data: str | Path, out: str | Path, extra: tuple = (), seed: int = 0, tc: TrainConfig = TrainConfig(),
                student_from: str = "auto") -> dict:
    """After `cross_validate` in the same `out`: trains the teacher and the
    student on every subject, for the median of the epochs the folds picked,
    the student from the teacher that scored best across the folds (labels
    alone, the RBTransformer teacher or the logistic regression), unless
    `student_from` names one. Writes out/final/{teacher,student}.safetensors
    and out/final/final.json."""
    from safetensors.torch import save_file

    out = Path(out)
    state_path = out / "cv.json"
    if not state_path.exists():
        raise FileNotFoundError(f"{state_path} not found: run the cross-validation into {out} first "
                                "(edgeaffect train eeg --data ... --out DIR)")
    state = json.loads(state_path.read_text())
    if "summary" not in state:
        raise ValueError(f"{state_path} is incomplete: rerun `edgeaffect train eeg` to finish its folds")
    summary = state["summary"]
    student_key = choose_student(summary, student_from)
    epochs = {name: int(np.median([f["best_epochs"][name] for f in state["folds"].values()]))
              for name in ("teacher", student_key)}
    main, extras = load_training_tables(data, list(extra))
    x = np.concatenate([prepare_tokens(main.tokens, main.subjects, main.present)]
                       + [prepare_tokens(t.tokens, t.subjects, t.present) for t in extras])
    y = np.concatenate([main.labels] + [t.labels for t in extras])
    final = out / "final"
    final.mkdir(exist_ok=True)
    teacher, _ = fit(TEACHER, x, y, tc, seed, epochs=epochs["teacher"])
    if student_key == "student_kd":
        student, _ = fit(STUDENT, x, y, tc, seed + 1, teacher=teacher, epochs=epochs[student_key])
    elif student_key == "student_kd_lr":
        student, _ = fit(STUDENT, x, y, replace(tc, alpha=tc.linear_alpha), seed + 1,
                         teacher_logits=logistic_regression(x, y, x), epochs=epochs[student_key])
    else:
        student, _ = fit(STUDENT, x, y, tc, seed + 1, epochs=epochs[student_key])
    source = {key: name for name, key in STUDENT_SOURCES.items()}[student_key]
    for name, model, cfg in (("teacher", teacher, TEACHER), ("student", student, STUDENT)):
        meta = {"architecture": json.dumps(cfg.as_dict()), "seed": str(seed), "data": str(data),
                "epochs": str(epochs["teacher" if name == "teacher" else student_key]),
                "distilled": str(student_key != "student_no_kd")}
        if name == "student":
            meta["student_from"] = source
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(final / f"{name}.safetensors"),
                  metadata=meta)
    report = {"epochs": epochs, "student_key": student_key, "student_from": source,
              "distilled": student_key != "student_no_kd", "seed": seed, "data": str(data),
              "extra": [str(e) for e in extra], "n_trials": int(len(x)), "subjects": int(len(np.unique(main.subjects))),
              "train_config": tc.__dict__, "student": STUDENT.as_dict(), "teacher": TEACHER.as_dict(),
              "train_balanced_accuracy": {"teacher": head_metrics(y, predict(teacher, x)),
                                          "student": head_metrics(y, predict(student, x))}}
    (final / "final.json").write_text(json.dumps(report, indent=2))
    return report


def _mean_balanced_summary(metrics: dict) -> float:
    return float(np.mean([metrics[f"{h.replace('_high', '')}_balanced_accuracy"][0] for h in HEADS]))
