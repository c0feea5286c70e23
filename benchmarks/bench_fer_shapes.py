"""Which Swin-SE student shapes could meet the latency target? Candidate
shapes side by side in one process, before any of them is trained.

Latency does not depend on the weights, so each candidate is built with its
initial weights and timed at batch 1 and batch 32 beside the shipped shape in
three forms: edgeaffect's native engine (fp32 safetensors weights, the
default on x86 CPUs), its OpenVINO export form quantised to INT8 (NNCF,
calibrated on FER2013 training faces when --data is given, else on random
crops) and the ONNX Runtime fp32 graph. Per row: parameters, MFLOPs per
face, ONNX nodes, each form's time per face, and the time as a ratio of the
shipped shape's. Smaller shapes buy latency headroom; larger ones (the
student may have up to 3 M parameters) are what the headroom could buy in
accuracy, once trained. The native engine needs head widths (dim * 2^stage
/ heads) that are multiples of 8.
Accuracy is not measured here: a shape is only a candidate until
`edgeaffect train fer` has trained it (DESIGN.md's target: < 1 ms per face
at batch 1 on 2 threads, with >= 70% top-1).

A shape's name is its `edgeaffect train fer --student-shape` value.

Usage: python benchmarks/bench_fer_shapes.py [--threads 2] [--repeats 11] [--data ../shared/data/fer2013]
       [--forms native-fp32,openvino-int8,onnxruntime-fp32]
"""

from __future__ import annotations

import argparse
import json
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
    "depths=1-2-1",
    "dim=32,stem=24,heads=1-2-4,depths=1-2-1",
    "mlp_ratio=4",
    "depths=2-3-2",
    "depths=2-4-2",
    "dim=64",
    "dim=64,depths=2-3-2",
)
FORMS = (("native", "fp32"), ("openvino", "int8"), ("onnxruntime", "fp32"))
FORM_NAMES = {"native": "native", "openvino": "OpenVINO", "onnxruntime": "ONNX Runtime"}


def build_candidates(tmp: Path, data: Path | None, forms=FORMS) -> tuple[dict, dict]:
    """{(shape, backend, precision): artifact path} for each of `forms`, and {shape: facts}."""
    import onnx
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from edgeaffect.export.calibration import CalibrationData
    from edgeaffect.export.onnx_export import export_onnx
    from edgeaffect.export.pipeline import model_inputs
    from edgeaffect.export.quantize import quantize_openvino
    from edgeaffect.fer.model import SwinSE, parameter_count, student_config
    from edgeaffect.models.registry import get_card
    from edgeaffect.runtime.artifact import ArtifactInfo, write_sidecar
    from safetensors.torch import save_file

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
        if ("openvino", "int8") in forms:  # NNCF calibration is most of the build time
            quantize_openvino(onnx_ov, xml, CalibrationData(card.inputs[0].name, calib, progress=False))
        weights = folder / "fer.safetensors"  # the native engine's input, as export/build_fer.py ships it
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights),
                  metadata={"architecture": json.dumps(model.cfg.as_dict())})
        write_sidecar(weights, ArtifactInfo.from_card(card, "fp32", fmt="torch"))
        built = {("native", "fp32"): weights, ("openvino", "int8"): xml, ("onnxruntime", "fp32"): onnx_ort}
        artifacts.update({(name, *form): built[form] for form in forms})
        facts[name] = {"student_shape": shape, "parameters": parameter_count(model), "mflops_per_face": counter.get_total_flops() / 1e6,
                       "onnx_nodes_openvino_form": len(onnx.load(str(onnx_ov)).graph.node)}
    return artifacts, facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=11, help="interleaved rounds (default 11)")
    parser.add_argument("--calls", type=int, default=100, help="calls per timing sample at batch 1")
    parser.add_argument("--data", type=Path, default=None, help="FER2013 folder with train/ (INT8 calibration faces)")
    parser.add_argument("--forms", default=",".join(f"{b}-{p}" for b, p in FORMS),
                        help="which to time, comma-separated (default: all: " + ", ".join(f"{b}-{p}" for b, p in FORMS) + ")")
    args = parser.parse_args()
    named = {f"{b}-{p}": (b, p) for b, p in FORMS}
    unknown = [f for f in args.forms.split(",") if f not in named]
    if unknown:
        parser.error(f"--forms {','.join(unknown)}: choose from {', '.join(named)}")
    forms = tuple(named[f] for f in args.forms.split(","))
    if "fer" not in edgeaffect.list_models():
        raise SystemExit("the fer model is not shipped in this build: its card (input, preprocessing) is needed")
    facts = machine_facts()
    face1, face32 = fer_faces()
    with tempfile.TemporaryDirectory() as tmp:
        artifacts, shapes = build_candidates(Path(tmp), args.data, forms)
        median = {}
        for form in forms:  # one form at a time: another runtime's idle thread pool would tax the one timed
            predictors = {key: edgeaffect.load(path, backend=key[1], precision=key[2], threads=args.threads)
                          for key, path in artifacts.items() if key[1:] == form}
            median.update(median_batch1_and_32(predictors, face1, face32, args.repeats, args.calls))
            for p in predictors.values():
                p.close()
    records, rows = [], []
    for name, shape in shapes.items():
        record = {"shape": name, **shape, "threads": args.threads, "repeats": args.repeats}
        row = [f"`{name}`" if shape["student_shape"] else name, f"{shape['parameters'] / 1e6:.2f} M",
               f"{shape['mflops_per_face']:.1f}", shape["onnx_nodes_openvino_form"]]
        for backend, precision in forms:
            m, base = median[(name, backend, precision)], median[("shipped", backend, precision)]
            record[f"{backend}_{precision}"] = {"latency_us_batch1": m["b1"], "faces_per_s_batch32": 32 / (m["b32"] * 1e-6),
                                                "time_ratio_batch1_vs_shipped": m["b1"] / base["b1"]}
            row += [f"{m['b1'] / 1e3:.3f}", f"{m['b1'] / base['b1']:.2f}x", f"{32 / (m['b32'] * 1e-6):,.0f}"]
        records.append(record)
        rows.append(row)
    slug = machine_slug(facts)
    md = (f"# fer student shapes (untrained candidates): latency\n\nMachine: {facts['cpu']}, {facts['cores']} cores "
          f"({slug}); {args.threads} threads; latency = predict() on one uint8 48x48 crop incl. preprocessing, median "
          f"of {args.repeats} interleaved rounds of {args.calls} calls, one form (backend and precision) at a time; "
          f"ratio = this shape's time / the shipped shape's. Accuracy: not measured (untrained).\n\n" + markdown_table(
              ["shape", "params", "MFLOPs", "nodes"] + [
                  column for backend, precision in forms
                  for column in (f"{FORM_NAMES[backend]} {precision.upper() if precision == 'int8' else precision} ms "
                                 "(batch 1)", "vs shipped", "faces/s (batch 32)")], rows))
    print(md)
    name = "fer-shapes" if args.threads == 2 else f"fer-shapes-{args.threads}threads"
    if forms != FORMS:
        name += "-" + "-".join(f"{b}-{p}" for b, p in forms)
    paths = write_results(name, {"benchmark": "fer-shapes", "machine_slug": slug, "machine": facts, "results": records}, md)
    print(f"\nwrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
