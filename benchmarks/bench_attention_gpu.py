"""Fused attention on the GPU (run by gpu_check.sh): our CUDA kernel vs
torch SDPA (CUDA), float32 and float16, median of CUDA-event-timed runs, and
the fraction of the card's memory bandwidth reached (bytes of q, k, v and the
output over time, against a measured device-to-device copy). Target: at
least torch SDPA's speed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_facts, machine_slug, markdown_table, write_results  # noqa: E402

SHAPES = [((32, 6), 62, 32), ((1, 6), 14, 32), ((1024, 1), 49, 32), ((256, 3), 49, 32)]


def cuda_ms(torch, func, repeats=50):
    for _ in range(5):
        func()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        func()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return float(np.median(times))


def main() -> int:
    import cupy
    import torch

    from edgeaffect import _native
    from edgeaffect.ops import attention

    module = _native.cuda_module()

    facts = machine_facts()
    gpu = torch.cuda.get_device_name(0)
    big = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")
    copy_ms = cuda_ms(torch, lambda: big.clone(), 20)
    bandwidth = 2 * big.numel() / (copy_ms * 1e-3) / 1e9
    rows, records = [], []
    for dtype in ("float32", "float16"):
        for (batch, heads), length, dim in SHAPES:
            q, k, v = (torch.randn(batch, heads, length, dim, device="cuda", dtype=getattr(torch, dtype)) for _ in range(3))
            cq, ck, cv = (cupy.asarray(t) for t in (q, k, v))
            ours = cuda_ms(torch, lambda: attention(cq, ck, cv))
            out = cupy.empty_like(cq)
            kernel = cuda_ms(torch, lambda: module.attention_device(
                cq.data.ptr, ck.data.ptr, cv.data.ptr, 0, out.data.ptr, batch, heads, length, dim, 1, 1, dim**-0.5,
                dtype == "float16"))
            sdpa = cuda_ms(torch, lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))
            moved = 4 * q.numel() * q.element_size()
            record = {"shape": (batch * heads, length, dim), "dtype": dtype, "ours_ms": ours, "kernel_only_ms": kernel,
                      "sdpa_ms": sdpa, "speedup": sdpa / ours, "bandwidth_fraction": moved / (ours * 1e-3) / 1e9 / bandwidth}
            records.append(record)
            rows.append([f"({batch * heads}, {length}, {dim})", dtype, f"{ours:.4f}", f"{kernel:.4f}", f"{sdpa:.4f}",
                         f"{sdpa / ours:.2f}x", f"{record['bandwidth_fraction']:.1%}"])
    slug = f"{machine_slug(facts)}-" + "-".join(w for w in gpu.lower().replace("nvidia", "").split() if w)
    md = (f"# Fused attention on the GPU\n\n{gpu}; copy bandwidth {bandwidth:.0f} GB/s (read + write); "
          "median of 50 CUDA-event-timed runs. 'ours' is `edgeaffect.ops.attention` on CuPy arrays: the Python "
          "checks, the launch and the finiteness check (which waits for the kernel); 'kernel only' is the bare "
          "binding call on preallocated arrays.\n\n"
          + markdown_table(["(batch x heads, L, d)", "dtype", "ours ms", "kernel only ms", "torch SDPA ms", "ours faster by",
                            "of copy bandwidth"], rows))
    print(md)
    write_results("attention-gpu", {"benchmark": "attention-gpu", "machine_slug": slug, "gpu": gpu,
                                    "copy_GBps": bandwidth, "machine": facts, "results": records}, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
