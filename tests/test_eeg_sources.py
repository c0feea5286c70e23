"""Live EEG sources: back-off, BrainFlow's synthetic board and an LSL outlet
on loopback, each through EEGEmotionStream; a lost source ends with a
clear error."""

from __future__ import annotations

import threading
import time
import uuid

import numpy as np
import pytest

from edgeaffect.eeg.electrodes import DEAP_32
from edgeaffect.eeg.sources import Backoff, SourceLostError, _reconnect
from edgeaffect.eeg.stream import EEGEmotionStream
from test_eeg_stream import eeg_model  # noqa: F401 (the module's fixture)


def test_backoff_delays_grow_to_the_cap():
    assert list(Backoff(initial=0.5, factor=2, maximum=3, retries=5).delays()) == [0.5, 1, 2, 3, 3]


def test_reconnect_retries_then_gives_up():
    sleeps, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OSError("no device")

    assert _reconnect(flaky, Backoff(retries=4), "board", OSError("lost"), sleep=sleeps.append) == 3
    assert sleeps == [0.5, 1.0, 2.0]

    def dead():
        raise OSError("still no device")

    with pytest.raises(SourceLostError, match="2 reconnection attempts failed.*still no device"):
        _reconnect(dead, Backoff(retries=2), "board", OSError("lost"), sleep=lambda s: None)


def collect(stream, n, timeout):
    """Up to n results; a watchdog closes the stream after `timeout` s so a silent source fails the test, not hangs it."""
    results, watchdog = [], threading.Timer(timeout, stream.close)
    watchdog.start()
    try:
        for result in stream:
            results.append(result)
            if len(results) >= n:
                break
    finally:
        watchdog.cancel()
    return results


@pytest.mark.slow
def test_brainflow_synthetic_board_through_the_stream(eeg_model):  # noqa: F811
    pytest.importorskip("brainflow", reason="pip install 'edgeaffect[brainflow]'")
    from edgeaffect.eeg.sources import BrainFlowSource

    source = BrainFlowSource("synthetic", chunk_s=0.05)
    assert source.fs == 250 and "Cz" in source.channels
    with EEGEmotionStream(source, model=eeg_model, window_s=0.5, hop_s=0.25, calibration_windows=2, context_s=0, fill="mean") as stream:
        results = collect(stream, 3, timeout=20)
    assert len(results) == 3, stream.stats
    assert all(abs(r.t_end - r.t_start - 0.5) < 1e-9 for r in results)
    assert np.allclose(np.diff([r.t_start for r in results]), round(0.25 * 250) / 250)  # sample-count time: no spurious gaps
    assert stream.stats.gaps == 0 and set(results[0].probabilities) == {"valence_high", "arousal_high"}


def test_brainflow_rejects_unknown_boards():
    pytest.importorskip("brainflow", reason="pip install 'edgeaffect[brainflow]'")
    from edgeaffect.eeg.sources import BrainFlowSource

    with pytest.raises(ValueError, match="unknown BrainFlow board"):
        BrainFlowSource("NOT_A_BOARD")
    with pytest.raises(ValueError, match="no connection parameter"):
        BrainFlowSource("synthetic", serial_prot="/dev/ttyUSB0")


@pytest.mark.slow
def test_lsl_outlet_on_loopback_then_lost(eeg_model):  # noqa: F811
    pylsl = pytest.importorskip("pylsl", reason="pip install 'edgeaffect[lsl]'")
    from edgeaffect.eeg.sources import LSLSource

    name = f"edgeaffect-test-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "EEG", len(DEAP_32), 128, pylsl.cf_float32, name)
    channels = info.desc().append_child("channels")
    for label in DEAP_32:
        channels.append_child("channel").append_child_value("label", label)
    outlet = pylsl.StreamOutlet(info, chunk_size=16)
    stop = threading.Event()

    def push():
        rng = np.random.default_rng(0)
        while not stop.is_set():
            outlet.push_chunk((rng.standard_normal((16, len(DEAP_32))) * 10).astype(np.float32).tolist())
            time.sleep(16 / 128)

    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    try:
        source = LSLSource(name, resolve_timeout=5, stall_s=0.6, backoff=Backoff(initial=0.1, retries=2))
        assert source.fs == 128 and source.channels == tuple(DEAP_32)
        stream = EEGEmotionStream(source, model=eeg_model, window_s=0.5, hop_s=0.25, calibration_windows=2, context_s=0)
        results = collect(stream, 3, timeout=30)
        assert len(results) == 3, stream.stats
    finally:
        stop.set()
        pusher.join()
    outlet = None  # the device goes away (the outlet is destroyed): the source stalls, retries, and gives up
    stream._thread.join(timeout=30)
    assert "was lost and 2 reconnection attempts failed" in stream.stats.stopped_because
    stream.close()


@pytest.mark.slow
def test_eeg_command_with_the_synthetic_board(eeg_model):  # noqa: F811
    import json
    import subprocess
    import sys

    from conftest import OUTSIDE_SOURCE

    pytest.importorskip("brainflow", reason="pip install 'edgeaffect[brainflow]'")
    out = subprocess.run([sys.executable, "-m", "edgeaffect", "eeg", "--brainflow", "synthetic", "--model",
                          str(eeg_model.artifact_path), "--window", "0.5", "--hop", "0.25", "--calibration", "2", "--context", "0",
                          "--fill", "mean", "--max-results", "2"],
                         capture_output=True, text=True, cwd=OUTSIDE_SOURCE, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == 2 and set(lines[0]["probabilities"]) == {"valence_high", "arousal_high"}
    assert "--max-results 2 reached" in out.stderr
    both = subprocess.run([sys.executable, "-m", "edgeaffect", "eeg", "--brainflow", "synthetic", "--lsl", "x",
                           "--model", str(eeg_model.artifact_path)], capture_output=True, text=True, cwd=OUTSIDE_SOURCE)
    assert both.returncode == 2 and "exactly one source" in both.stderr
