"""The report.json of a `edgeaffect train fer` run that a lent GPU's timeout
cut before it wrote one: its progress so far, read from its last.pt, so
export/fer_schedule.py can still follow it. Used by the gpu_*_fer.sh scripts.

    python export/unfinished_report.py RUN/last.pt TEACHER INIT DEVICE > RUN/report.json

TEACHER is the run's --teacher (several comma-separated for an ensemble),
INIT its --init or "none", DEVICE its --device.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def unfinished_report(last: str, teacher: str, init: str, device: str) -> dict:
    import torch

    from edgeaffect.models.registry import file_sha256

    s = torch.load(last, map_location="cpu", weights_only=False)
    if device.startswith("cuda"):
        device = f"{device} ({torch.cuda.get_device_name(0)})"
    sources = [t for t in teacher.split(",") if t]
    taught = {"checkpoint": sources[0]} if len(sources) == 1 else {
        "run": "ensemble of " + " + ".join(Path(t).parent.name for t in sources), "checkpoints": sources}
    return {"unfinished": f"the call's timeout stopped it after epoch {s['epoch']} of {s['config']['epochs']}",
            "model": s["config"]["model"], "architecture": s["architecture"], "seed": s["seed"],
            "config": s["config"], "fit": s.get("fit"), "device": device, "best": s["best"],
            "history": s["history"], "init": None if init == "none" else init,
            "init_sha256": None if init == "none" else file_sha256(init),
            "teacher": taught if sources else None}


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    print(json.dumps(unfinished_report(*sys.argv[1:]), indent=1))
