"""The native RBTransformer engine against torch and ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the parity reference needs torch")


@pytest.mark.parametrize("which", ["student", "teacher", "odd"])
@pytest.mark.parametrize("batch", [1, 3, 7])
def test_native_engine_matches_torch(tmp_path, rng, which, batch):
    from safetensors.torch import save_file

    from edgeaffect.eeg.model import STUDENT, TEACHER, RBConfig, RBTransformer
    from edgeaffect.eeg.native import NativeRBEngine

    # "odd": widths that are no multiple of any vector width (ragged LayerNorm,
    # linear and pooling tails) and 14 electrodes (an Emotiv headset).
    odd = RBConfig(electrodes=14, bands=5, dim=40, depth=1, heads=3, head_dim=16, ff=24, outputs=3)
    cfg = {"student": STUDENT, "teacher": TEACHER, "odd": odd}[which]
    torch.manual_seed(int(rng.integers(1 << 30)))
    model = RBTransformer(cfg).eval()
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    engine = NativeRBEngine.from_safetensors(path, heads=cfg.heads)
    assert engine.config["head_dim"] == cfg.head_dim and engine.config["depth"] == cfg.depth
    x = rng.standard_normal((batch, cfg.electrodes, cfg.bands)).astype(np.float32)
    with torch.inference_mode():
        reference = model(torch.from_numpy(x).double().float()).numpy()
        reference64 = model.double()(torch.from_numpy(x).double()).numpy()
    got = engine.forward(x)
    # float32 engine vs the float64 torch forward: within a few times torch's own float32 error
    torch_err = np.abs(reference - reference64).max()
    assert np.abs(got - reference64).max() <= 4 * torch_err + 1e-6


def test_native_engine_errors(tmp_path):
    from edgeaffect.eeg.native import NativeRBEngine, read_safetensors

    (tmp_path / "bad.safetensors").write_bytes(b"\x05")
    with pytest.raises(ValueError, match="not a safetensors file"):
        read_safetensors(tmp_path / "bad.safetensors")
    with pytest.raises(ValueError, match="not RBTransformer weights"):
        NativeRBEngine({"x": np.zeros(3, np.float32)}, heads=4)
