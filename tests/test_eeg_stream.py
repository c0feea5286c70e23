"""EEGEmotionStream: results at the expected rate with correct timestamps,
and every fault (bad chunks, gaps, slow consumers, failing sources)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import data_path
from edgeaffect.eeg.electrodes import DEAP_32
from edgeaffect.eeg.stream import EEGEmotionStream, FileReplaySource

FS = 128.0


@pytest.fixture(scope="module")
def eeg_model(tmp_path_factory):
    """A real (briefly trained) RBTransformer student, exported to ONNX."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from safetensors.torch import save_file

    import edgeaffect
    from edgeaffect.eeg.features import HEADS
    from edgeaffect.eeg.model import STUDENT
    from edgeaffect.eeg.train import TrainConfig, fit
    from edgeaffect.export.pipeline import export_model
    from edgeaffect.models import InputSpec, ModelCard, Preprocessing, register_model

    root = tmp_path_factory.mktemp("eeg_stream")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 32, 5)).astype(np.float32), rng.integers(0, 2, (64, 2))
    model, _ = fit(STUDENT, x, y, TrainConfig(epochs=1), seed=0)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(root / "w.safetensors"))
    register_model(ModelCard(name="eeg-stream-test", version="0", task="binary-heads", labels=HEADS,
                             inputs=(InputSpec("tokens", ("batch", 32, 5)),), preprocessing=Preprocessing("identity"),
                             eval_format="eeg-features-csv", builder="edgeaffect.eeg.model:build_student",
                             artifacts=(("torch-fp32", str(root / "w.safetensors")),)), replace=True)
    onnx_path = export_model("eeg-stream-test", "onnxruntime-cpu-fp32", out=root, progress=False)["artifacts"]["onnx-fp32"]
    predictor = edgeaffect.load(onnx_path, backend="onnxruntime", threads=1)
    predictor.artifact_path = onnx_path
    return predictor


class ArraySource:
    """A source over an array, chunked, with optional faults injected."""

    def __init__(self, data, chunk=13, timestamps=None, nan_chunk=None, fail_after=None, channels=DEAP_32):
        self.fs, self.channels, self.data, self.chunk = FS, tuple(channels), data, chunk
        self.timestamps = np.arange(data.shape[1]) / FS if timestamps is None else timestamps
        self.nan_chunk, self.fail_after = nan_chunk, fail_after

    def chunks(self):
        for i, s in enumerate(range(0, self.data.shape[1], self.chunk)):
            if self.fail_after is not None and i == self.fail_after:
                raise ConnectionError("headset disconnected")
            block = self.data[:, s : s + self.chunk].copy()
            if i == self.nan_chunk:
                block[3, 2] = np.nan
            yield self.timestamps[s : s + self.chunk], block


def signal(seconds, rng):
    return (rng.standard_normal((32, int(seconds * FS))) * 10).astype(np.float32)


@pytest.mark.parametrize("context_s", [0.0, 2.0, 10.0])
def test_results_rate_and_timestamps(eeg_model, rng, context_s):
    seconds, calibration = 30, 20
    stream = EEGEmotionStream(ArraySource(signal(seconds, rng)), model=eeg_model, calibration_windows=calibration,
                              context_s=context_s)
    results = list(stream)
    windows = int((seconds * FS - FS) // (FS / 2)) + 1  # 1 s windows, 0.5 s hop
    filling = int(context_s / 0.5)  # windows before the first full context
    assert stream.stats.windows == windows and len(results) == windows - filling - calibration
    assert stream.stats.stopped_because == "source ended"
    for k, r in enumerate(results, start=filling + calibration):
        assert r.t_start == pytest.approx(k * 0.5) and r.t_end == pytest.approx(k * 0.5 + 1.0)
        assert set(r.probabilities) == {"valence_high", "arousal_high"}
        assert all(0.0 <= p <= 1.0 for p in r.probabilities.values()) and r.latency_ms >= 0


def test_bad_chunk_is_dropped_and_counted(eeg_model, rng):
    stream = EEGEmotionStream(ArraySource(signal(12, rng), nan_chunk=40), model=eeg_model, context_s=0, calibration_windows=3)
    results = list(stream)
    assert stream.stats.bad_chunks == 1 and results
    assert all(np.isfinite(list(r.probabilities.values())).all() for r in results)


def test_gap_restarts_windows(eeg_model, rng):
    data = signal(10, rng)
    timestamps = np.arange(data.shape[1]) / FS
    timestamps[600:] += 3.0  # 3 s of samples never arrived
    stream = EEGEmotionStream(ArraySource(data, timestamps=timestamps), model=eeg_model, context_s=0, calibration_windows=2)
    results = list(stream)
    assert stream.stats.gaps == 1
    gap_start, gap_end = timestamps[599], timestamps[600]
    assert not any(r.t_start < gap_end and r.t_end > gap_start + 1 / FS for r in results)  # no window spans the gap
    assert any(r.t_start >= gap_end for r in results)


def test_slow_consumer_drops_oldest(eeg_model, rng):
    stream = EEGEmotionStream(ArraySource(signal(15, rng)), model=eeg_model, context_s=0,
                              calibration_windows=2, queue_size=4)
    stream.start()
    stream._thread.join(timeout=30)  # consume nothing until the source has ended
    results = list(stream)
    assert len(results) == 4 and stream.stats.dropped_results == stream.stats.results - 4
    assert results[-1].t_end == pytest.approx(15.0)  # the newest are kept


def test_failing_source_and_callback(eeg_model, rng):
    seen = []
    stream = EEGEmotionStream(ArraySource(signal(20, rng), fail_after=60), model=eeg_model, context_s=0, calibration_windows=2,
                              on_result=seen.append)
    results = list(stream)
    assert "headset disconnected" in stream.stats.stopped_because
    assert results == seen and len(results) > 0


def test_missing_electrodes_need_an_explicit_choice(eeg_model, rng):
    muse = ArraySource(rng.standard_normal((4, 2000)).astype(np.float32), channels=("TP9", "AF7", "AF8", "TP10"))
    with pytest.raises(ValueError, match="lacks electrodes"):
        EEGEmotionStream(muse, model=eeg_model)


class RecordingModel:
    """The real model, keeping every token batch the stream gives it."""

    def __init__(self, model):
        self.model, self.tokens = model, []

    def predict(self, tokens):
        self.tokens.append(np.array(tokens[0], dtype=np.float64))
        return self.model.predict(tokens)


def offline_model_input(segments, channels, context_s, calibration, hop_s=0.5):
    """The stream's model input recomputed in float64: per segment between gaps, fresh filters (after removing
    the segment's first sample, the DC offset) and a fresh context (the mean DE of its windows; full ones only),
    then features.prepare_tokens's two steps with the calibration windows as the subject's rows.
    Returns (input, spread of the calibration tokens)."""
    from edgeaffect.eeg.electrodes import ChannelMap
    from edgeaffect.eeg.features import reference_to_electrode_mean
    from edgeaffect.features import StreamingBDE

    span = 1 + int(context_s / hop_s)  # windows in the context
    contexts = []
    for segment in segments:
        bde = StreamingBDE(FS, len(channels), int(FS), int(FS * hop_s), bands="deap", dtype=np.float64)
        windows = bde.push(segment.astype(np.float64) - segment[:, :1])  # the stream removes the DC offset
        full = range(span - 1, len(windows))  # full contexts only
        contexts += [windows[i - span + 1: i + 1].mean(0) for i in full]
    mapping = ChannelMap.build(channels, DEAP_32, fill="mean")
    referenced = reference_to_electrode_mean(mapping.apply(np.stack(contexts)), mapping.indices >= 0)
    mean, std = referenced[:calibration].mean(0), np.maximum(referenced[:calibration].std(0), 1e-6)
    return np.where(mapping.indices[:, None] >= 0, (referenced[calibration:] - mean) / std, 0.0), std


def assert_same_input(got, expected, std):
    """Equal up to the stream's float32 filters: 1e-4 in DE units (values 1-10), before the z-score divides by
    a spread that a few context-averaged windows can make small."""
    assert got.shape == expected.shape
    np.testing.assert_allclose((got - expected) * std, 0.0, atol=1e-4)


@pytest.mark.parametrize("context_s", [0.0, 2.0])
def test_stream_tokens_are_referenced_then_standardised_like_training(eeg_model, rng, context_s):
    """The stream's model input equals the offline pipeline, with a device lacking 9 of the 32 electrodes."""
    channels = DEAP_32[:23]
    data = signal(9, rng)[:23] * rng.uniform(0.5, 3.0, (23, 1)).astype(np.float32)
    recorder = RecordingModel(eeg_model)
    stream = EEGEmotionStream(ArraySource(data, channels=channels), model=recorder, fill="mean",
                              calibration_windows=6, context_s=context_s)
    list(stream)
    expected, std = offline_model_input([data], channels, context_s, calibration=6)
    got = np.stack(recorder.tokens)
    assert got.shape == (stream.stats.windows - int(context_s / 0.5) - 6, 32, 5)  # full contexts, calibrated
    assert_same_input(got, expected, std)
    assert np.all(got[:, 23:] == 0.0)


def test_context_restarts_at_a_gap(eeg_model, rng):
    data = signal(24, rng)
    timestamps = np.arange(data.shape[1]) / FS
    timestamps[1400:] += 2.0  # 2 s of samples never arrived
    recorder = RecordingModel(eeg_model)
    stream = EEGEmotionStream(ArraySource(data, timestamps=timestamps), model=recorder, calibration_windows=6,
                              context_s=3.0)
    results = list(stream)
    assert stream.stats.gaps == 1
    expected, std = offline_model_input([data[:, :1400], data[:, 1400:]], DEAP_32, 3.0, calibration=6)
    assert_same_input(np.stack(recorder.tokens), expected, std)
    after = [r for r in results if r.t_start >= timestamps[1400]]
    assert after[0].t_start == pytest.approx(timestamps[1400] + 3.0)  # a full context again first


def test_dc_offset_does_not_change_the_model_input(eeg_model, rng):
    """A dry-electrode headset's offset of thousands of uV, removed before the filters start from rest."""
    data = signal(12, rng)
    inputs = []
    for offset in (0.0, 2000.0):
        recorder = RecordingModel(eeg_model)
        list(EEGEmotionStream(ArraySource(data + offset + rng.normal(0, 300, (32, 1)).astype(np.float32)),
                              model=recorder, calibration_windows=6, context_s=2.0))
        inputs.append(np.stack(recorder.tokens))
    # compared in DE units, as assert_same_input: z-scores divide by a calibration spread that can be small
    # (in z units the gap reached a third of a flat 0.05 over 1500 seeds); 1e-3, as the float32 filters carry the
    # offset's rounding
    _, std = offline_model_input([data], DEAP_32, 2.0, calibration=6)
    assert inputs[1].shape == inputs[0].shape
    np.testing.assert_allclose((inputs[1] - inputs[0]) * std, 0.0, atol=1e-3)
    with pytest.raises(ValueError, match="context_s"):
        EEGEmotionStream(ArraySource(data), model=eeg_model, context_s=-1)
    with pytest.raises(ValueError, match="calibration_windows >= 60"):  # 30 s of calibration for a 30 s context
        EEGEmotionStream(ArraySource(data), model=eeg_model, context_s=30, calibration_windows=30)


@pytest.mark.data
def test_replay_of_a_real_recording(eeg_model):
    source = FileReplaySource(data_path("eeg", "raw", "muse_mental_state", "subjecta-relaxed-1.csv"), speed=0)
    stream = EEGEmotionStream(source, model=eeg_model, fill="mean", context_s=0, calibration_windows=10)
    results = list(stream)
    duration = source.recording.data.shape[1] / source.fs
    assert len(results) == stream.stats.windows - 10 and abs(results[-1].t_end - duration) < 1.0


def test_file_replay_runs_at_the_requested_speed(eeg_model, tmp_path, rng):
    import time

    fs, seconds = 256.0, 4.0
    n = int(fs * seconds)
    rows = np.column_stack([1_500_000_000 + np.arange(n) / fs, rng.standard_normal((n, 5)) * 10])
    path = tmp_path / "muse.csv"
    np.savetxt(path, rows, delimiter=",", header="timestamps,TP9,AF7,AF8,TP10,Right AUX", comments="", fmt="%.6f")
    source = FileReplaySource(path, speed=4.0, chunk_s=0.05)
    assert source.fs == pytest.approx(fs, rel=1e-3)
    stream = EEGEmotionStream(source, model=eeg_model, fill="mean", context_s=0, calibration_windows=2)
    started = time.perf_counter()
    results = list(stream)
    elapsed = time.perf_counter() - started
    assert len(results) == int((n - fs) // (fs / 2)) + 1 - 2
    assert 0.9 * seconds / 4 <= elapsed  # not faster than 4x real time (no upper bound: shared machines are slow)


def test_eeg_command_prints_json_lines(eeg_model, tmp_path, rng):
    import json
    import subprocess
    import sys

    from conftest import OUTSIDE_SOURCE

    fs, n = 256.0, 256 * 6
    rows = np.column_stack([np.arange(n) / fs, rng.standard_normal((n, 5)) * 10])
    path = tmp_path / "muse.csv"
    np.savetxt(path, rows, delimiter=",", header="timestamps,TP9,AF7,AF8,TP10,Right AUX", comments="", fmt="%.6f")
    cmd = [sys.executable, "-m", "edgeaffect", "eeg", "--file", str(path), "--model", eeg_model.artifact_path,
           "--context", "2", "--speed", "0", "--fill", "mean", "--calibration", "4", "--backend", "onnxruntime"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=OUTSIDE_SOURCE)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == int((n - fs) // (fs / 2)) + 1 - 4 - 4  # windows, less the 2 s context's filling and calibration
    assert set(lines[0]) == {"t_start", "t_end", "probabilities", "latency_ms"}
    assert json.loads(result.stderr.strip().splitlines()[-1])["stats"]["stopped_because"] == "source ended"
    missing = subprocess.run(cmd[:-6] + ["--backend", "onnxruntime"], capture_output=True, text=True, cwd=OUTSIDE_SOURCE)
    assert missing.returncode == 2 and "lacks electrodes" in missing.stderr
    short = tmp_path / "short.csv"  # 3 s: ends before the 2 s context and 4 calibration windows are filled
    np.savetxt(short, rows[: 3 * int(fs)], delimiter=",", header="timestamps,TP9,AF7,AF8,TP10,Right AUX", comments="",
               fmt="%.6f")
    ended = subprocess.run([*cmd[:5], str(short), *cmd[6:]], capture_output=True, text=True, cwd=OUTSIDE_SOURCE)
    assert ended.returncode == 1 and ended.stdout == "" and "lower --calibration or --context" in ended.stderr


def test_eeg_command_stops_cleanly_on_ctrl_c(eeg_model, tmp_path, rng):
    import json
    import signal
    import subprocess
    import sys

    from conftest import OUTSIDE_SOURCE

    fs, n = 256.0, 256 * 120  # two minutes at real time: still running when interrupted
    rows = np.column_stack([np.arange(n) / fs, rng.standard_normal((n, 5)) * 10])
    path = tmp_path / "muse.csv"
    np.savetxt(path, rows, delimiter=",", header="timestamps,TP9,AF7,AF8,TP10,Right AUX", comments="", fmt="%.6f")
    cmd = [sys.executable, "-m", "edgeaffect", "eeg", "--file", str(path), "--model", eeg_model.artifact_path,
           "--fill", "mean", "--backend", "onnxruntime"]
    # a test run started in the background (`pytest &`) ignores SIGINT, and its children would inherit that
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=OUTSIDE_SOURCE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        before = []  # stderr lines until the stream is replaying (a library may warn first)
        while not before or "calibrating" not in before[-1]:
            line = process.stderr.readline()
            assert line, f"the command ended before replaying: {before}"
            before.append(line)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert json.loads(err.strip().splitlines()[-1])["stats"]["stopped_because"] == "interrupted (Ctrl-C)"
