"""Sharpness-aware minimisation (edgeaffect/fer/sam.py) against a float64
analytic reference, and in the FER training loop."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="SAM trains torch models (pip install '.[test]')")

from conftest import data_path  # noqa: E402
from edgeaffect.fer.sam import sam_gradients  # noqa: E402


def logistic_loss_and_gradient(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """mean log(1 + exp(-y x.w)) and its gradient, float64 by hand."""
    margin = y * (x @ w)
    sigma = 1 / (1 + np.exp(margin))
    return float(np.mean(np.log1p(np.exp(-margin)))), -(x * (y * sigma)[:, None]).mean(0)


@pytest.mark.parametrize("rho", [0.0, 0.05, 0.7])
def test_sam_gradient_is_the_gradient_at_the_worst_nearby_point(rng, rho):
    n, d = 37, 11  # odd sizes
    x, y = rng.normal(size=(n, d)), rng.choice([-1.0, 1.0], size=n)
    w0 = rng.normal(size=d)
    w = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss = sam_gradients([w], lambda: torch.nn.functional.softplus(-yt * (xt @ w)).mean(), rho)
    value, g = logistic_loss_and_gradient(w0, x, y)
    _, expected = logistic_loss_and_gradient(w0 + rho * g / np.linalg.norm(g), x, y)
    assert float(loss) == pytest.approx(value, rel=1e-12)  # the loss reported is the one at w
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(w.detach().numpy(), w0, rtol=0, atol=1e-14)  # the weights are back at w
    if rho > 0:
        assert not np.allclose(expected, g, rtol=1e-3)  # the perturbation is large enough to matter here


def test_sam_with_restored_random_state_sees_the_same_drop_path_masks(rng):
    """A tiny rho changes the gradient only by O(rho) when both passes drop the same paths."""
    from edgeaffect.fer.model import SwinSE, SwinSEConfig

    torch.manual_seed(int(rng.integers(1 << 31)))
    model = SwinSE(SwinSEConfig(stem=8, dim=8, depths=(1, 1, 1), heads=(1, 1, 2), drop_path=0.5)).train()
    x = torch.from_numpy(rng.normal(size=(5, 1, 48, 48)).astype(np.float32))
    labels = torch.from_numpy(rng.integers(0, 7, 5))
    state = torch.get_rng_state()

    def batch_loss():
        torch.set_rng_state(state)
        return torch.nn.functional.cross_entropy(model(x), labels)

    sam_gradients(model.parameters(), batch_loss, 1e-6)
    sam = [p.grad.clone() for p in model.parameters()]
    sam_gradients(model.parameters(), batch_loss, 0.0)
    plain = [p.grad.clone() for p in model.parameters()]
    for a, b in zip(sam, plain):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


def test_negative_rho_is_refused():
    w = torch.nn.Parameter(torch.zeros(3))
    with pytest.raises(ValueError, match="must be >= 0"):
        sam_gradients([w], lambda: (w ** 2).sum(), -0.1)


@pytest.mark.data
def test_training_with_sam_resumes_exactly(tmp_path):
    """A few SAM steps on real FER2013 faces: finite, different from AdamW alone, and a
    run stopped after epoch 1 resumes to exactly the uninterrupted run's weights."""
    pytest.importorskip("cv2", reason="reading image folders needs OpenCV")
    pytest.importorskip("tqdm", reason="training shows tqdm progress bars")
    from edgeaffect.fer.train import FerTrainConfig, train_fer

    data = data_path("fer2013")
    data_path("fer2013", "train")
    sam = FerTrainConfig(epochs=2, batch_size=16, sam_rho=0.05)
    whole = train_fer(data, tmp_path / "whole", sam, seed=5, progress=False, limit=6)
    assert all(np.isfinite(row["train_loss"]) for row in whole["history"])
    train_fer(data, tmp_path / "split", sam, seed=5, progress=False, limit=6, stop_after=1)
    train_fer(data, tmp_path / "split", sam, seed=5, progress=False, limit=6)
    plain = train_fer(data, tmp_path / "plain", FerTrainConfig(epochs=2, batch_size=16), seed=5, progress=False, limit=6)
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "split" / "last.pt", weights_only=False)["model"]
    c = torch.load(tmp_path / "plain" / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert plain["history"][0]["train_loss"] != whole["history"][0]["train_loss"]
