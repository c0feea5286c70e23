"""How many FER training epochs fit in a time box (`edgeaffect train fer --minutes M`).

A lent GPU comes with a fixed lease and a CPU session with a fixed length;
a one-cycle schedule cut short ends at a high learning rate, so the epoch
count has to be right before the first step. We time the real work of an
epoch on throwaway copies: training steps (augmentation, the online
teacher's pass, forward, backward, AdamW; SAM's second pass when on), one
scoring of val, and writing the two checkpoints an epoch writes. The models
and the run's random streams are untouched.

Example:
    >>> epochs_that_fit(minutes=4, epoch_seconds=5.2)
    42
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .sam import sam_gradients

WARMUP_STEPS = 5  # cuDNN autotuning and allocator growth happen here, not in the timed steps
TIMED_STEPS = 20
SAFETY = 0.92  # timed steps run warm and alone; an epoch also pays its progress bar and the odd slow step


def epochs_that_fit(minutes: float, epoch_seconds: float) -> int:
    """The whole epochs of `epoch_seconds` that fit in `minutes`, with a margin; at least one."""
    if minutes <= 0 or epoch_seconds <= 0:
        raise ValueError(f"--minutes {minutes} and the epoch's {epoch_seconds} s must both be positive")
    return max(1, math.floor(minutes * 60 * SAFETY / epoch_seconds))


def time_epoch(model: torch.nn.Module, teacher: Optional[torch.nn.Module], images: torch.Tensor, labels: torch.Tensor,
               class_weights: torch.Tensor, x_val: np.ndarray, config, steps_per_epoch: int, out: Path) -> dict:
    """Seconds per epoch of train_fer with `config`, measured on copies: a
    training step (mean of TIMED_STEPS after WARMUP_STEPS), scoring val, and
    the epoch's checkpoint writes. `teacher` is the online teacher, or None."""
    from .train import predict_logits, training_loss, training_views

    if config.compile:
        raise ValueError("--minutes cannot predict torch.compile's warm-up; give --epochs with --compile")
    device = images.device
    trial = copy.deepcopy(model).train()
    opt = torch.optim.AdamW(trial.parameters(), lr=1e-6)
    gen = torch.Generator().manual_seed(20261127)  # the run's own generators are not drawn from
    mix_rng = np.random.default_rng(20261127)
    cpu_rng = torch.get_rng_state()

    def step() -> float:
        idx = torch.randint(0, len(images), (config.batch_size,), generator=gen).to(device)
        x, mix = training_views(images, idx, gen, mix_rng, config)
        target = None
        if teacher is not None:
            with torch.no_grad():
                target = teacher(x).float()

        def batch_loss():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
                logits = trial(x).float()
            return training_loss(logits, labels[idx], class_weights, target, config, mix)

        loss = sam_gradients(trial.parameters(), batch_loss, config.sam_rho)
        opt.step()
        return loss.item()  # the training loop syncs here too (its progress bar's loss)

    def synced_seconds(work) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        work()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - started

    try:
        for _ in range(WARMUP_STEPS):
            step()
        step_seconds = synced_seconds(lambda: [step() for _ in range(TIMED_STEPS)]) / TIMED_STEPS
        predict_logits(trial, x_val[:256])  # warm the eval shapes
        eval_seconds = synced_seconds(lambda: predict_logits(trial, x_val))
        probe = out / ".fit-probe.tmp"
        state = {"model": {k: v.detach().cpu() for k, v in trial.state_dict().items()}, "optimizer": opt.state_dict()}
        save_seconds = 2 * synced_seconds(lambda: torch.save(state, probe))  # best.pt and last.pt
        probe.unlink(missing_ok=True)
    finally:
        torch.set_rng_state(cpu_rng)  # dropout and drop-path draws of the run stay as without --minutes
    return {"step_seconds": round(step_seconds, 5), "eval_seconds": round(eval_seconds, 3),
            "save_seconds": round(save_seconds, 3),
            "epoch_seconds": round(steps_per_epoch * step_seconds + eval_seconds + save_seconds, 3)}
