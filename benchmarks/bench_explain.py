"""Explainer latency per face (issue #8): the vision pass plus a 20-token
explanation, per backend, side by side in one process, against two
baselines: the same decoder without its KV cache, and the rationale teacher
the explainer replaces (occlusion: one FER-teacher pass per region plus the
face, then the fixed phrasing). The shipped explainer's pipelines include the
`fer` model that names the emotion (its default); one row leaves it out.
The default pipelines measure the region evidence (load_explainer's
evidence="measured": the face and one copy per region with it hidden, 5
passes in one vision call); other rows use the distilled evidence head on
the face and the 9 shifted copies its teacher averages over, or on the face
alone, and the vision call alone.

Batch 1, 2 threads (the issue's budget: < 50 ms per face on 2 threads
here). Exactly 20 new tokens are generated per face (the end token is
suppressed), so every backend does the same work. Median of interleaved
rounds; results in benchmarks/results/explain-<machine>.{json,md}.

Usage: python benchmarks/bench_explain.py [--rounds 15] [--threads 2] [--model FOLDER]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_facts, machine_slug, markdown_table, time_interleaved, write_results  # noqa: E402

from edgeaffect.explain import DecodeConfig, load_explainer, load_rationale_teacher  # noqa: E402
from edgeaffect.explain.rationale import occlusion_evidence, render_rationale  # noqa: E402
from edgeaffect.fer import LABELS  # noqa: E402

TOKENS = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", help="an exported explainer folder (default: the shipped explain model)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    face = rng.integers(0, 256, (1, 48, 48)).astype(np.uint8)
    fixed = DecodeConfig(max_new_tokens=TOKENS, stop_at_eos=False)
    cases = {}
    engines = {}
    for backend, precision in (("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "fp32"), ("openvino", "int8")):
        try:
            engines[(backend, precision)] = load_explainer(args.model, backend=backend, precision=precision,
                                                           threads=args.threads)
        except (ImportError, FileNotFoundError) as exc:
            print(f"skipping {backend} {precision}: {exc}", file=sys.stderr)
    for (backend, precision), engine in engines.items():
        cases[f"{backend} {precision}, KV cache"] = lambda e=engine: e.explain_faces(face, decode=fixed)
    base = engines[("onnxruntime", "fp32")]
    if base.emotion_classifier is not None:  # the shipped explainer: fer names the emotion; without it, its own head
        own = load_explainer(args.model, threads=args.threads, emotions_from="explainer")
        cases["onnxruntime fp32, KV cache, emotion from its own head"] = lambda: own.explain_faces(face, decode=fixed)
    cases["onnxruntime fp32, no cache (baseline)"] = lambda: base.explain_faces(
        face, decode=DecodeConfig(max_new_tokens=TOKENS, stop_at_eos=False, use_cache=False))

    def evidence_label(engine) -> str:
        n = len(engine.view_shifts) * (engine.spec.regions + 1 if engine.evidence_source == "measured" else 1)
        return f"{engine.evidence_source} evidence, {n} pass{'es' if n > 1 else ''}"

    # the default evidence (measured, for the shipped explainer) and the alternatives, the same pipeline otherwise
    others = [load_explainer(args.model, threads=args.threads, evidence=source, views=views)
              for source, views in (("predicted", "aligned"), ("predicted", "single"), ("measured", "single"))
              if source == "predicted" or base.spec.regions]  # measuring needs region evidence
    others = [e for e in others if (e.evidence_source, e.view_shifts) != (base.evidence_source, base.view_shifts)]
    for engine in others:
        cases[f"onnxruntime fp32, KV cache, {evidence_label(engine)}"] = lambda e=engine: e.explain_faces(face, decode=fixed)
    for engine in [base] + others:
        cases[f"vision only, {evidence_label(engine)} (onnxruntime fp32)"] = lambda e=engine: e.look(face)
    teacher = load_rationale_teacher(args.model, threads=args.threads)
    if teacher is not None:
        shifts = base.spec.rationale_shifts

        def rationale_teacher():
            ev = occlusion_evidence(teacher, face, shifts=shifts)
            return render_rationale(LABELS[int(np.argmax(ev[0].sum(1)))], ev[0, 0])

        passes = len(shifts) * (base.spec.regions + 1)
        cases[f"rationale teacher (occlusion, {passes} passes)"] = rationale_teacher
    produced = base.explain_faces(face)[0]  # the sentence as a user gets it: greedy, stopping at <eos>
    times = time_interleaved(cases, repeats=args.rounds)
    medians = {name: float(np.median(t)) * 1e3 for name, t in times.items()}
    ref = medians["onnxruntime fp32, no cache (baseline)"]
    rows = [[name, f"{ms:.2f}", f"{ref / ms:.2f}x"] for name, ms in medians.items()]
    facts = machine_facts()
    payload = {"benchmark": "explain", "machine": facts, "machine_slug": machine_slug(facts), "threads": args.threads,
               "tokens": TOKENS, "rounds": args.rounds, "median_ms": medians, "target_ms": 50.0,
               "example_text": produced.text}
    md = (f"# Explainer latency per face ({TOKENS} new tokens, batch 1, {args.threads} threads)\n\n"
          f"Machine: {facts.get('cpu', '?')}, {facts.get('cores', '?')} cores. Median of {args.rounds} interleaved rounds. "
          f"Default pipelines: {evidence_label(base)} per face. Speed-up relative to the default pipeline without its KV cache.\n\n"
          + markdown_table(["pipeline", "ms per face", "vs no-cache"], rows)
          + f"\n\nTarget: < 50 ms per face. The timed runs decode exactly {TOKENS} tokens (no stop at <eos>); "
            f"the sentence for this (random) face, stopping at <eos>: \"{produced.text}\"\n")
    json_path, md_path = write_results("explain", payload, md)
    print(md)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
