"""EEG model end to end (issue #5/#6): BDE tokens + RBTransformer student per
window, per backend, side by side in one process.

A window is 1 s of 32-channel EEG at 128 Hz (DEAP's rate); the pipeline is
band differential entropy (DEAP bands, native kernel) -> re-reference to
the electrode mean -> per-user standardisation -> the student model. Batch 1
(a live stream: one window at a time) is timed as latency per window; batch
32 as windows per second.
Backends: ONNX Runtime, OpenVINO (fp32, INFERENCE_PRECISION_HINT f32) and
edgeaffect's native C++ engine, all on one thread. The model is the shipped
`eeg` student; a build without it uses the student's architecture at its
initialisation (latency does not depend on the weights' values).

Targets: < 0.5 ms per window end to end on one core; the native engine at
most a third of the best of ONNX Runtime and OpenVINO.

Usage: python benchmarks/bench_eeg.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_facts, machine_slug, markdown_table, per_call_us, write_results  # noqa: E402

import edgeaffect  # noqa: E402
from edgeaffect.features import band_differential_entropy  # noqa: E402
from edgeaffect.eeg.features import reference_to_electrode_mean  # noqa: E402

FS, CHANNELS, SAMPLES = 128.0, 32, 128


def build_artifacts(tmp: Path) -> str:
    import torch
    from safetensors.torch import save_file

    from edgeaffect.eeg.features import HEADS
    from edgeaffect.eeg.model import STUDENT, build_student
    from edgeaffect.export.pipeline import export_model
    from edgeaffect.models import InputSpec, ModelCard, Preprocessing, register_model

    torch.manual_seed(0)
    weights = tmp / "student.safetensors"
    save_file({k: v.contiguous() for k, v in build_student().state_dict().items()}, str(weights))
    card = ModelCard(name="eeg-bench", version="0", task="binary-heads", labels=HEADS,
                     inputs=(InputSpec("tokens", ("batch", 32, 5)),), preprocessing=Preprocessing("identity"),
                     eval_format="eeg-features-csv", builder="edgeaffect.eeg.model:build_student",
                     artifacts=(("torch-fp32", str(weights)),), architecture=(("heads", STUDENT.heads),))
    register_model(card, replace=True)
    report = export_model("eeg-bench", "onnxruntime-cpu-fp32", out=tmp / "onnx", progress=False)
    onnx_path = report["artifacts"]["onnx-fp32"]
    register_model(ModelCard(**{**card.__dict__, "artifacts": (("torch-fp32", str(weights)), ("onnx-fp32", onnx_path))}),
                   replace=True)
    return "eeg-bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20, help="interleaved rounds (default 20)")
    parser.add_argument("--calls", type=int, default=200, help="calls per timing sample at batch 1 (default 200)")
    args = parser.parse_args()
    facts = machine_facts()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        # The shipped student when this build has it (same shape and cost as
        # a freshly initialised one, which is used otherwise).
        name = "eeg" if "eeg" in edgeaffect.list_models() else build_artifacts(Path(tmp))
        backends = ["onnxruntime", "openvino", "native"]
        models = {}
        for backend in backends:
            try:
                models[backend] = edgeaffect.load(name, backend=backend, precision="fp32", threads=1)
            except Exception as exc:  # a backend missing here is reported, not fatal
                print(f"{backend}: not available ({exc})")
        raw1 = rng.standard_normal((1, CHANNELS, SAMPLES)).astype(np.float32) * 20
        raw32 = rng.standard_normal((32, CHANNELS, SAMPLES)).astype(np.float32) * 20
        mean, std = np.float32(3.0), np.float32(1.5)  # a user's calibration (per electrode and band in practice)

        def pipeline(model, raw):
            de = band_differential_entropy(raw, FS, bands="deap", threads=1)
            tokens = (reference_to_electrode_mean(de) - mean) / std
            return model.predict(tokens)

        samples = {b: {"bde": [], "model": [], "e2e": [], "e2e32": []} for b in models}
        bde_only = lambda: band_differential_entropy(raw1, FS, bands="deap", threads=1)  # noqa: E731
        tokens1 = (reference_to_electrode_mean(bde_only()) - mean) / std
        for _ in range(args.repeats):
            for backend, model in models.items():
                samples[backend]["bde"].append(per_call_us(bde_only, args.calls))
                samples[backend]["model"].append(per_call_us(lambda: model.predict(tokens1), args.calls))
                samples[backend]["e2e"].append(per_call_us(lambda: pipeline(model, raw1), args.calls))
                samples[backend]["e2e32"].append(per_call_us(lambda: pipeline(model, raw32), max(1, args.calls // 10)))
        rows, records = [], []
        medians = {b: {k: float(np.median(v)) for k, v in s.items()} for b, s in samples.items()}
        best_framework = min(medians[b]["model"] for b in medians if b != "native")
        for backend, m in medians.items():
            record = {"backend": backend, "bde_us": m["bde"], "model_us": m["model"], "end_to_end_us": m["e2e"],
                      "windows_per_s_batch32": 32 / (m["e2e32"] * 1e-6), "repeats": args.repeats, "threads": 1}
            if backend == "native":
                record["native_over_best_framework"] = m["model"] / best_framework
            records.append(record)
            rows.append([backend, f"{m['bde']:.0f}", f"{m['model']:.0f}", f"{m['e2e']:.0f}",
                         f"{'met' if m['e2e'] < 500 else 'NOT met'}", f"{32 / (m['e2e32'] * 1e-6):,.0f}",
                         f"{m['model'] / best_framework:.2f} (target <= 0.33)" if backend == "native" else ""])
    slug = machine_slug(facts)
    md = (f"# EEG end to end (BDE + RBTransformer student)\n\nModel: {name}. Machine: {facts['cpu']}, "
          f"{facts['cores']} cores ({slug}); "
          f"1 thread; 1 s windows of {CHANNELS} channels at {FS:g} Hz, DEAP bands; median of {args.repeats} interleaved "
          f"rounds of {args.calls} calls.\n\n" + markdown_table(
              ["backend", "BDE us", "model us (batch 1)", "end to end us (batch 1)", "< 500 us", "windows/s (batch 32)",
               "native / best framework"], rows))
    print(md)
    paths = write_results("eeg", {"benchmark": "eeg", "machine_slug": slug, "machine": facts, "results": records}, md)
    print(f"\nwrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
