"""EEG pieces: electrode mapping, the band-feature CSV format, per-subject
standardisation, the RBTransformer, and binary-heads results and metrics."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import _has, data_path
from edgeaffect.eeg.electrodes import DEAP_32, ChannelMap, canonical
from edgeaffect.eeg.features import (BANDS, HEADS, feature_columns, prepare_tokens, read_feature_csv,
                                     reference_to_electrode_mean, standardize_per_subject)
from edgeaffect.evaluation.metrics import binary_heads_metrics


def write_csv(path, rows, columns=None):
    columns = columns or ["subject", "video", "valence_high", "arousal_high"] + feature_columns()
    path.write_text(",".join(columns) + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")


def test_electrode_names_are_canonicalised():
    assert [canonical(n) for n in ["FP1", "EEG Fz-REF", "t3", "Oz.", "cz"]] == ["Fp1", "Fz", "T7", "Oz", "Cz"]


def test_channel_map_is_explicit_about_missing_electrodes():
    device = ["TP9", "AF7", "AF8", "TP10"]  # a Muse headband: none of DEAP's 32 but AF7/AF8 are not in it either
    with pytest.raises(ValueError, match="lacks electrodes"):
        ChannelMap.build(device)
    partial = ChannelMap.build(["Fz", "Cz", "Pz", "Fp1"], fill="mean")
    assert len(partial.missing) == 28
    tokens = np.arange(4 * 5, dtype=float).reshape(4, 5) + 1
    mapped = partial.apply(tokens)
    assert mapped.shape == (32, 5)
    np.testing.assert_array_equal(mapped[DEAP_32.index("Cz")], tokens[1])
    assert np.count_nonzero(mapped.any(axis=1)) == 4


def test_feature_csv_layout(tmp_path, rng):
    values = rng.normal(5, 1, (6, 160))
    rows = [[1 + i // 3, i, i % 2, (i + 1) % 2, *values[i]] for i in range(6)]
    write_csv(tmp_path / "f.csv", rows)
    table = read_feature_csv(tmp_path / "f.csv")
    assert table.tokens.shape == (6, 32, 5)
    # band-major columns: theta_e01..theta_e32, slow_alpha_e01, ...
    assert table.tokens[2, 0, 0] == pytest.approx(values[2, 0])  # theta_e01
    assert table.tokens[2, 4, 1] == pytest.approx(values[2, 32 + 4])  # slow_alpha_e05
    assert table.tokens[2, 31, 4] == pytest.approx(values[2, 159])  # gamma_e32
    np.testing.assert_array_equal(table.labels[:, 0], [0, 1, 0, 1, 0, 1])


def test_feature_csv_errors(tmp_path):
    write_csv(tmp_path / "short.csv", [[1, 1, 0, 1]], ["subject", "video", "valence_high", "arousal_high"])
    with pytest.raises(ValueError, match="lacks columns"):
        read_feature_csv(tmp_path / "short.csv")
    row = [1, 1, 0, 1] + ["x"] * 160
    write_csv(tmp_path / "text.csv", [row])
    with pytest.raises(ValueError, match="non-numeric"):
        read_feature_csv(tmp_path / "text.csv")


def test_standardisation_uses_each_subjects_own_rows(rng):
    tokens = rng.normal(0, 1, (40, 32, 5))
    subjects = np.repeat([1, 2], 20)
    tokens[subjects == 2] = tokens[subjects == 2] * 3 + 10
    z = standardize_per_subject(tokens, subjects)
    for s in (1, 2):
        np.testing.assert_allclose(z[subjects == s].mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(z[subjects == s].std(0), 1, atol=1e-4)
    # Another subject's rows change nothing for this one.
    alone = standardize_per_subject(tokens[subjects == 1], subjects[subjects == 1])
    np.testing.assert_allclose(alone, z[subjects == 1], atol=1e-6)


def test_reference_to_electrode_mean_against_float64_loops(rng):
    tokens = rng.normal(0, 2, (7, 13, 3)).astype(np.float32)  # odd sizes
    present = rng.random((7, 13)) > 0.3
    present[:, 0] = True
    out = reference_to_electrode_mean(tokens, present)
    full = reference_to_electrode_mean(tokens)
    for n in range(7):
        for b in range(3):
            column = tokens[n, :, b].astype(np.float64)
            ref = column[present[n]].mean()
            np.testing.assert_allclose(out[n, present[n], b], column[present[n]] - ref, atol=1e-5)
            np.testing.assert_allclose(out[n, ~present[n], b], 0.0)  # missing: "no information"
            np.testing.assert_allclose(full[n, :, b], column - column.mean(), atol=1e-5)
    # A window's overall power (a per-band offset on every electrode: gain, impedance) is divided out.
    shifted = tokens + rng.normal(0, 5, (7, 1, 3)).astype(np.float32)
    np.testing.assert_allclose(reference_to_electrode_mean(shifted, present), out, atol=1e-4)
    assert np.all(reference_to_electrode_mean(tokens, np.zeros((7, 13), bool)) == 0.0)  # nothing present


def test_prepare_tokens_references_then_standardises_per_subject(rng):
    tokens = rng.normal(0, 1, (30, 32, 5)) + rng.normal(0, 3, (30, 1, 5))
    subjects = np.repeat([4, 9, 11], 10)
    x = prepare_tokens(tokens, subjects)
    np.testing.assert_allclose(x, standardize_per_subject(reference_to_electrode_mean(tokens), subjects), atol=1e-6)
    present = np.ones((30, 32), bool)
    present[subjects == 9, 5:20] = False  # a 17-channel headset for one subject
    tokens[~present] = 0.0  # as ChannelMap fills them
    x = prepare_tokens(tokens, subjects, present)
    assert np.all(x[~present] == 0.0)
    np.testing.assert_allclose(x[subjects == 9][:, :5].mean(0), 0.0, atol=1e-5)


def test_binary_heads_metrics_by_hand():
    labels = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    scores = np.array([[0.9, 0.2], [0.4, 0.8], [0.3, 0.1], [0.6, 0.3]])
    m = binary_heads_metrics(labels, scores, HEADS, threshold=0.5)
    assert m["n"] == 4
    assert m["valence_accuracy"] == 0.5 and m["valence_balanced_accuracy"] == 0.5
    assert m["arousal_accuracy"] == 0.75 and m["arousal_balanced_accuracy"] == 0.75


def test_rbtransformer_shapes_and_published_size():
    torch = pytest.importorskip("torch")
    from edgeaffect.eeg.model import build_student, build_teacher, parameter_count

    teacher, student = build_teacher(), build_student()
    assert 0.5e6 < parameter_count(teacher) < 0.7e6  # d 128, 4 blocks, 6 heads of 32, ff 128
    assert parameter_count(student) < parameter_count(teacher) / 5
    x = torch.randn(7, 32, 5, generator=torch.Generator().manual_seed(0))
    assert teacher.eval()(x).shape == (7, 2) and student.eval()(x).shape == (7, 2)


@pytest.mark.data
def test_real_deap_features():
    table = read_feature_csv(data_path("eeg", "features", "deap", "deap_band_features.csv"))
    assert table.tokens.shape == (988, 32, 5) and len(np.unique(table.subjects)) == 26
    assert 1.0 < table.tokens.min() and table.tokens.max() < 12.0
    mahnob = read_feature_csv(data_path("eeg", "features", "mahnob", "mahnob_band_features.csv"))
    assert mahnob.tokens.shape == (533, 32, 5) and mahnob.categories is not None
    assert BANDS == ("theta", "slow_alpha", "alpha", "beta", "gamma")


def test_eeg_model_exports_and_evaluates_in_the_csv_format(tmp_path, rng):
    """The chain the independent evaluation uses: a band-feature CSV ->
    `edgeaffect eval` metrics, through an exported (ONNX) RBTransformer."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from safetensors.torch import save_file

    from edgeaffect.eeg.train import TrainConfig, fit
    from edgeaffect.eeg.model import STUDENT
    from edgeaffect.evaluation.run import evaluate
    from edgeaffect.export.pipeline import export_model
    from edgeaffect.models import InputSpec, ModelCard, Preprocessing, register_model, unregister_model

    n = 90
    labels = rng.integers(0, 2, (n, 2))
    values = rng.normal(5, 1, (n, 160)) + 0.8 * labels[:, :1]  # valence shifts every feature
    rows = [[1 + i % 3, i, *labels[i], *values[i]] for i in range(n)]
    write_csv(tmp_path / "eeg.csv", rows)
    table = read_feature_csv(tmp_path / "eeg.csv")
    x = prepare_tokens(table.tokens, table.subjects, table.present)
    model, _ = fit(STUDENT, x, table.labels, TrainConfig(epochs=3), seed=0)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    card = ModelCard(name="eeg-test", version="0", task="binary-heads", labels=HEADS,
                     inputs=(InputSpec("tokens", ("batch", 32, 5)),), preprocessing=Preprocessing("identity"),
                     eval_format="eeg-features-csv", builder="edgeaffect.eeg.model:build_student",
                     artifacts=(("torch-fp32", str(tmp_path / "w.safetensors")),), architecture=(("heads", 4),))
    register_model(card, replace=True)
    try:
        report = export_model("eeg-test", "onnxruntime-cpu-fp32", val=tmp_path / "eeg.csv", out=tmp_path / "out",
                              progress=False)
        assert report["steps"][0]["validation"]["passed"]
        onnx_path = report["artifacts"]["onnx-fp32"]
        metrics = evaluate(onnx_path, tmp_path / "eeg.csv", backend="onnxruntime")
        for key in ("n", "valence_accuracy", "valence_balanced_accuracy", "valence_macro_f1", "arousal_accuracy",
                    "arousal_balanced_accuracy", "arousal_macro_f1"):
            assert key in metrics
        assert metrics["n"] == n and metrics["precision"] == "fp32"
        import edgeaffect

        with edgeaffect.load(onnx_path, backend="onnxruntime") as predictor:
            result = predictor.predict(x[:4])
        assert result.heads == HEADS and result.probabilities.shape == (4, 2)
        assert set(result[0]) == set(HEADS)
        if _has("openvino"):
            with edgeaffect.load(onnx_path, backend="openvino") as ov:
                np.testing.assert_allclose(ov.predict(x[:4]).probabilities, result.probabilities, atol=1e-5)
        # The native engine, through the registry, at parity with ONNX Runtime.
        with edgeaffect.load("eeg-test", backend="native") as native:
            assert native.precision == "fp32" and native.backend.metadata["heads"] == 4
            np.testing.assert_allclose(native.predict(x[:4]).probabilities, result.probabilities, atol=1e-5)
        native_metrics = evaluate("eeg-test", tmp_path / "eeg.csv", backend="native")
        with edgeaffect.load(onnx_path, backend="onnxruntime") as predictor:
            probs = predictor.predict(x).probabilities
        # Decisions can only differ for probabilities within rounding of the 0.5 threshold.
        near = int((np.abs(probs - 0.5) < 1e-5).sum())
        for key in ("valence_accuracy", "arousal_balanced_accuracy"):
            assert abs(native_metrics[key] - metrics[key]) <= 2 * near / n + 1e-12
    finally:
        unregister_model("eeg-test")
