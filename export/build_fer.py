"""Builds the shipped `fer` model from a trained student checkpoint.

    python export/build_fer.py --student runs/fer-student-kd/best.pt \
        --data ../shared/data/fer2013 [--runs runs]

1. The student's weights -> edgeaffect/models/artifacts/fer/fer.safetensors.
2. `export_model` (the same code as `edgeaffect export`) for the profiles
   onnxruntime-cpu-fp32, onnxruntime-cpu-int8 and openvino-cpu-int8:
   every export validated against torch, INT8 calibrated on 512 training
   images and gated on the validation split (at most 1 point lost).
3. The artifacts are copied into the package; each is evaluated on the
   validation split; the confusion matrix of the fp32 model is drawn; the
   numbers go to MODEL_CARD.md and metrics.json beside the artifacts (the
   training reports of --runs and benchmarks/results/fer-*.json are quoted
   when present).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "edgeaffect" / "models" / "artifacts" / "fer"


def save_weights(student: Path, dst: Path) -> dict:
    import torch
    from safetensors.torch import save_file

    state = torch.load(student, map_location="cpu", weights_only=False)
    save_file({k: v.contiguous() for k, v in state["model"].items()}, str(dst),
              metadata={"architecture": json.dumps(state["architecture"]), "epoch": str(state["epoch"])})
    return state


def flops_per_face() -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from edgeaffect.fer.model import build_student

    model = build_student().eval()
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.zeros(1, 1, 48, 48))
    return int(counter.get_total_flops())


def draw_confusion(cm: np.ndarray, labels: tuple[str, ...], path: Path, title: str) -> None:
    """A row-normalised confusion matrix as a PNG (OpenCV: no matplotlib needed)."""
    import cv2

    cell, left, top = 64, 90, 60
    n = len(labels)
    img = np.full((top + n * cell + 80, left + n * cell + 20, 3), 255, np.uint8)
    rates = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    for i in range(n):
        for j in range(n):
            shade = int(255 - 200 * rates[i, j])
            x, y = left + j * cell, top + i * cell
            cv2.rectangle(img, (x, y), (x + cell, y + cell), (shade, shade, 255 if i == j else shade), -1)
            cv2.putText(img, f"{rates[i, j]:.2f}", (x + 10, y + 28), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
            cv2.putText(img, f"{cm[i, j]}", (x + 10, y + 48), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (60, 60, 60), 1)
        cv2.putText(img, labels[i], (5, top + i * cell + 36), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
        cv2.putText(img, labels[i][:7], (left + i * cell + 4, top + n * cell + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.putText(img, title, (5, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(img, "rows: true class, columns: predicted", (left, top + n * cell + 55), cv2.FONT_HERSHEY_SIMPLEX,
                0.45, (0, 0, 0), 1)
    cv2.imwrite(str(path), img)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--student", type=Path, required=True, help="best.pt of `edgeaffect train fer --model student`")
    parser.add_argument("--data", type=Path, required=True, help="FER2013 folder with train/ and val/")
    parser.add_argument("--runs", type=Path, default=None, help="folder of the training runs (reports quoted in the card)")
    args = parser.parse_args()

    from edgeaffect.evaluation import evaluate
    from edgeaffect.export.pipeline import export_model
    from edgeaffect.fer import LABELS
    from edgeaffect.fer.card import ARTIFACTS, fer_card
    from edgeaffect.models import register_model

    OUT.mkdir(parents=True, exist_ok=True)
    state = save_weights(args.student, OUT / "fer.safetensors")
    card = fer_card(OUT.parent)
    register_model(card.__class__(**{**card.__dict__, "artifacts": (("torch-fp32", str(OUT / "fer.safetensors")),)}),
                   replace=True)
    exports = {}
    with tempfile.TemporaryDirectory() as tmp:
        for profile in ("onnxruntime-cpu-fp32", "onnxruntime-cpu-int8", "openvino-cpu-int8"):
            calib = args.data / "train" if "int8" in profile else None
            report = export_model("fer", profile, calib=calib, val=args.data / "val", out=Path(tmp) / profile,
                                  calib_samples=512)
            exports[profile] = {k: v for k, v in report.items() if k in ("steps", "sizes_bytes")}
            for key, path in report["artifacts"].items():
                target = OUT / dict(ARTIFACTS)[key].split("/", 1)[1] if key in dict(ARTIFACTS) else None
                if target is None:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = Path(path)
                for suffix in ("", ".edgeaffect.json") if src.suffix == ".onnx" else (".xml", ".bin", ".xml.edgeaffect.json"):
                    file = Path(str(src) + suffix) if src.suffix == ".onnx" else src.with_name(src.stem + suffix)
                    if file.exists():
                        shutil.copy(file, target.parent / (target.name + suffix if src.suffix == ".onnx" else target.stem + suffix))
    register_model(fer_card(OUT.parent), replace=True)
    metrics = {}
    for backend, precision in (("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "fp32"), ("openvino", "int8")):
        m = evaluate("fer", args.data / "val", backend=backend, precision=precision, threads=2)
        metrics[f"{backend}-{precision}"] = m
        print(f"{backend} {precision}: accuracy {m['accuracy']:.4f} macro-F1 {m['macro_f1']:.4f}")
    fp32 = metrics["onnxruntime-fp32"]
    draw_confusion(np.asarray(fp32["confusion"]), LABELS, OUT / "confusion_val.png",
                   f"fer (Swin-SE student, ONNX fp32) on FER2013 val: accuracy {fp32['accuracy']:.4f}")
    facts = {"parameters": int(sum(np.prod(v.shape) for v in state["model"].values() if v.dtype.is_floating_point)),
             "flops_per_face": flops_per_face(), "epoch": state["epoch"], "architecture": state["architecture"],
             "train_config": state["config"], "seed": state["seed"], "exports": exports,
             "sizes_bytes": {p.name: p.stat().st_size for p in sorted(OUT.rglob("*")) if p.is_file()},
             "val": {k: {kk: v[kk] for kk in ("n", "accuracy", "balanced_accuracy", "macro_f1", "per_class_recall", "confusion")}
                     for k, v in metrics.items()}}
    if args.runs:
        for run in ("fer-teacher", "fer-student-kd", "fer-student-nokd"):
            path = args.runs / run / "report.json"
            if path.exists():
                report = json.loads(path.read_text())
                facts.setdefault("training", {})[run] = {k: report[k] for k in ("parameters", "best", "history", "config", "seed")}
    (OUT / "metrics.json").write_text(json.dumps(facts, indent=2, default=str) + "\n")
    print(f"wrote {OUT}; now write MODEL_CARD.md from metrics.json and benchmarks/results/fer-*.md")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
