"""The suite's outputs: JSON keyed by machine, a Markdown report, plots,
and `--compare OLD.json` (the change of every row between two runs).

Example:
    >>> from edgeaffect.bench.report import flatten_rows
    >>> flatten_rows({"deployments": [], "kernels": []})
    {}
"""

from __future__ import annotations

import json
from pathlib import Path


def write_outputs(result: dict, out: str | Path, plots: bool = True) -> dict[str, Path]:
    """Writes bench-<machine>.json, bench-<machine>.md and the plots into
    `out`; returns their paths by kind."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bench-{result['machine_slug']}"
    paths = {"json": out / f"{stem}.json", "markdown": out / f"{stem}.md"}
    if plots:
        from .plots import write_plots

        paths.update(write_plots(result, out, stem))
    paths["json"].write_text(json.dumps(result, indent=2, default=str) + "\n")
    paths["markdown"].write_text(markdown_report(result, {k: p.name for k, p in paths.items()}) + "\n")
    return paths


def _table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def markdown_report(result: dict, files: dict[str, str]) -> str:
    m, c, cfg = result["machine"], result["ceilings"], result["config"]
    gpu = ", ".join(m["gpu"]) if m.get("gpu") else "none"
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items())
    parts = [
        "# edgeaffect benchmark report",
        f"Machine **{m['cpu']}**, {m['cores']} cores, {m['machine']} ({result['machine_slug']}); GPU: {gpu}; "
        f"ISA: {', '.join(m['cpu_flags']) or 'unknown'}.  \nLibraries: {libs}.  \n"
        f"{cfg['threads']} threads; {cfg['rounds']} interleaved rounds; batches {tuple(cfg['batches'])}; "
        f"{'quick run; ' if cfg['quick'] else ''}{result['date']}; {result['seconds']:.0f} s in all.",
        "## Ceilings (measured in this run)",
        _table(["limit", "value"], [
            ["fp32 matmul (ONNX Runtime)", f"{c['matmul_float32_GFLOPs']:.0f} GFLOP/s"],
            ["fp64 matmul (ONNX Runtime)", f"{c['matmul_float64_GFLOPs']:.0f} GFLOP/s"],
            ["int8 matmul (ONNX Runtime MatMulInteger)", f"{c['matmul_int8_GOPs']:.0f} GOP/s"],
            ["bf16 matmul (OpenVINO)", f"{c['matmul_bf16_GFLOPs']:.0f} GFLOP/s" if "matmul_bf16_GFLOPs" in c
             else c.get("bf16_unavailable", "-")],
            ["memory copy (read + write)", f"{c['copy_GBps']:.1f} GB/s"],
        ]),
        "## Deployments",
        ("Cold start: a fresh Python process, from its start to the first result (imports and load() included), "
         "and from load() to the first result; the artifact is already in the OS file cache (and a TensorRT "
         "engine in its engine cache), since the suite loaded it first. Peak memory: resident set of that "
         "process after serving the smallest / the largest batch. Accuracy: validation data as named; `n` "
         "items."),
        _table(["model", "backend", "precision", "artifact MB", "process → 1st result ms", "load → 1st result ms",
                "peak RSS MB (b1 / max)", "accuracy", "macro-F1", "n"], _deployment_rows(result)),
        "## Latency, throughput and distance to the limit",
        ("predict() on raw inputs (preprocessing included), `n` back-to-back calls per row; items/s = items over "
         "the total time of those calls. Limit = max(matmul FLOPs at the precision's peak + other FLOPs at the "
         "fp32 peak, (artifact + input + output bytes) / copy bandwidth); `of limit` = that floor / p50. "
         "`fixed ms` is the per-call cost that does not grow with the batch (a line fitted to p50 over the "
         "batches); `bound` is `overhead` when it is at least half the latency, else the roofline side the floor "
         "sits on (`compute` or `memory`)."),
        _table(["model", "backend", "precision", "batch", "n", "p50 ms", "p90 ms", "p99 ms", "items/s",
                "MFLOPs/item", "GFLOP/s", "of limit", "fixed ms", "bound"], _batch_rows(result)),
    ]
    if any((b.get("fraction_of_limit") or 0) > 1 for d in result["deployments"] for b in d["batches"]):
        parts.append("Rows above 100% of the limit ran faster than the measured ceiling: the ceilings were measured "
                     "low (a busy neighbour during both measurements); read those fractions as upper bounds.")
    if result["kernels"]:
        parts += ["## Kernels, side by side with their peers",
                  _table(["kernel", "shape", "implementation", "median ms", "GFLOP/s (of fp32 peak)",
                          "edgeaffect faster by"],
                         [[k["kernel"], k["shape"], k["impl"], f"{k['median_ms']:.3f}",
                           f"{k['GFLOPs']:.1f} ({k['fraction_of_peak']:.0%})",
                           "" if k["impl"] == "edgeaffect" else f"{k['edgeaffect_speedup']:.1f}x"]
                          for k in result["kernels"]])]
    plots = [(kind, name) for kind, name in files.items() if kind.startswith("plot_")]
    if plots:
        parts.append("## Plots")
        parts += [f"![{kind[5:].replace('_', ' ')}]({name})" for kind, name in plots]
    if result["skipped"]:
        parts += ["## Not run here", _skipped_lines(result["skipped"])]
    if result["notes"]:
        parts += ["## Notes", "\n".join(f"- {n}" for n in result["notes"])]
    return "\n\n".join(parts)


def _skipped_lines(skipped: list[dict]) -> str:
    """One line per model and backend with the precisions it could not run
    and the first reason (the JSON keeps every reason)."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for s in skipped:
        grouped.setdefault((s["model"], s["backend"]), []).append(s)
    lines = []
    for (model, backend), rows in grouped.items():
        precisions = ", ".join(r["precision"] for r in rows)
        lines.append(f"- {model} · {backend} ({precisions}): {rows[0]['reasons'][0]}")
    return "\n".join(lines)


def _deployment_rows(result: dict) -> list[list[str]]:
    rows = []
    for d in result["deployments"]:
        cold, acc = d["cold_start"] or {}, d["accuracy"] or {}
        memory = cold.get("peak_rss_mb", {})
        first_last = (f"{memory[min(memory, key=int)]:.0f} / {memory[max(memory, key=int)]:.0f}" if memory else "-")
        process_ms = cold["process_to_first_result_s"] * 1e3 if "process_to_first_result_s" in cold else None
        load_ms = cold["load_to_first_result_s"] * 1e3 if "load_to_first_result_s" in cold else None
        row = [d["model"], d["backend"], d["precision"], f"{d['artifact_bytes'] / 1e6:.2f}",
               _fmt(process_ms, ".0f", "failed" if "error" in cold else "-"),
               _fmt(load_ms, ".0f", "failed" if "error" in cold else "-"), first_last,
               _fmt(acc.get("accuracy"), ".4f", "failed" if "error" in acc else "-"),
               _fmt(acc.get("macro_f1"), ".4f"), _fmt(acc.get("n"), "d")]
        if d["error"]:
            row[3:] = [f"failed: {d['error'][:120]}"] + [""] * 6
        rows.append(row)
    return rows


def _batch_rows(result: dict) -> list[list[str]]:
    rows = []
    for d in result["deployments"]:
        for b in d["batches"]:
            per_item = b["flops"] / b["batch"] / 1e6 if "flops" in b else None
            rows.append([d["model"], d["backend"], d["precision"], b["batch"], b["samples"], f"{b['p50_ms']:.3f}",
                         f"{b['p90_ms']:.3f}", f"{b['p99_ms']:.3f}", f"{b['throughput_per_s']:,.0f}",
                         _fmt(per_item, ".1f"), _fmt(b.get("achieved_GFLOPs"), ".1f"),
                         _fmt(b.get("fraction_of_limit"), ".1%"), _fmt(b.get("fixed_ms_per_call"), ".2f"),
                         b.get("bound", "-")])
    return rows


def flatten_rows(result: dict) -> dict[tuple, dict]:
    """Every comparable row of a result, by a key that is stable across runs."""
    rows = {}
    for d in result["deployments"]:
        accuracy = d.get("accuracy") or {}
        for b in d["batches"]:
            rows[("model", d["model"], d["backend"], d["precision"], f"batch {b['batch']}")] = {
                "p50_ms": b["p50_ms"], "throughput_per_s": b["throughput_per_s"],
                "accuracy": accuracy.get("accuracy"), "accuracy_n": accuracy.get("n")}
    for k in result["kernels"]:
        rows[("kernel", k["kernel"], k["shape"], k["impl"], "")] = {"p50_ms": k["median_ms"]}
    return rows


def compare(old: dict, new: dict) -> str:
    """A Markdown table of the change of every row present in both runs
    (rows in only one are listed below it). Lower p50 is better."""
    before, after = flatten_rows(old), flatten_rows(new)
    rows = []
    for key in [k for k in after if k in before]:
        o, n = before[key], after[key]
        ratio = n["p50_ms"] / o["p50_ms"]
        acc = ""
        if o.get("accuracy") is not None and n.get("accuracy") is not None:
            acc = f"{(n['accuracy'] - o['accuracy']) * 100:+.2f} pt"
            if o.get("accuracy_n") != n.get("accuracy_n"):
                acc += f" (n {o.get('accuracy_n')} -> {n.get('accuracy_n')}: not the same items)"
        rows.append([" ".join(p for p in key[1:] if p), f"{o['p50_ms']:.3f}", f"{n['p50_ms']:.3f}",
                     f"{(ratio - 1) * 100:+.1f}%", "faster" if ratio < 0.95 else "slower" if ratio > 1.05 else "same",
                     acc])
    text = []
    if old.get("machine_slug") != new.get("machine_slug"):
        text.append(f"Note: different machines ({old.get('machine_slug')} -> {new.get('machine_slug')}); "
                    "changes mix hardware and software.")
    text.append(_table(["row", "old p50 ms", "new p50 ms", "change", "verdict (±5%)", "accuracy change"], rows))
    only_old = [" ".join(p for p in k[1:] if p) for k in before if k not in after]
    only_new = [" ".join(p for p in k[1:] if p) for k in after if k not in before]
    if only_old:
        text.append("Only in the old run: " + "; ".join(only_old))
    if only_new:
        text.append("Only in the new run: " + "; ".join(only_new))
    return "\n\n".join(text)
