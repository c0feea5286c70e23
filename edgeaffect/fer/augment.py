"""Batch augmentation for 48x48 faces, on tensors (cheap at this size), on
the CPU or on the training GPU: the random draws always come from a CPU
generator, so a seeded run sees the same views on either device.

Why these: faces from cameras are mirrored at random (flip), off-centre and
at other scales than FER2013's tight crops (affine: +-10 degrees, scale
0.9-1.1, shift +-8%), lit differently (contrast +-20%, brightness +-10% of full scale), and
partly covered by hands, glasses or masks (random erasing, p 0.25). Mixup is
off by default: on short schedules it slows convergence more than it
regularises; `mix_faces` (--mixup) is for long distillation schedules with
an online teacher, where the teacher scores the mixed image itself
("function matching", Beyer et al. 2022) and the student learns the
teacher's function between faces, not only at them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F


def augment_faces(x: torch.Tensor, generator: torch.Generator, rotate_deg: float = 10.0, scale: float = 0.1,
                  shift: float = 0.08, jitter: float = 0.2, erase_p: float = 0.25) -> torch.Tensor:
    """x: (B, 1, H, W) float in [0, 1], on any device -> augmented copy, same shape, range and device."""
    b = x.shape[0]

    def uniform(low, high, *shape):
        return (torch.rand(*shape, generator=generator) * (high - low) + low).to(x.device)

    angle = uniform(-rotate_deg, rotate_deg, b) * math.pi / 180
    s = uniform(1 - scale, 1 + scale, b)
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0).to(x.device)
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack([torch.stack([cos * flip, -sin, uniform(-shift, shift, b) * 2], 1),
                         torch.stack([sin * flip, cos, uniform(-shift, shift, b) * 2], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast = uniform(1 - jitter, 1 + jitter, b, 1, 1, 1)
    brightness = uniform(-jitter / 2, jitter / 2, b, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + brightness).clamp(0, 1)
    return random_erase(x, generator, erase_p)


def random_erase(x: torch.Tensor, generator: torch.Generator, p: float, area=(0.02, 0.15)) -> torch.Tensor:
    """Each image, with probability p, gets one rectangle (2-15% of its area,
    aspect 1/3-3) filled with a random grey. The rectangles are drawn on the
    CPU and painted with one masked select on x's device: a loop of slice
    assignments would cost a GPU launch per erased image."""
    b, _, h, w = x.shape
    chosen = torch.rand(b, generator=generator) < p
    if not chosen.any():
        return x
    boxes = []  # (image, top, bottom, left, right, fill)
    for i in torch.nonzero(chosen).flatten().tolist():
        a = (torch.rand(1, generator=generator).item() * (area[1] - area[0]) + area[0]) * h * w
        ratio = math.exp(torch.rand(1, generator=generator).item() * 2 * math.log(3) - math.log(3))
        eh, ew = min(h, max(1, int(round(math.sqrt(a * ratio))))), min(w, max(1, int(round(math.sqrt(a / ratio)))))
        top = int(torch.randint(0, h - eh + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - ew + 1, (1,), generator=generator))
        boxes.append((i, top, top + eh, left, left + ew, torch.rand(1, generator=generator).item()))
    box = torch.tensor([row[1:5] for row in boxes], dtype=torch.long).to(x.device)
    fill = torch.tensor([row[5] for row in boxes], dtype=x.dtype).to(x.device)
    rows = torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device)
    inside = (((rows >= box[:, 0:1]) & (rows < box[:, 1:2]))[:, :, None]
              & ((cols >= box[:, 2:3]) & (cols < box[:, 3:4]))[:, None, :])  # (erased, h, w)
    index = torch.tensor([row[0] for row in boxes], dtype=torch.long).to(x.device)
    x = x.clone()
    x[index] = torch.where(inside[:, None], fill[:, None, None, None], x[index])
    return x


def mix_faces(x: torch.Tensor, rng: np.random.Generator, concentration: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mixup of a batch: (lam * x + (1 - lam) * x[perm], perm, lam) with one
    lam ~ Beta(concentration, concentration) and a random pairing, both drawn
    from `rng` (a numpy generator: torch draws Beta without a generator
    argument, so a seeded run would not repeat).

    Example:
        >>> x = torch.rand(4, 1, 48, 48)
        >>> mixed, perm, lam = mix_faces(x, np.random.default_rng(0), 1.0)
        >>> bool(torch.allclose(mixed, lam * x + (1 - lam) * x[perm]))
        True
    """
    if concentration <= 0:
        raise ValueError(f"mixup concentration {concentration} must be > 0 (try 1.0; 0 turns mixup off)")
    lam = float(rng.beta(concentration, concentration))
    perm = torch.from_numpy(rng.permutation(x.shape[0])).to(x.device)
    return lam * x + (1 - lam) * x[perm], perm, lam
