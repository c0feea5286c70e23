"""Fused attention benchmark (issue #6), CPU, all in one process.

Side by side, interleaved round by round: our CPU kernel, torch
`scaled_dot_product_attention`, a numpy baseline, and ONNX Runtime's
`Attention` op (opset 23) where this onnxruntime runs it. Shapes
(batch x heads, L, d): (192, 62, 32) (the EEG model at batch 32), (6, 14, 32),
and (1024, 49, 32) with a window bias (Swin 7x7 windows). Reports GFLOP/s
and the fraction of the measured fp32 matmul peak. Target: >= 2x torch SDPA
at (192, 62, 32).

Usage: python benchmarks/bench_attention.py [--repeats 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_facts, machine_slug, markdown_table, measure_ceilings, median_ms, time_interleaved, write_results  # noqa: E402

from edgeaffect.bench.baselines import numpy_attention  # noqa: E402
from edgeaffect.ops import attention, attention_reference  # noqa: E402

SHAPES = [((32, 6), 62, 32, False), ((1, 6), 14, 32, False), ((1024, 1), 49, 32, True)]
TARGET = {"(192, 62, 32)": 2.0}


def ort_attention(shape, bias, threads):
    """An ONNX Runtime session running the opset-23 Attention op, or (None, reason)."""
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError as exc:
        return None, f"not installed ({exc.name})"
    b, h, length, d = shape
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [b, h, length, d]) for n in "QKV"]
    names = ["Q", "K", "V"]
    if bias is not None:
        inputs.append(helper.make_tensor_value_info("M", TensorProto.FLOAT, list(bias.shape)))
        names.append("M")
    node = helper.make_node("Attention", names, ["Y"])
    graph = helper.make_graph([node], "attention", inputs, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # ONNX Runtime's idle threads spin by default, stealing the cores from
    # whatever runs next in the interleaved rounds.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # an onnxruntime without the op
        return None, f"Attention(23) not supported: {str(exc).splitlines()[0][:120]}"
    return session, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    facts, ceilings = machine_facts(), measure_ceilings(args.threads)
    rng = np.random.default_rng(0)
    rows, records = [], []
    for (batch, heads), length, dim, with_bias in SHAPES:
        q, k, v = rng.standard_normal((3, batch, heads, length, dim)).astype(np.float32)
        bias = rng.standard_normal((1, heads, length, length)).astype(np.float32) if with_bias else None
        scale = dim**-0.5
        tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
        tb = torch.from_numpy(bias) if bias is not None else None
        funcs = {
            "edgeaffect (CPU kernel)": lambda: attention(q, k, v, bias, threads=args.threads),
            "torch SDPA": lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tb),
            "numpy": lambda: numpy_attention(q, k, v, bias, scale),
        }
        session, reason = ort_attention(q.shape, bias, args.threads)
        if session is not None:
            feeds = {"Q": q, "K": k, "V": v, **({"M": np.broadcast_to(bias, bias.shape).copy()} if bias is not None else {})}
            funcs["onnxruntime Attention"] = lambda: session.run(None, feeds)
        ref = attention_reference(q, k, v, bias)
        err = float(np.abs(attention(q, k, v, bias) - ref).max())
        times = time_interleaved(funcs, args.repeats, warmup=3)
        label = f"({batch * heads}, {length}, {dim})" + (" + bias" if with_bias else "")
        flops = 4 * batch * heads * length * length * dim
        ours = median_ms(times["edgeaffect (CPU kernel)"])
        for name, t in times.items():
            ms = median_ms(t)
            gflops = flops / (ms * 1e-3) / 1e9
            record = {"shape": label, "impl": name, "median_ms": ms, "GFLOPs": gflops,
                      "fraction_of_peak": gflops / ceilings["matmul_float32_GFLOPs"], "repeats": args.repeats,
                      "threads": args.threads}
            if name != "edgeaffect (CPU kernel)":
                record["edgeaffect_speedup"] = ms / ours
            records.append(record)
            target = TARGET.get(label.split(" +")[0]) if name == "torch SDPA" else None
            rows.append([label, name, f"{ms:.3f}", f"{gflops:.0f} ({record['fraction_of_peak']:.0%})",
                         f"{ms / ours:.2f}x" if name != "edgeaffect (CPU kernel)" else f"max err {err:.1e}",
                         (f"≥{target:.0f}x {'met' if ms / ours >= target else 'NOT met'}" if target else "")])
        if session is None:
            rows.append([label, "onnxruntime Attention", "-", "-", reason, ""])
    slug = machine_slug(facts)
    md = (f"# Fused attention benchmark (CPU)\n\nMachine: {facts['cpu']}, {facts['cores']} cores ({slug}); "
          f"{args.threads} threads; median of {args.repeats} interleaved rounds; fp32 matmul peak measured in the same "
          f"run: {ceilings['matmul_float32_GFLOPs']:.0f} GFLOP/s.\n\n"
          + markdown_table(["(batch x heads, L, d)", "implementation", "median ms", "GFLOP/s (of peak)",
                            "edgeaffect faster by", "target"], rows))
    print(md)
    paths = write_results("attention", {"benchmark": "attention", "machine_slug": slug, "machine": facts,
                                        "ceilings": ceilings, "results": records}, md)
    print(f"\nwrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
