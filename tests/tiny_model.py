"""A small image classifier of the tests' own (never shipped) that exercises
the whole chain: registry, export, quantisation, gate, backends, eval.

Synthetic 16x16 grey images: a bright bar on the left, on the right, or
along the top, with noise; a two-layer convnet learns them in a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeaffect.models import InputSpec, ModelCard, Preprocessing, register_model

LABELS = ("left", "right", "top")
SIZE = 16


def build():
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, len(LABELS)),
    )


def make_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, 16, 16) and their class indices."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(LABELS), n)
    x = rng.normal(60, 25, (n, SIZE, SIZE))
    width = rng.integers(3, 6, n)
    for i in range(n):
        if y[i] == 0:
            x[i, :, : width[i]] += 120
        elif y[i] == 1:
            x[i, :, -width[i] :] += 120
        else:
            x[i, : width[i], :] += 120
    return np.clip(x, 0, 255).astype(np.uint8), y


def card(weights: Path | None = None, name: str = "tiny-test") -> ModelCard:
    return ModelCard(
        name=name, version="0.0.1", task="classification", labels=LABELS,
        inputs=(InputSpec("input", ("batch", 1, SIZE, SIZE)),),
        preprocessing=Preprocessing("grey_image", (("mean", 0.25), ("scale", 1 / 255.0), ("size", SIZE), ("std", 0.25))),
        artifacts=(("torch-fp32", str(weights)),) if weights else (),
        eval_format="npz", builder="tiny_model:build", description="test-only model",
    )


def train(out_dir: Path, steps: int = 200) -> Path:
    """Trains the tiny model; writes weights and an npz of validation data."""
    import torch
    from safetensors.torch import save_file

    from edgeaffect.runtime.preprocessing import grey_image

    params = dict(card().preprocessing.params)
    x, y = make_images(1200, seed=1)
    inputs = torch.from_numpy(grey_image(x, **params))
    targets = torch.from_numpy(y)
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(steps):
        idx = torch.randint(0, len(inputs), (64,), generator=torch.Generator().manual_seed(step))
        loss = torch.nn.functional.cross_entropy(model(inputs[idx]), targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    vx, vy = make_images(400, seed=2)
    np.savez(out_dir / "val.npz", x=vx, y=vy)
    cx, cy = make_images(300, seed=3)
    np.savez(out_dir / "calib.npz", x=cx, y=cy)
    return weights


def register(weights: Path, name: str = "tiny-test") -> ModelCard:
    return register_model(card(weights, name), replace=True)
