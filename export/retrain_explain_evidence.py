"""Retrains the shipped explainer's evidence head against the alignment-averaged rationale teacher.

The explainer's sentence follows its evidence head (the decoder names the
regions that the sentence rule picks from the head's output on ~98.5% of
val faces; see the card), so the head decides faithfulness. This script
moves the shipped explainer from plain occlusion to the alignment-averaged
teacher (edgeaffect.explain.rationale.ALIGNMENT_SHIFTS: the evidence
averaged over the face and its shifts by one and two pixels along each
axis) without its training
run's checkpoint: a fresh checkout can run it.

1. Caches the head's input (the region features of the frozen backbone, an
   intermediate of the shipped vision graph) for FER2013 train and val.
2. Caches the rationale teacher's aligned evidence (rationale-teacher.onnx,
   45 passes per face; ~55 min for train on 2 cores, once).
3. Trains the head's MLP from its shipped weights: the training recipe's
   loss (MSE to the evidence clipped to +-3, plus cross-entropy on the
   strongest region, every emotion), AdamW, one-cycle; the epoch with the
   best val faithfulness is kept, scored as at run time: the emotion named
   by `fer`, the head's evidence averaged over the face and the teacher's
   shifted copies of it (load_explainer(evidence="predicted"), whose views default to "aligned").
   --augment mirror,rotate,mirror-rotate adds copies of the training faces
   (`augmented`), each scored by the teacher itself.
4. With --write, puts the MLP into explain-vision.onnx (same initializer
   names; checked against torch) and records the shifts in config.json.
   Then rescore and rewrite the card:
   python export/build_explain.py --rescore --data ../shared/data/fer2013/val

    python export/retrain_explain_evidence.py --data ../shared/data/fer2013 --work runs/explain-aligned --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "edgeaffect" / "models" / "artifacts" / "explain"
MLP_PREFIX = "model.evidence_head.mlp."


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _cached(path: Path, key: str, compute) -> dict:
    """np.load(path) when it was written for `key`; else compute() -> dict of arrays, saved there."""
    if path.exists():
        with np.load(path) as data:
            if str(data["key"]) == key:
                return {k: data[k] for k in data.files if k != "key"}
    arrays = compute()
    np.savez(path, key=np.array(key), **arrays)
    return arrays


AUGMENTATIONS = ("mirror", "rotate", "mirror-rotate", "scale")
ROTATION_DEGREES = (5.0, 10.0)  # |angle| range of "rotate": head tilts a face detector's crop keeps
SCALE_CHANGE = (0.05, 0.10)  # |zoom - 1| range of "scale": a detector's box is not sized to the pixel either


def augmented(faces: np.ndarray, name: str) -> np.ndarray:
    """A new copy of the (N, 48, 48) training faces (AUGMENTATIONS): mirrored, rotated by a seeded angle of
    5-10 degrees either way (edge pixels repeated), mirrored then rotated (other angles), or zoomed in or out
    about the centre by a seeded 5-10%. The teacher's
    evidence is measured on each copy: it is not mirror-symmetric (the card), so a copy is a new example with
    its own target, not a relabelled one."""
    import cv2

    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose from {AUGMENTATIONS}")
    out = np.ascontiguousarray(faces[:, :, ::-1]) if name.startswith("mirror") else faces
    if name == "mirror":
        return out
    rng = np.random.default_rng({"rotate": 7, "mirror-rotate": 8, "scale": 9}[name])
    change = rng.uniform(*(SCALE_CHANGE if name == "scale" else ROTATION_DEGREES), len(out)) * rng.choice([-1, 1], len(out))
    angles, zooms = (np.zeros(len(out)), 1 + change) if name == "scale" else (change, np.ones(len(out)))
    centre = ((out.shape[2] - 1) / 2, (out.shape[1] - 1) / 2)
    return np.stack([cv2.warpAffine(f, cv2.getRotationMatrix2D(centre, a, z), f.shape[::-1], flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE) for f, a, z in zip(out, angles, zooms)])


def feature_session(vision: Path):
    """ONNX Runtime session over the vision graph with the evidence MLP's input as one more output."""
    import onnx
    import onnxruntime as ort

    from edgeaffect.backends.ort_options import cpu_session_options

    model = onnx.load(str(vision))
    first = [n for n in model.graph.node if MLP_PREFIX + "0.weight" in n.input]
    if len(first) != 1:
        raise ValueError(f"{vision} has no evidence MLP ({MLP_PREFIX}0.weight): is it a convnet explainer's graph?")
    feature = first[0].input[0]
    model.graph.output.append(onnx.helper.make_tensor_value_info(feature, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), cpu_session_options(None),
                                   providers=["CPUExecutionProvider"])
    return session, feature


def region_features(vision: Path, images: np.ndarray) -> dict:
    from tqdm.auto import tqdm

    from edgeaffect.explain.engine import normalize_faces

    session, feature = feature_session(vision)
    name = session.get_inputs()[0].name
    feats, evidence = [], []
    for start in tqdm(range(0, len(images), 512), desc="region features", unit="batch"):
        out = session.run(["evidence", feature], {name: normalize_faces(images[start:start + 512])})
        evidence.append(out[0])
        feats.append(out[1])
    return {"features": np.concatenate(feats), "evidence": np.concatenate(evidence)}


def head_mlp(vision: Path):
    """The evidence head's MLP (edgeaffect.explain.vision.RegionEvidenceHead) with the graph's weights."""
    import onnx
    import torch
    from onnx import numpy_helper

    from edgeaffect.explain.vision import RegionEvidenceHead
    from edgeaffect.explain.vocabulary import REGIONS
    from edgeaffect.fer import LABELS
    from edgeaffect.fer.model import TEACHER

    weights = {i.name[len(MLP_PREFIX):]: torch.from_numpy(numpy_helper.to_array(i).copy())
               for i in onnx.load(str(vision)).graph.initializer if i.name.startswith(MLP_PREFIX)}
    mlp = RegionEvidenceHead(TEACHER, 48, len(LABELS), len(REGIONS),
                             hidden=weights["0.weight"].shape[0]).mlp
    mlp.load_state_dict(weights)
    return mlp


def train_head(mlp, train: dict, val: dict, val_emotions: np.ndarray, epochs: int, lr: float, seed: int,
               batch: int = 256) -> tuple[dict, list[dict]]:
    """The MLP trained on cached features; (best state, per-epoch history)."""
    import torch
    from torch.nn import functional as F
    from tqdm.auto import tqdm

    from edgeaffect.explain.rationale import rule_faithfulness
    from edgeaffect.explain.train import EVIDENCE_CLIP  # the training recipe's clip, so the same target

    torch.manual_seed(seed)
    x = torch.from_numpy(train["features"])
    y = torch.from_numpy(np.clip(train["teacher"], -EVIDENCE_CLIP, EVIDENCE_CLIP))
    regions = y.shape[-1]
    opt = torch.optim.AdamW(mlp.parameters(), lr=lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * ((len(x) + batch - 1) // batch),
                                                pct_start=0.1)

    def predict(features: np.ndarray) -> np.ndarray:
        """(N, F) features, or (V, N, F) for V views of each face: the head's evidence, averaged over the views as
        the runtime does (ExplainerEngine.look)."""
        mlp.eval()
        views = features if features.ndim == 3 else features[None]
        with torch.no_grad():
            return np.mean([mlp(torch.from_numpy(v)).view(len(v), -1, regions).numpy() for v in views], axis=0)

    history = [{"epoch": 0, "val_faithfulness": rule_faithfulness(predict(val["view_features"]), val["teacher"],
                                                                  val_emotions)}]
    best = (history[0]["val_faithfulness"], {k: v.clone() for k, v in mlp.state_dict().items()}, 0)
    for epoch in range(1, epochs + 1):
        mlp.train()
        order = torch.randperm(len(x))
        for start in tqdm(range(0, len(x), batch), desc=f"evidence head, epoch {epoch}/{epochs}", unit="step", leave=False):
            idx = order[start:start + batch]
            pred, target = mlp(x[idx]).view(len(idx), -1, regions), y[idx]
            loss = F.mse_loss(pred, target) + F.cross_entropy(pred.reshape(-1, regions), target.argmax(-1).reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        score = rule_faithfulness(predict(val["view_features"]), val["teacher"], val_emotions)
        history.append({"epoch": epoch, "val_faithfulness": score, "loss": loss.item()})
        print(f"epoch {epoch}: val faithfulness {score:.4f}", flush=True)
        if score > best[0]:
            best = (score, {k: v.clone() for k, v in mlp.state_dict().items()}, epoch)
    return {"state": best[1], "epoch": best[2], "val_faithfulness": best[0]}, history


def write_graph(vision: Path, state: dict) -> None:
    """Replaces the MLP's initializers in the vision graph (same names, so nothing else changes)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(vision))
    for init in model.graph.initializer:
        if init.name.startswith(MLP_PREFIX):
            init.CopyFrom(numpy_helper.from_array(state[init.name[len(MLP_PREFIX):]].numpy().astype(np.float32),
                                                  init.name))
    onnx.save(model, str(vision))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="FER2013 folder with train/ and val/")
    parser.add_argument("--work", type=Path, required=True, help="folder for the caches and report.json")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="put the best epoch's head into the shipped vision graph")
    parser.add_argument("--augment", default="",
                        help="comma-separated extra copies of the training faces, each scored by the teacher itself "
                             f"(its time on train once more per copy; cached): {', '.join(AUGMENTATIONS)}")
    args = parser.parse_args()

    import torch

    from edgeaffect.explain.engine import normalize_faces
    from edgeaffect.explain.rationale import ALIGNMENT_SHIFTS, occlusion_evidence, shift_faces
    from edgeaffect.explain.runtime import fer_emotion_classifier, load_rationale_teacher
    from edgeaffect.fer import LABELS
    from edgeaffect.fer.data import load_fer_folder

    for split in ("train", "val"):
        if not (args.data / split).is_dir():
            raise SystemExit(f"{args.data / split} is missing: --data must hold train/<class>/ and val/<class>/")
    augmentations = [a for a in args.augment.split(",") if a]
    unknown = sorted(set(augmentations) - set(AUGMENTATIONS))
    if unknown:
        raise SystemExit(f"--augment {','.join(unknown)}: unknown; choose from {', '.join(AUGMENTATIONS)}")
    args.work.mkdir(parents=True, exist_ok=True)
    vision, config_path = OUT / "explain-vision.onnx", OUT / "config.json"
    config = json.loads(config_path.read_text())
    if config["model"].get("backbone") != "convnet" or not config["model"].get("regions"):
        raise SystemExit(f"{OUT} is not a convnet explainer with region evidence")
    teacher = load_rationale_teacher(OUT)
    started = time.time()
    sets = {}
    vision_key, teacher_key = _sha(vision), _sha(OUT / "rationale-teacher.onnx") + repr(ALIGNMENT_SHIFTS)
    for split in ("train", "val"):
        images, labels = load_fer_folder(args.data / split)
        image_key = hashlib.sha256(images.tobytes()).hexdigest()[:16]
        feats = _cached(args.work / f"features_{split}.npz", vision_key + image_key, lambda x=images: region_features(vision, x))
        evidence = _cached(args.work / f"evidence_{split}.npz", teacher_key + image_key, lambda x=images: {
            "teacher": occlusion_evidence(teacher, x, progress=True, shifts=ALIGNMENT_SHIFTS)})
        sets[split] = {"images": images, "labels": labels, **feats, **evidence}
        for name in augmentations if split == "train" else []:
            copy = augmented(images, name)
            key = hashlib.sha256(copy.tobytes()).hexdigest()[:16]
            more = {**_cached(args.work / f"features_train_{name}.npz", vision_key + key,
                              lambda x=copy: region_features(vision, x)),
                    **_cached(args.work / f"evidence_train_{name}.npz", teacher_key + key, lambda x=copy: {
                        "teacher": occlusion_evidence(teacher, x, progress=True, shifts=ALIGNMENT_SHIFTS)})}
            sets[split] = {k: np.concatenate([v, more[k]]) if k in more else v for k, v in sets[split].items()}
    val = sets["val"]
    # Selection scores the head as the runtime reads it (evidence="predicted", views="aligned"): averaged over the face
    # and the teacher's shifted copies of it.
    key = vision_key + hashlib.sha256(val["images"].tobytes()).hexdigest()[:16] + repr(ALIGNMENT_SHIFTS)
    val["view_features"] = _cached(args.work / "features_val_views.npz", key, lambda: {"features": np.stack([
        region_features(vision, shift_faces(val["images"], dy, dx))["features"] for dy, dx in ALIGNMENT_SHIFTS])})[
        "features"]
    fer = fer_emotion_classifier(LABELS)
    val_emotions = np.argmax(fer(val["images"]), axis=1)
    mlp = head_mlp(vision)
    best, history = train_head(mlp, sets["train"], val, val_emotions, args.epochs, args.lr, args.seed)
    before = history[0]["val_faithfulness"]
    report = {"script": "export/retrain_explain_evidence.py", "shifts": [list(s) for s in ALIGNMENT_SHIFTS],
              "epochs": args.epochs, "lr": args.lr, "seed": args.seed, "augment": augmentations,
              "selection_views": len(ALIGNMENT_SHIFTS),
              "best_epoch": best["epoch"],
              "val_faithfulness_before": before, "val_faithfulness": best["val_faithfulness"], "history": history,
              "train_examples": len(sets["train"]["features"]), "val_faces": len(val["images"]),
              "minutes": round((time.time() - started) / 60, 1), "written": False}
    torch.save(best["state"], args.work / "evidence_head.pt")
    if args.write:
        write_graph(vision, best["state"])
        mlp.load_state_dict(best["state"])
        mlp.eval()
        with torch.no_grad():
            expected = mlp(torch.from_numpy(val["features"][:64])).numpy()
        session, _ = feature_session(vision)
        got = session.run(["evidence"], {session.get_inputs()[0].name: normalize_faces(val["images"][:64])})[0]
        report["parity_max_abs"] = float(np.abs(got.reshape(expected.shape) - expected).max())
        if report["parity_max_abs"] > 1e-4:
            raise SystemExit(f"the written graph differs from torch by {report['parity_max_abs']:.2e}")
        config["model"]["rationale_shifts"] = [list(s) for s in ALIGNMENT_SHIFTS]
        config["evidence_head"] = {k: report[k] for k in ("script", "epochs", "lr", "seed", "augment", "selection_views", "best_epoch",
                                                         "val_faithfulness_before", "val_faithfulness")}
        config_path.write_text(json.dumps(config, indent=2) + "\n")
        report["written"] = True
    (args.work / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"best epoch {best['epoch']}: val faithfulness {before:.4f} -> {best['val_faithfulness']:.4f}; "
          f"{args.work / 'report.json'}" + (f"; wrote {vision}" if args.write else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
