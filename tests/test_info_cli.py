"""`edgeaffect info` and `edgeaffect bde` from the command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import OUTSIDE_SOURCE


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgeaffect", *args], capture_output=True, text=True, cwd=OUTSIDE_SOURCE)


def test_info_reports_build_facts():
    result = run_cli("info", "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    cpu = facts["native_cpu"]
    assert cpu["built"] and cpu["simd_in_use"] in cpu["simd_compiled"] + ["sse2", "neon", "scalar"]
    assert cpu["openmp_max_threads"] >= 1
    assert facts["cuda"]["compiled"] == (facts["cuda"].get("compiled_archs") is not None)
    if facts["cuda"]["compiled"] and facts["cuda"]["device_count"] == 0:
        assert facts["cuda"]["reason"]
    auto = facts["auto"]
    assert auto["cpu_precision_order"][0] == ("int8" if auto["int8_dot_products"] else "fp32")
    assert set(auto["backend_order"]) >= {"onnxruntime", "openvino"}
    text = run_cli("info").stdout
    assert "SIMD in use" in text and "CUDA module" in text and "auto policy here" in text


def test_info_does_not_import_torch():
    code = "import sys, edgeaffect.info as i; i.collect(); import edgeaffect.features; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=OUTSIDE_SOURCE)
    assert result.stdout.strip() == "False", result.stderr


def test_bde_command_writes_tokens(tmp_path):
    out = tmp_path / "tokens.npz"
    result = run_cli("bde", "--synthetic", "--window", "2", "--hop", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    tokens = np.load(out)
    assert tokens["de"].shape == (9, 8, 5)
    # The synthetic recording puts a 10 Hz rhythm on channel 0: its alpha DE stands out.
    assert tokens["de"][:, 0, 2].mean() > tokens["de"][:, 1:, 2].mean() + 1.0


def test_bde_command_reports_bad_arguments():
    result = run_cli("bde", "--synthetic", "--fs", "60")
    assert result.returncode == 2 and "Nyquist" in result.stderr


def test_numeric_arguments_are_checked_before_any_work():
    """A zero hop or batch once raised ZeroDivisionError or looped; argparse now names the flag."""
    for args, flag in ((("bde", "--synthetic", "--hop", "0"), "--hop"),
                       (("eeg", "--file", "x.edf", "--window", "-1"), "--window"),
                       (("eval", "fer", "--data", "x", "--batch-size", "0"), "--batch-size"),
                       (("eval", "fer", "--data", "x", "--limit", "0"), "--limit"),
                       (("explain", "x.png", "--beams", "0"), "--beams")):
        result = run_cli(*args)
        assert result.returncode == 2 and f"argument {flag}:" in result.stderr and "must be" in result.stderr, args


def test_eval_data_of_the_wrong_kind_says_what_is_expected(tmp_path):
    from edgeaffect.evaluation.datasets import load_eval_data

    image = tmp_path / "face.png"
    image.write_bytes(b"\x89PNG not really")
    labels = ("angry", "happy")
    for fmt, path, expected in (("image-folder", image, "a folder of class folders"),
                                ("eeg-features-csv", tmp_path, "edgeaffect eeg --file"),
                                ("eeg-features-csv", image, "not a text CSV")):
        with pytest.raises(ValueError, match=re.escape(expected)):
            load_eval_data(fmt, path, ("valence_high", "arousal_high") if fmt.startswith("eeg") else labels)


def test_eval_refuses_the_explainers_options_for_other_models(tmp_path):
    """--beams, --evidence and the like mean nothing to `eval fer`: an error, not a silently ignored flag."""
    result = run_cli("eval", "fer", "--data", str(tmp_path), "--beams", "3", "--evidence", "predicted")
    assert result.returncode == 2, result.stdout
    assert "--beams, --evidence: options of `edgeaffect eval explain`" in result.stderr


def test_conflicting_or_missing_sources_are_errors_in_the_common_format(tmp_path):
    both = run_cli("run", str(tmp_path / "photo.jpg"), "--camera", "0")
    assert both.returncode == 2 and "not both" in both.stderr
    missing = run_cli("bde", str(tmp_path / "absent.edf"))
    assert missing.returncode == 2 and missing.stderr.startswith("edgeaffect bde: error:") and "absent.edf" in missing.stderr


def test_usage_is_refused_where_there_are_no_csv_rows(tmp_path):
    (tmp_path / "happy").mkdir()
    result = run_cli("eval", "fer", "--data", str(tmp_path), "--usage", "PrivateTest")
    assert result.returncode == 2 and "picks rows of a FER2013 CSV" in result.stderr
