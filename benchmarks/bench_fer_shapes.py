"""Which Swin-SE student shapes could meet the latency target? Candidate
shapes side by side in one process, before any of them is trained.

Latency does not depend on the weights, so each candidate is built with its
initial weights, exported in its OpenVINO export form and quantised to INT8
(NNCF, calibrated on FER2013 training faces when --data is given, else on
random crops), then timed at batch 1 and batch 32 beside the shipped shape.
Per row: parameters, MFLOPs per face, ONNX nodes, OpenVINO INT8 and ONNX
Runtime fp32 time per face, and the time as a ratio of the shipped shape's.
Accuracy is not measured here: a shape is only a candidate until
`edgeaffect train fer` has trained it (DESIGN.md's target: < 1 ms per face
at batch 1 on 2 threads, with >= 70% top-1).

A shape's name is its `edgeaffect train fer --student-shape` value.

Usage: python benchmarks/bench_fer_shapes.py [--threads 2] [--repeats 11] [--data ../shared/data/fer2013]
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

# `edgeaffect train fer --student-shape` values ("" is the shipped student, edgeaffect.fer.model.STUDENT)
SHAPES = (
    "",
    "mlp_ratio=2",
    "depths=1-2-1",
    "dim=32,stem=24,heads=1-2-4",
    "dim=32,stem=24,heads=1-2-4,depths=1-2-1",
    "dim=40,stem=24,heads=1-2-4,mlp_ratio=2",
)


def build_candidates(tmp: Path, data: Path | None) -> tuple[dict, dict]:
    """{(shape, backend, precision): artifact path} and {shape: facts}."""
    import onnx
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from edgeaffect.export.calibration import CalibrationData
    from edgeaffect.export.onnx_export import export_onnx
    from edgeaffect.export.pipeline import model_inputs
    from edgeaffect.export.quantize import quantize_openvino
    from edgeaffect.fer.model import SwinSE, parameter_count, student_config
    from edgeaffect.models.registry import get_card

    card = get_card("fer")
    if data is not None:
        faces, _ = model_inputs(card, data / "train", None)
        calib = faces[np.random.default_rng(0).permutation(len(faces))[:300]]
    else:
        calib = np.random.default_rng(0).standard_normal((300, 1, 48, 48)).astype(np.float32)
    artifacts, facts = {}, {}
    for index, shape in enumerate(SHAPES):
        name = shape or "shipped"
        torch.manual_seed(0)
        model = SwinSE(student_config(shape)).eval()
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            model.export_form("openvino")(torch.zeros(1, 1, 48, 48))
        folder = tmp / f"shape{index}"
        onnx_ov, onnx_ort = folder / "openvino.onnx", folder / "onnxruntime.onnx"
        export_onnx(card, model, onnx_ov, target="openvino")
        export_onnx(card, model, onnx_ort, target="onnxruntime")
        xml = folder / "openvino-int8" / "fer.xml"
        quantize_openvino(onnx_ov, xml, CalibrationData(card.inputs[0].name, calib, progress=False))
        artifacts[(name, "openvino", "int8")] = xml
        artifacts[(name, "onnxruntime", "fp32")] = onnx_ort
        facts[name] = {"student_shape": shape, "parameters": parameter_count(model), "mflops_per_face": counter.get_total_flops() / 1e6,
                       "onnx_nodes_openvino_form": len(onnx.load(str(onnx_ov)).graph.node)}
    return artifacts, facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=11, help="interleaved rounds (default 11)")
    parser.add_argument("--calls", type=int, default=100, help="calls per timing sample at batch 1")
    parser.add_argument("--data", type=Path, default=None, help="FER2013 folder with train/ (INT8 calibration faces)")
    args = parser.parse_args()
    if "fer" not in edgeaffect.list_models():
        raise SystemExit("the fer model is not shipped in this build: its card (input, preprocessing) is needed")
    facts = machine_facts()
    face1, face32 = fer_faces()
    with tempfile.TemporaryDirectory() as tmp:
        artifacts, shapes = build_candidates(Path(tmp), args.data)
        predictors = {key: edgeaffect.load(path, backend=key[1], precision=key[2], threads=args.threads)
                      for key, path in artifacts.items()}
        median = median_batch1_and_32(predictors, face1, face32, args.repeats, args.calls)
        for p in predictors.values():
            p.close()
    records, rows = [], []
    for name, shape in shapes.items():
        record = {"shape": name, **shape, "threads": args.threads, "repeats": args.repeats}
        row = [f"`{name}`" if shape["student_shape"] else name, f"{shape['parameters'] / 1e6:.2f} M",
               f"{shape['mflops_per_face']:.1f}", shape["onnx_nodes_openvino_form"]]
        for backend, precision in (("openvino", "int8"), ("onnxruntime", "fp32")):
            m, base = median[(name, backend, precision)], median[("shipped", backend, precision)]
            record[f"{backend}_{precision}"] = {"latency_us_batch1": m["b1"], "faces_per_s_batch32": 32 / (m["b32"] * 1e-6),
                                                "time_ratio_batch1_vs_shipped": m["b1"] / base["b1"]}
            row += [f"{m['b1'] / 1e3:.3f}", f"{m['b1'] / base['b1']:.2f}x", f"{32 / (m['b32'] * 1e-6):,.0f}"]
        records.append(record)
        rows.append(row)
    slug = machine_slug(facts)
    md = (f"# fer student shapes (untrained candidates): latency\n\nMachine: {facts['cpu']}, {facts['cores']} cores "
          f"({slug}); {args.threads} threads; latency = predict() on one uint8 48x48 crop incl. preprocessing, median "
          f"of {args.repeats} interleaved rounds of {args.calls} calls; ratio = this shape's time / the shipped "
          f"shape's. Accuracy: not measured (untrained).\n\n" + markdown_table(
              ["shape", "params", "MFLOPs", "nodes", "OpenVINO INT8 ms (batch 1)", "vs shipped", "faces/s (batch 32)",
               "ONNX Runtime fp32 ms (batch 1)", "vs shipped", "faces/s (batch 32)"], rows))
    print(md)
    name = "fer-shapes" if args.threads == 2 else f"fer-shapes-{args.threads}threads"
    paths = write_results(name, {"benchmark": "fer-shapes", "machine_slug": slug, "machine": facts, "results": records}, md)
    print(f"\nwrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
