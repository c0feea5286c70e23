"""The fer student's ONNX graphs side by side in one process: the training
form (window partition, torch.roll: 315 nodes) and the two export forms
`edgeaffect export` writes (edgeaffect/fer/export_form.py): for ONNX Runtime
and TensorRT, stage 1 keeps its windows (259 nodes); for OpenVINO, window
attention becomes masked full attention (217 nodes). Same weights (the
shipped ones), same function; what differs is the graph the backends run,
and each graph is timed on every backend, so the choice per target is
measured.

Per backend and precision: latency per face at batch 1 (predict() on one
uint8 48x48 crop, median of interleaved rounds), faces per second at batch
32, the export form's time as a ratio of the training form's, and, with
--data, accuracy on FER2013 val (OpenVINO INT8 of each graph is calibrated
on the same 512 training faces, so its accuracy is measured, not assumed).

Usage: python benchmarks/bench_fer_graph.py [--threads 2] [--repeats 15] [--data ../shared/data/fer2013]
(results: benchmarks/results/fer-graph-MACHINE.*, or fer-graph-Nthreads-MACHINE.* for --threads N other than 2)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (fer_faces, machine_facts, machine_slug, markdown_table, median_batch1_and_32,  # noqa: E402
                    write_results)

import edgeaffect  # noqa: E402

# graph name -> export_onnx's target (None: the training form)
FORMS = {"training": None, "export-onnxruntime": "onnxruntime", "export-openvino": "openvino"}


def build_graphs(tmp: Path, data: Path | None) -> dict:
    """{(form, backend, precision): artifact path} and {form: node count}."""
    import onnx

    from edgeaffect.export.calibration import CalibrationData
    from edgeaffect.export.onnx_export import export_onnx
    from edgeaffect.export.pipeline import load_torch_module, model_inputs
    from edgeaffect.models.registry import get_card

    card = get_card("fer")
    module = load_torch_module(card)
    artifacts, nodes = {}, {}
    calib = None
    if data is not None:
        faces, _ = model_inputs(card, data / "train", None)
        calib = faces[np.random.default_rng(0).permutation(len(faces))[:512]]
    for form, target in FORMS.items():
        onnx_path = tmp / form / "fer-fp32.onnx"
        export_onnx(card, module, onnx_path, target=target or "onnxruntime", export_form=target is not None)
        nodes[form] = len(onnx.load(str(onnx_path)).graph.node)
        artifacts[(form, "onnxruntime", "fp32")] = onnx_path
        artifacts[(form, "openvino", "fp32")] = onnx_path
        if calib is not None:
            from edgeaffect.export.quantize import quantize_openvino

            xml = tmp / form / "openvino-int8" / "fer.xml"
            quantize_openvino(onnx_path, xml, CalibrationData(card.inputs[0].name, calib, progress=False))
            artifacts[(form, "openvino", "int8")] = xml
    return artifacts, nodes


def val_accuracy(predictor, data: Path) -> float:
    from edgeaffect.fer.data import load_fer_folder

    faces, labels = load_fer_folder(data / "val")
    top = np.concatenate([predictor.predict(faces[i:i + 256]).top_indices() for i in range(0, len(faces), 256)])
    return float(np.mean(top == labels))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--calls", type=int, default=100, help="calls per timing sample at batch 1")
    parser.add_argument("--data", type=Path, default=None,
                        help="FER2013 folder with train/ and val/ (OpenVINO INT8 calibration and accuracy)")
    args = parser.parse_args()
    if "fer" not in edgeaffect.list_models():
        raise SystemExit("the fer model is not shipped in this build: nothing to compare")
    facts = machine_facts()
    face1, face32 = fer_faces()
    with tempfile.TemporaryDirectory() as tmp:
        artifacts, nodes = build_graphs(Path(tmp), args.data)
        predictors = {key: edgeaffect.load(path, backend=key[1], precision=key[2], threads=args.threads)
                      for key, path in artifacts.items()}
        median = median_batch1_and_32(predictors, face1, face32, args.repeats, args.calls)
        accuracy = {key: val_accuracy(p, args.data) for key, p in predictors.items()} if args.data else {}
        for p in predictors.values():
            p.close()
    records, rows = [], []
    for form, backend, precision in predictors:
        key, base = (form, backend, precision), ("training", backend, precision)
        b1, b32 = median[key]["b1"], median[key]["b32"]
        ratio1, ratio32 = b1 / median[base]["b1"], b32 / median[base]["b32"]
        records.append({"form": form, "nodes": nodes[form], "backend": backend, "precision": precision,
                        "threads": args.threads, "latency_us_batch1": b1, "faces_per_s_batch32": 32 / (b32 * 1e-6),
                        "time_ratio_batch1_vs_training_form": ratio1, "time_ratio_batch32_vs_training_form": ratio32,
                        "val_accuracy": accuracy.get(key), "repeats": args.repeats})
        rows.append([form, nodes[form], backend, precision, f"{b1 / 1e3:.3f}", f"{ratio1:.2f}x",
                     f"{32 / (b32 * 1e-6):,.0f}", f"{ratio32:.2f}x", f"{accuracy[key]:.4f}" if key in accuracy else ""])
    slug = machine_slug(facts)
    md = (f"# fer student: training-form vs export-form graph\n\nMachine: {facts['cpu']}, {facts['cores']} cores "
          f"({slug}); {args.threads} threads; latency = predict() on one uint8 48x48 crop incl. preprocessing, median "
          f"of {args.repeats} interleaved rounds of {args.calls} calls; time ratio = this graph's time / the training "
          f"form's (below 1: faster); accuracy on FER2013 val ({args.data or 'not measured'}).\n\n" + markdown_table(
              ["graph", "nodes", "backend", "precision", "ms per face (batch 1)", "time vs training form",
               "faces/s (batch 32)", "time vs training form (batch 32)", "val accuracy"], rows))
    print(md)
    name = "fer-graph" if args.threads == 2 else f"fer-graph-{args.threads}threads"
    paths = write_results(name, {"benchmark": "fer-graph", "machine_slug": slug, "machine": facts,
                                        "results": records}, md)
    print(f"\nwrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
