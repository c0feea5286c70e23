"""The whole benchmark suite, recorded for this machine: the same as
`edgeaffect bench`, writing into benchmarks/results/ (bench-<machine>.json,
.md and the plots). Arguments are edgeaffect bench's.

Usage:
    python benchmarks/run_all.py                                  # full run (about 4 min on 2 cores)
    python benchmarks/run_all.py --quick --out /tmp/bench          # a quick check
    python benchmarks/run_all.py --compare benchmarks/results/bench-xeon-2c-x86_64.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeaffect.bench.cli import DESCRIPTION, add_arguments, run

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    add_arguments(parser, default_out=str(RESULTS))
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
