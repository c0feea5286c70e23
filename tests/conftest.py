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


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """The tests' tiny model: trained, registered, with fp32/int8 exports.

    Returns a namespace with the card, the torch module, the data files and
    the artifact paths; OpenVINO artifacts only when OpenVINO is installed.
    """
    for module in ("torch", "onnx", "onnxruntime", "safetensors"):
        if not _has(module):
            pytest.skip(f"{module} is not installed (pip install '.[test]')")
    import types

    import tiny_model
    from edgeaffect.export.pipeline import export_model, load_torch_module

    root = tmp_path_factory.mktemp("tiny")
    weights = tiny_model.train(root)
    card = tiny_model.register(weights)
    ns = types.SimpleNamespace(card=card, root=root, weights=weights, val=root / "val.npz", calib=root / "calib.npz")
    ns.module = load_torch_module(card)
    reports = {"fp32": export_model(card.name, "onnxruntime-cpu-fp32", val=ns.val, out=root / "ort-fp32", progress=False),
               "int8": export_model(card.name, "onnxruntime-cpu-int8", calib=ns.calib, val=ns.val,
                                    out=root / "ort-int8", progress=False)}
    ns.onnx_fp32 = Path(reports["fp32"]["artifacts"]["onnx-fp32"])
    ns.onnx_int8 = Path(reports["int8"]["artifacts"]["onnx-int8"])
    ns.reports = reports
    if _has("openvino"):
        reports["ov-fp32"] = export_model(card.name, "openvino-cpu-fp32", val=ns.val, out=root / "ov-fp32", progress=False)
        ns.ov_fp32 = Path(reports["ov-fp32"]["artifacts"]["openvino-fp32"])
        if _has("nncf"):
            reports["ov-int8"] = export_model(card.name, "openvino-cpu-int8", calib=ns.calib, val=ns.val,
                                              out=root / "ov-int8", progress=False)
            ns.ov_int8 = Path(reports["ov-int8"]["artifacts"]["openvino-int8"])
    # Ship-like registration: the card lists the exported artifacts.
    artifacts = [("torch-fp32", str(weights)), ("onnx-fp32", str(ns.onnx_fp32)), ("onnx-int8", str(ns.onnx_int8))]
    if hasattr(ns, "ov_fp32"):
        artifacts.append(("openvino-fp32", str(ns.ov_fp32)))
    if hasattr(ns, "ov_int8"):
        artifacts.append(("openvino-int8", str(ns.ov_int8)))
    from dataclasses import replace

    from edgeaffect.models import register_model

    ns.card = register_model(replace(card, artifacts=tuple(artifacts)), replace=True)
    return ns
