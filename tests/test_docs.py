"""The examples in docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "edgeaffect",
    "edgeaffect.features.bands",
    "edgeaffect.features.bde",
    "edgeaffect.features.streaming",
    "edgeaffect.io.edf",
    "edgeaffect.io.muse_csv",
    "edgeaffect.ops.attention",
    "edgeaffect.eeg.electrodes",
    "edgeaffect.evaluation.metrics",
    "edgeaffect.runtime.results",
    "edgeaffect.export.calibration",
    "edgeaffect.backends.tensorrt_support",
    "edgeaffect.faces.tracker",
    "edgeaffect.faces.crop",
    "edgeaffect.fer.model",
    "edgeaffect.fer.soup",
    "edgeaffect.bench.ceilings",
    "edgeaffect.bench.machine",
    "edgeaffect.bench.timing",
    "edgeaffect.bench.baselines",
    "edgeaffect.bench.plots",
    "edgeaffect.bench.report",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
