"""Shared fixtures: real-data paths, fresh random generators, tolerances."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Subprocesses run from here so that they import the installed package, not
# the source folder (which has no compiled modules).
OUTSIDE_SOURCE = str(Path(__file__).resolve().parent)
SHARED_DATA = Path(os.environ.get("EDGEAFFECT_DATA", PROJECT_ROOT.parent / "shared" / "data"))

# Relative error bounds against the float64 reference (issue #2). Errors are
# taken relative to max(|reference|, 1 nat), so DE values near zero (tiny
# variances) are held to the same bound in absolute terms.
RTOL = {np.float64: 1e-6, np.float32: 1e-4}


def max_rel_error(actual: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(actual.astype(np.float64) - reference) / np.maximum(np.abs(reference), 1.0)))


@pytest.fixture
def rng(request):
    """A fresh generator per test; the seed is printed so a failure can be replayed."""
    seed = int(os.environ.get("EDGEAFFECT_TEST_SEED", int.from_bytes(os.urandom(4), "little")))
    print(f"{request.node.name}: EDGEAFFECT_TEST_SEED={seed}")
    return np.random.default_rng(seed)


def data_path(*parts: str) -> Path:
    """A path under ../shared/data; skips the test (with the reason) when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set EDGEAFFECT_DATA or place ../shared/data beside the repo)")
    return path
