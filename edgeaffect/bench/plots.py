"""The suite's plots (matplotlib, written as PNG without a display):

- latency vs accuracy at batch 1, one colour per model, with each model's
  Pareto front (the deployments no other is both faster and more accurate
  than);
- batch-1 latency per backend and precision;
- throughput vs batch size per deployment.
"""

from __future__ import annotations

from pathlib import Path


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points not dominated by a faster-or-equal and more-or-equally
    accurate one, sorted by latency.

    Example:
        >>> pareto_front([(1.0, 0.5), (2.0, 0.6), (3.0, 0.55)])
        [(1.0, 0.5), (2.0, 0.6)]
    """
    front, best = [], float("-inf")
    for latency, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if accuracy > best:
            front.append((latency, accuracy))
            best = accuracy
    return front


def write_plots(result: dict, out: Path, stem: str) -> dict[str, Path]:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("the benchmark plots need matplotlib: pip install 'edgeaffect[bench]' "
                          "(or pass --no-plots)") from exc
    matplotlib.use("Agg")  # files only; works without a display
    import matplotlib.pyplot as plt

    deployments = [d for d in result["deployments"] if d["batches"]]
    machine = f"{result['machine']['cpu']}, {result['config']['threads']} threads"
    first = min(result["config"]["batches"])  # batch 1 unless --batches left it out
    paths = {}

    models = sorted({d["model"] for d in deployments})
    with_accuracy = [m for m in models if any(d["model"] == m and (d.get("accuracy") or {}).get("accuracy")
                                              is not None for d in deployments)]
    fig, axes = plt.subplots(max(1, len(with_accuracy)), 1, figsize=(7, 1 + 3 * max(1, len(with_accuracy))),
                             squeeze=False)
    for ax, model in zip(axes[:, 0], with_accuracy):
        points, names = [], []
        for d in deployments:
            acc = (d.get("accuracy") or {}).get("accuracy")
            if d["model"] == model and acc is not None:
                points.append((_batch(d, first)["p50_ms"], acc))
                names.append(f"{d['backend']} {d['precision']}")
        colour = f"C{models.index(model)}"
        ax.scatter(*zip(*points), color=colour)
        for k, ((x, y), name) in enumerate(sorted(zip(points, names))):
            # alternate label offsets so neighbours with equal accuracy stay readable
            ax.annotate(name, (x, y), fontsize=7, xytext=(4, 6 if k % 2 else -10), textcoords="offset points")
        ax.plot(*zip(*pareto_front(points)), color=colour, linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.margins(x=0.15, y=0.3)
        ax.set_ylabel("val accuracy")
        ax.set_title(model, fontsize=9)
    axes[-1, 0].set_xlabel(f"latency per call at batch {first}, p50 (ms, log scale)")
    fig.suptitle(f"Latency vs accuracy (dashed: Pareto front)\n{machine}", fontsize=9)
    if not with_accuracy:
        axes[0, 0].text(0.5, 0.5, "no deployment had validation data", ha="center", transform=axes[0, 0].transAxes)
    paths["plot_latency_vs_accuracy"] = _save(fig, out / f"{stem}-latency-accuracy.png")

    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.35 * max(1, len(deployments))))
    labels = [f"{d['model']} · {d['backend']} · {d['precision']}" for d in deployments]
    values = [_batch(d, first)["p50_ms"] for d in deployments]
    ax.barh(range(len(values)), values, color=[f"C{models.index(d['model'])}" for d in deployments])
    ax.set_yticks(range(len(values)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"latency per call at batch {first}, p50 (ms)")
    ax.set_title(f"Latency per backend and precision\n{machine}", fontsize=9)
    paths["plot_latency_per_backend"] = _save(fig, out / f"{stem}-latency-backends.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for d in deployments:
        batches = [b["batch"] for b in d["batches"]]
        ax.plot(batches, [b["throughput_per_s"] for b in d["batches"]], marker="o",
                label=f"{d['model']} · {d['backend']} · {d['precision']}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({b["batch"] for d in deployments for b in d["batches"]}) or [1])
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("batch size")
    ax.set_ylabel("items per second")
    ax.set_title(f"Throughput vs batch\n{machine}", fontsize=9)
    if deployments:
        ax.legend(fontsize=7)
    paths["plot_throughput_vs_batch"] = _save(fig, out / f"{stem}-throughput.png")
    return paths


def _batch(deployment: dict, batch: int) -> dict:
    """The row of `batch`; the smallest batch measured when it was not run
    (the axis labels then name that batch)."""
    rows = deployment["batches"]
    return next((b for b in rows if b["batch"] == batch), min(rows, key=lambda b: b["batch"]))


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
