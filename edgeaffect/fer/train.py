"""`edgeaffect train fer`: the convnet teacher and the Swin-SE student on
FER2013, with model selection on the validation split only.

- Loss: cross-entropy with label smoothing 0.1 and class weights
  proportional to n_class^-0.5 (normalised to mean 1). Disgust is 1.5% of
  the training set: without weights it is almost never predicted; full
  inverse-frequency weights (x16 for disgust) over-predict it and cost
  accuracy on the large classes; the square root is the usual compromise.
- Distillation (student with --teacher): loss = (1 - alpha) * CE(hard) +
  alpha * T^2 * KL(softmax(t / T) || softmax(s / T)), T = 4, alpha = 0.7.
  The teacher's logits are computed once per training image (mean of the
  image and its mirror) and reused for every augmented view: a teacher
  forward pass per step would cost more than the student's own step on two
  cores, and our augmentations (flip, +-10 degrees, +-10% scale) do not
  change the expression. With `online_teacher` (--online-teacher, meant for
  a GPU) the teacher instead scores the very view the student sees: the
  "consistent teaching" of Beyer et al. 2022 ("Knowledge distillation: a
  good teacher is patient and consistent"), which gains most on long
  schedules. --mixup A mixes pairs of augmented faces (Beta(A, A)) before
  both models see them: the teacher scores the mixed face, and the label
  term is the same mix of the two labels' cross-entropies. It needs the
  online teacher when distilling (a cached logit belongs to one unmixed
  face).
- An ensemble teacher (--teacher A,B,C): the mean of the members' logits.
  Members of equal strength from other seeds disagree on FER2013's
  ambiguous faces, and their mean scores above each of them (session 23:
  three 13-epoch teachers at 65.1-65.8% val, their mean 66.6%); a weaker
  member drags a stronger one down (69.4% alone, 68.5% with two of those).
- AdamW with a one-cycle schedule, optionally wrapped in SAM (--sam-rho,
  sam.py: the seed paper's optimiser; off by default because each step
  costs two passes); fp32 by default: on our 2-core AMX
  CPU, bf16 autocast (--bf16) was slower for these small models (0.71 s vs
  0.45 s per 128-image student step, 2.8 s vs 2.1 s for the teacher): the
  casts cost more than the small matmuls gain. Optional torch.compile
  (1.5x faster steps after a ~2.5 minute compile).
- `device="cuda"` runs the steps on a GPU (TF32 matmuls, cuDNN autotune).
  The training images (66 MB as uint8) live on the training device and are
  augmented there; the random draws come from the same seeded CPU generator
  on either device, so a run's data order and augmented views do not depend
  on it (on the H100 the CPU-side augmentation had capped a step at the
  CPU's pace). Checkpoints hold CPU tensors, so a run can resume on either
  device.
- `fit_minutes` (--minutes) picks the epoch count that fits a time box (a
  lent GPU's lease, a session) by timing a few steps first (fit.py); the
  chosen count is in the report's config, and --epochs with it repeats the
  run.
- Seeded: the data order, augmentation and drop-path masks of epoch e
  depend only on (seed, e), so a resumed run (out/last.pt, written
  atomically every epoch) continues exactly.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch.nn import functional as F

from ..evaluation.metrics import classification_metrics
from ..models.registry import file_sha256
from . import LABELS
from .augment import augment_faces, mix_faces
from .data import load_fer_folder
from .model import (STUDENT, TEACHER, ConvTeacher, ConvTeacherConfig, SwinSE, SwinSEConfig, parameter_count,
                    student_config, teacher_config)
from .sam import sam_gradients

PIXEL_MEAN, PIXEL_STD = 0.5, 0.25  # (x / 255 - mean) / std, the card's grey_image preprocessing


@dataclass(frozen=True)
class FerTrainConfig:
    model: str = "student"  # "student" (Swin-SE) or "teacher" (convnet)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    class_weight_power: float = 0.5
    temperature: float = 4.0
    alpha: float = 0.7
    online_teacher: bool = False  # the teacher scores each augmented view (a teacher forward pass per step)
    student_shape: str = ""  # changes to the student's shape, e.g. "dim=32,heads=1-2-4" (model.student_config)
    teacher_shape: str = ""  # changes to the convnet teacher's shape, e.g. "widths=64-128-256-512,blocks=2-2-2-2"
    compile: bool = False
    bf16: bool = False  # bf16 autocast on the training device: slower for these small models on our CPU (see above)
    sam_rho: float = 0.0  # > 0: sharpness-aware minimisation with this radius (sam.py; twice the cost per step)
    mixup: float = 0.0  # > 0: mixup with Beta(mixup, mixup) on every batch (augment.mix_faces; online teacher only)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W) or float [0, 1] (N, 1, H, W) -> the models' input."""
    if images.dtype == torch.uint8:
        images = images.float().div(255).unsqueeze(1)
    return (images - PIXEL_MEAN) / PIXEL_STD


def training_views(images: torch.Tensor, idx: torch.Tensor, generator: torch.Generator, mix_rng: np.random.Generator,
                   config: FerTrainConfig) -> tuple[torch.Tensor, Optional[tuple[torch.Tensor, float]]]:
    """The models' input for the uint8 faces images[idx]: augmented, mixed in pairs with
    --mixup, normalised; and the mix (perm, lam) for training_loss, or None."""
    x = augment_faces(images[idx].float().div(255).unsqueeze(1), generator)
    mix = None
    if config.mixup:
        x, perm, lam = mix_faces(x, mix_rng, config.mixup)
        mix = (perm, lam)
    return normalize(x), mix


def training_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, target: Optional[torch.Tensor],
                  config: FerTrainConfig, mix: Optional[tuple[torch.Tensor, float]] = None) -> torch.Tensor:
    """Class-weighted, label-smoothed cross-entropy; with teacher logits `target`, mixed with the
    soft-target KL at config.temperature (weight config.alpha, scaled by T^2; the module docstring).
    `mix` = (perm, lam) from augment.mix_faces: the label term is lam * CE(labels) + (1 - lam) *
    CE(labels[perm])."""
    def cross_entropy(y):
        return F.cross_entropy(logits, y, weight=weights, label_smoothing=config.label_smoothing)

    loss = cross_entropy(labels)
    if mix is not None:
        loss = mix[1] * loss + (1 - mix[1]) * cross_entropy(labels[mix[0]])
    if target is None:
        return loss
    t = config.temperature
    kd = F.kl_div(F.log_softmax(logits / t, 1), F.log_softmax(target / t, 1), log_target=True, reduction="batchmean")
    return (1 - config.alpha) * loss + config.alpha * t * t * kd


def build(kind: str, student: SwinSEConfig = STUDENT, teacher: ConvTeacherConfig = TEACHER):
    if kind == "student":
        return SwinSE(student)
    if kind == "teacher":
        return ConvTeacher(teacher)
    raise ValueError(f"model {kind!r} is not 'student' or 'teacher'")


def predict_logits(model: torch.nn.Module, images: np.ndarray, batch_size: int = 256, mirror: bool = False) -> np.ndarray:
    """Logits of uint8 (N, 48, 48) faces, on the model's device; with mirror, the
    mean over the face and its mirror image."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = normalize(torch.from_numpy(images[start:start + batch_size]).to(device))
            logits = model(x)
            if mirror:
                logits = (logits + model(torch.flip(x, dims=[3]))) / 2
            out.append(logits.float().cpu().numpy())
    return np.concatenate(out)


def fer_weights_path(source: str | Path) -> Path:
    """`source` as a file: a train_fer checkpoint (.pt), safetensors weights
    written by build_fer.py / export (.safetensors, shape in the metadata),
    or "fer", the shipped student's weights."""
    if str(source) == "fer":
        from ..models.registry import ARTIFACT_DIR

        return ARTIFACT_DIR / "fer" / "fer.safetensors"
    path = Path(source)
    if path.suffix not in (".pt", ".safetensors") or not path.is_file():
        raise FileNotFoundError(f"{source}: give a train_fer checkpoint (best.pt), .safetensors weights with their "
                                "shape in the metadata, or 'fer' for the shipped student")
    return path


def read_fer_weights(source: str | Path) -> dict:
    """{"kind": "student" | "teacher", "architecture": dict, "model": state dict} from any
    `fer_weights_path` source, so --init and --teacher take a checkpoint, exported weights or the
    shipped model alike."""
    path = fer_weights_path(source)
    if path.suffix == ".pt":
        state = torch.load(path, map_location="cpu", weights_only=False)
        return {"kind": state["config"]["model"], "architecture": state["architecture"], "model": state["model"]}
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "np") as f:
        text = (f.metadata() or {}).get("architecture")
    if not text:
        raise ValueError(f"{path} has no 'architecture' in its metadata; re-export it with `edgeaffect export fer` "
                         "or pass the training checkpoint (best.pt)")
    arch = json.loads(text)
    kind = "student" if "windows" in arch else "teacher"  # only SwinSEConfig has windows
    return {"kind": kind, "architecture": arch, "model": load_file(str(path))}


def load_checkpoint_model(source: str | Path) -> torch.nn.Module:
    """A FER model (best.pt / last.pt written by train_fer, .safetensors weights, or "fer"), in eval mode."""
    weights = read_fer_weights(source)
    arch = {k: tuple(v) if isinstance(v, list) else v for k, v in weights["architecture"].items()}
    model = SwinSE(SwinSEConfig(**arch)) if weights["kind"] == "student" else ConvTeacher(ConvTeacherConfig(**arch))
    model.load_state_dict(weights["model"])
    return model.eval()


class TeacherEnsemble(torch.nn.Module):
    """Several FER models as one teacher: the mean of their logits."""

    def __init__(self, members: list[torch.nn.Module]):
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x).float() for member in self.members]).mean(0)


def teacher_sources(teacher: str | Path | list | tuple) -> list[str]:
    """--teacher as a list of sources: one, or several comma-separated (an ensemble)."""
    items = list(teacher) if isinstance(teacher, (list, tuple)) else str(teacher).split(",")
    sources = [str(item).strip() for item in items if str(item).strip()]
    if not sources:
        raise ValueError(f"--teacher {teacher!r} names no checkpoint: give one, or several separated by commas")
    return sources


def load_teacher(teacher: str | Path | list | tuple) -> torch.nn.Module:
    """The teacher of `teacher_sources(teacher)`: one model, or the TeacherEnsemble of several, in eval mode.

    Example:
        >>> teacher = load_teacher("runs/fer-teacher-a/best.pt,runs/fer-teacher-b/best.pt")  # doctest: +SKIP
    """
    members = [load_checkpoint_model(source) for source in teacher_sources(teacher)]
    return members[0] if len(members) == 1 else TeacherEnsemble(members).eval()


def _atomic(write, path: Path) -> None:
    """write(tmp) then rename over path, so path is always whole."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        write(handle)
    os.replace(tmp, path)


def training_device(name: str) -> torch.device:
    """"cpu" or "cuda[:N]" as a torch.device, with an error that says how to get a usable GPU."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {name}: this torch ({torch.__version__}) sees no CUDA GPU; install a CUDA build "
                           "of torch on a machine with an NVIDIA driver, or train with --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: use cpu or cuda")
    return device


def _cpu_state(module_or_state) -> dict:
    """A state dict with CPU tensors: checkpoints load on machines without the training GPU."""
    state = module_or_state.state_dict() if hasattr(module_or_state, "state_dict") else module_or_state
    return {k: v.detach().cpu() if torch.is_tensor(v) else v for k, v in state.items()}


def _cpu_optimizer_state(opt: torch.optim.Optimizer) -> dict:
    state = opt.state_dict()
    return {**state, "state": {k: _cpu_state(v) for k, v in state["state"].items()}}


def _rng_state(device: torch.device):
    return torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def _set_rng_state(device: torch.device, state) -> None:
    torch.set_rng_state(state[0])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state[1], device)


def class_weights(targets: np.ndarray, power: float) -> torch.Tensor:
    counts = np.bincount(targets, minlength=len(LABELS)).astype(np.float64)
    w = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)
    return torch.tensor(w / w[counts > 0].mean(), dtype=torch.float32)


def initial_weights(start: dict, model: torch.nn.Module, source: str | Path) -> dict:
    """The state dict to start `model` from a checkpoint `start`: its weights
    as they are when the shapes match. For a student that differs only in
    blocks per stage, each stage keeps the start's first blocks (layer
    dropping, as DistilBERT initialises from its teacher's layers, which the
    residual stream tolerates and a short distilled schedule repairs) and a
    stage with more blocks gets new blocks after them whose residual branches
    start at zero (the attention's and the MLP's output projections), so the
    deeper student begins as exactly the start's function (Net2Net's
    deepening, Chen et al. 2016) and training grows the new blocks from there.
    Any other difference is an error that says how to fix it."""
    have = json.loads(json.dumps(start["architecture"]))
    want = json.loads(json.dumps(model.cfg.as_dict()))
    if have == want:
        return start["model"]
    same_but_depth = {k: v for k, v in have.items() if k != "depths"} == {k: v for k, v in want.items() if k != "depths"}
    if not (isinstance(model, SwinSE) and same_but_depth and len(have["depths"]) == len(want["depths"])):
        raise ValueError(f"--init {source} holds a model of shape {start['architecture']}; this run builds "
                         f"{model.cfg.as_dict()}: give --student-shape to match, or a shape that only changes "
                         f"depths (or start without --init)")
    weights = {}
    for key, value in start["model"].items():
        parts = key.split(".")
        if parts[0] == "stages" and int(parts[2]) >= want["depths"][int(parts[1])]:
            continue  # a dropped block
        weights[key] = value
    # a kept block's relative drop-path rate and its shift are properties of the new model, not weights
    for key, value in model.state_dict().items():
        if key in weights:
            continue
        parts = key.split(".")  # a new block: stages.<stage>.<block>.<layer>...
        residual_output = parts[3:5] in (["attn", "proj"], ["mlp", "2"])
        weights[key] = torch.zeros_like(value) if residual_output else value
    return weights


def train_fer(data: str | Path, out: str | Path, config: FerTrainConfig = FerTrainConfig(), seed: int = 0,
              teacher: Optional[str | Path] = None, progress: bool = True, limit: Optional[int] = None,
              stop_after: Optional[int] = None, init: Optional[str | Path] = None, device: str = "cpu",
              fit_minutes: Optional[float] = None) -> dict:
    """Trains on data/train, selects the epoch on data/val; writes out/best.pt,
    out/last.pt (resume point) and out/report.json; returns the report.

    `stop_after` ends this run after that epoch (a time-boxed session); the
    next call with the same arguments resumes where it stopped. `init`
    starts from the weights of an earlier checkpoint of the same model (a
    second schedule, e.g. a warm restart at a lower learning rate).
    `device` is "cpu" or "cuda" (see the module docstring). `fit_minutes`
    replaces config.epochs with as many epochs as fit in that many minutes
    (fit.py); a resumed run keeps the count its first call chose.

    Example (a few minutes for one epoch of the student on two cores):
        >>> from edgeaffect.fer.train import FerTrainConfig, train_fer
        >>> report = train_fer("../shared/data/fer2013", "runs/fer-student", FerTrainConfig(epochs=1))  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    data, out = Path(data), Path(out)
    if config.online_teacher and teacher is None:
        raise ValueError("online_teacher needs a teacher: pass --teacher CHECKPOINT")
    if config.mixup and teacher is not None and not config.online_teacher:
        raise ValueError("--mixup with a teacher needs --online-teacher: the cached teacher logits belong to unmixed "
                         "faces, so the teacher must score each mixed one")
    if not 0.0 <= config.alpha <= 1.0:
        raise ValueError(f"--kd-alpha {config.alpha}: the distillation weight must lie in [0, 1]")
    device = training_device(device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True  # one input shape per run: autotuning pays off
    for split in ("train", "val"):
        if not (data / split).is_dir():
            raise FileNotFoundError(f"{data / split} is missing: --data must hold train/<class>/ and val/<class>/ folders")
    out.mkdir(parents=True, exist_ok=True)
    x_train, y_train = load_fer_folder(data / "train", limit=limit)
    x_val, y_val = load_fer_folder(data / "val", limit=limit)
    torch.manual_seed(seed)
    model = build(config.model, student=student_config(config.student_shape),
                  teacher=teacher_config(config.teacher_shape))
    init_sha256 = None
    if init is not None:
        init_sha256 = file_sha256(fer_weights_path(init))
        start = read_fer_weights(init)
        if start["kind"] != config.model:
            raise ValueError(f"--init {init} holds a {start['kind']}, not a {config.model}")
        model.load_state_dict(initial_weights(start, model, init))
    model.to(device)
    soft = None
    teacher_id = None
    if teacher is not None:
        teacher_model = load_teacher(teacher).to(device)
        ids = []
        for source in teacher_sources(teacher):
            teacher_file = fer_weights_path(source)
            stat = teacher_file.stat()
            ids.append(f"{teacher_file.resolve()}:{stat.st_size}:{int(stat.st_mtime)}")
        teacher_id = f"{'+'.join(ids)}:{len(x_train)}"
        soft_path, id_path = out / "teacher_logits.npy", out / "teacher_logits.id"
        if config.online_teacher:  # scored per step below
            soft = None
        elif soft_path.exists() and id_path.exists() and id_path.read_text() == teacher_id:
            soft = torch.from_numpy(np.load(soft_path))
        else:  # computed once per (teacher file, training set)
            soft = torch.from_numpy(predict_logits(teacher_model, x_train, mirror=True))
            _atomic(lambda tmp: np.save(tmp, soft.numpy()), soft_path)
            id_path.write_text(teacher_id)
        teacher_val = classification_metrics(y_val, predict_logits(teacher_model, x_val).argmax(1), LABELS)
    steps_per_epoch = len(x_train) // config.batch_size  # drop the last partial batch: one static shape for compile
    if steps_per_epoch == 0:
        raise ValueError(f"{len(x_train)} training images < batch size {config.batch_size}; lower --batch-size")
    weights = class_weights(y_train, config.class_weight_power).to(device)
    images = torch.from_numpy(x_train).to(device)
    labels = torch.from_numpy(y_train).long().to(device)
    last = out / "last.pt"
    state = torch.load(last, map_location="cpu", weights_only=False) if last.exists() else None  # the resume point
    fit = None
    if fit_minutes is not None:
        from .fit import epochs_that_fit, time_epoch

        if state is not None:  # the count the first call chose
            config, fit = replace(config, epochs=state["config"]["epochs"]), state.get("fit")
        else:
            fit = time_epoch(model, teacher_model if config.online_teacher else None, images, labels, weights, x_val,
                             config, steps_per_epoch, out)
            fit = {"minutes": fit_minutes, **fit, "epochs": epochs_that_fit(fit_minutes, fit["epoch_seconds"])}
            config = replace(config, epochs=fit["epochs"])
            if progress:
                tqdm.write(f"{config.epochs} epochs fit in {fit_minutes:g} minutes ({fit['epoch_seconds']:.1f} s per "
                           f"epoch as timed); --epochs {config.epochs} repeats this run")
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch,
                                                pct_start=0.15)
    history, best, start_epoch = [], {"accuracy": -1.0}, 1
    if state is not None:
        # fields added since the run started count as their defaults
        written = {**asdict(FerTrainConfig()), **state["config"]}
        if (written != asdict(config) or state["seed"] != seed or state.get("teacher") != teacher_id
                or state.get("init") != (str(init) if init else None)):
            raise ValueError(f"{last} was written with another configuration, seed or teacher; use a new --out or "
                             "delete it to start again")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history, best, start_epoch = state["history"], state["best"], state["epoch"] + 1
    step_model = torch.compile(model) if config.compile else model
    if soft is not None:
        soft = soft.to(device)
    arch = model.cfg.as_dict()
    for epoch in range(start_epoch, min(config.epochs, stop_after or config.epochs) + 1):
        model.train()
        torch.manual_seed(seed * 100003 + epoch)  # drop-path masks: a resumed epoch draws what it would have
        order = torch.from_numpy(np.random.default_rng([seed, epoch]).permutation(len(x_train)))
        gen = torch.Generator().manual_seed(seed * 100003 + epoch)
        mix_rng = np.random.default_rng([seed, epoch, 1])  # mixup's Beta draws and pairings
        started, total = time.time(), 0.0
        bar = tqdm(range(steps_per_epoch), desc=f"{config.model} epoch {epoch}/{config.epochs}", disable=not progress)
        for step in bar:
            idx = order[step * config.batch_size:(step + 1) * config.batch_size].to(device)
            x, mix = training_views(images, idx, gen, mix_rng, config)
            target = None
            if teacher is not None:
                if config.online_teacher:
                    with torch.no_grad():
                        target = teacher_model(x).float()
                else:
                    target = soft[idx]
            # SAM's second pass must drop the same paths as the first
            masks = _rng_state(device) if config.sam_rho else None

            def batch_loss(x=x, idx=idx, target=target, masks=masks, mix=mix):
                if masks is not None:
                    _set_rng_state(device, masks)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
                    logits = step_model(x).float()
                return training_loss(logits, labels[idx], weights, target, config, mix)

            loss = sam_gradients(model.parameters(), batch_loss, config.sam_rho)
            opt.step()
            sched.step()
            total += loss.item()
            bar.set_postfix(loss=f"{total / (step + 1):.3f}")
        val = classification_metrics(y_val, predict_logits(model, x_val).argmax(1), LABELS)
        row = {"epoch": epoch, "train_loss": total / steps_per_epoch, "val_accuracy": val["accuracy"],
               "val_macro_f1": val["macro_f1"], "seconds": round(time.time() - started, 1)}
        history.append(row)
        if progress:
            tqdm.write(json.dumps(row))
        if val["accuracy"] > best["accuracy"]:
            best = {"epoch": epoch, **{k: val[k] for k in ("accuracy", "balanced_accuracy", "macro_f1", "per_class_recall")}}
            best_state = {"model": _cpu_state(model), "config": asdict(config), "architecture": arch, "seed": seed,
                          "epoch": epoch, "val": val}
            _atomic(lambda tmp, s=best_state: torch.save(s, tmp), out / "best.pt")
        state = {"model": _cpu_state(model), "optimizer": _cpu_optimizer_state(opt), "scheduler": sched.state_dict(),
                 "config": asdict(config), "architecture": arch, "seed": seed, "epoch": epoch, "teacher": teacher_id,
                 "init": str(init) if init else None, "fit": fit,
                 "history": history, "best": best}
        _atomic(lambda tmp, s=state: torch.save(s, tmp), last)  # a kill mid-write must not leave a broken resume point
    report = {"model": config.model, "architecture": arch, "parameters": parameter_count(model), "seed": seed,
              "config": asdict(config), "data": str(data), "train_images": int(len(x_train)),
              "val_images": int(len(x_val)), "selection": "epoch with the best val accuracy",
              "device": str(device) if device.type == "cpu" else f"{device} ({torch.cuda.get_device_name(device)})",
              "best": best, "history": history}
    if fit is not None:
        report["fit"] = fit  # how the epoch count was chosen
    if init is not None:
        report["init"] = str(fer_weights_path(init).resolve())
        report["init_sha256"] = init_sha256  # the path may be overwritten later (a build ships new weights there)
    if teacher is not None:
        sources = teacher_sources(teacher)
        scores = {"val_accuracy": teacher_val["accuracy"], "val_macro_f1": teacher_val["macro_f1"]}
        if len(sources) == 1:
            report["teacher"] = {"checkpoint": sources[0], **scores}
        else:  # an ensemble: each member's own score beside the mean's
            members = [{"checkpoint": source, "val_accuracy": classification_metrics(
                y_val, predict_logits(member, x_val).argmax(1), LABELS)["accuracy"]}
                for source, member in zip(sources, teacher_model.members)]
            report["teacher"] = {"run": "ensemble of " + " + ".join(Path(s).parent.name for s in sources),
                                 "checkpoints": sources, **scores, "members": members}
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
