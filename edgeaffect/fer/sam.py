"""Sharpness-aware minimisation (SAM; Foret et al., ICLR 2021), the optimiser
of the seed paper (Swin + squeeze-and-excitation for FER).

SAM minimises the loss at the worst point of a small ball around the
weights: each step takes the gradient g at w, moves to w + rho * g / ||g||
(the first-order worst case within radius rho), takes the gradient there,
returns to w and lets the base optimiser (our AdamW) step with that second
gradient. Two forward/backward passes per step: twice the cost. FER2013's
labels are noisy (human agreement is about 65-70%), which is where flat
minima are reported to generalise better.

Example:
    >>> loss_fn = lambda: model_loss(model, batch)                      # doctest: +SKIP
    >>> sam_step(model.parameters(), loss_fn, rho=0.05)                 # doctest: +SKIP
    >>> optimizer.step()                                                # doctest: +SKIP
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch


def sam_gradients(params: Iterable[torch.nn.Parameter], loss_fn: Callable[[], torch.Tensor], rho: float) -> torch.Tensor:
    """Leaves in each parameter's .grad the SAM gradient: the gradient of
    loss_fn() at w + rho * g / ||g||, with g its gradient at w; the weights
    are back at w on return. Returns the loss at w (detached), the number a
    progress bar shows.

    loss_fn must compute the same batch's loss each call (same inputs,
    targets and random masks: restore the RNG state inside it if the model
    draws any). rho = 0 is plain gradient descent's gradient.
    """
    if rho < 0:
        raise ValueError(f"rho={rho} must be >= 0 (0 turns SAM off; the paper's default is 0.05)")
    params = [p for p in params if p.requires_grad]
    for p in params:
        p.grad = None
    loss = loss_fn()
    loss.backward()
    if rho == 0:
        return loss.detach()
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = rho / (norm + 1e-12)
    moved = []
    with torch.no_grad():
        for p in params:
            if p.grad is None:
                continue
            step = p.grad * scale
            p.add_(step)
            moved.append((p, step))
            p.grad = None
    loss_fn().backward()
    with torch.no_grad():
        for p, step in moved:
            p.sub_(step)
    return loss.detach()
