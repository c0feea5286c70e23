"""EEGEmotionStream: live valence/arousal from a continuous EEG source.

source -> channel mapping -> DC offset removed -> StreamingBDE (each sample
filtered once) -> context (the mean DE of the last `context_s` seconds of
windows, like a trial-level feature) -> re-reference to the electrode mean
-> per-user calibration (the first full contexts give the mean and spread
of every token, as the training data's per-subject standardisation did;
`features.prepare_tokens`) -> model -> results through an iterator and/or
a callback.

Faults are handled, counted and reported, never fatal to the stream:
- a chunk with NaN/inf samples is dropped and the filters restart after it;
- gaps (timestamps jumping by more than 1.5 sample periods) restart the
  filters, so no window spans the gap;
- a slow consumer: results go through a bounded queue; when it is full the
  oldest result is dropped and counted (the classic LSL pitfall is
  unbounded lag);
- a source that ends or fails stops the stream with its reason in `stats`.

Example:
    >>> source = FileReplaySource("recording.csv", speed=0)           # doctest: +SKIP
    >>> with EEGEmotionStream(source, model="eeg", fill="mean") as stream:   # doctest: +SKIP
    ...     for result in stream:
    ...         print(result.t_end, result.probabilities)
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from ..features import StreamingBDE
from .electrodes import DEAP_32, ChannelMap
from .features import reference_to_electrode_mean


@dataclass(frozen=True)
class EmotionResult:
    t_start: float  # source time of the window's first sample (s)
    t_end: float
    probabilities: dict  # head -> P(high), e.g. {"valence_high": 0.71, "arousal_high": 0.33}
    latency_ms: float  # from the window's last sample arriving to this result


@dataclass
class StreamStats:
    windows: int = 0
    results: int = 0
    calibration_windows: int = 0
    dropped_results: int = 0
    bad_chunks: int = 0
    gaps: int = 0
    stopped_because: str = ""


class FileReplaySource:
    """Replays a recording (EDF/EDF+ or muse-lsl CSV) as timed chunks.

    speed=1 replays at real time (sleeping between chunks), speed=4 four
    times faster, speed=0 as fast as possible.
    """

    def __init__(self, path: str | Path, speed: float = 1.0, chunk_s: float = 0.1, repair_crlf: bool = False):
        from ..io import read_edf, read_muse_csv

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"recording {path} " + ("is a folder; give one .edf or muse-lsl .csv file"
                                                            if path.is_dir() else "does not exist"))
        if path.suffix.lower() == ".edf":
            self.recording = read_edf(path, repair_crlf=repair_crlf)
        elif path.suffix.lower() == ".csv":
            self.recording = read_muse_csv(path)
        else:
            raise ValueError(f"{path}: replay reads .edf or muse-lsl .csv files")
        if speed < 0:
            raise ValueError(f"speed={speed} must be >= 0 (0: as fast as possible)")
        self.speed, self.chunk = speed, max(1, int(round(chunk_s * self.recording.fs)))
        self.fs, self.channels = self.recording.fs, tuple(self.recording.channel_names)

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        data, n = self.recording.data, self.recording.data.shape[1]
        start = time.perf_counter()
        for s in range(0, n, self.chunk):
            e = min(n, s + self.chunk)
            if self.speed > 0:
                delay = start + e / self.fs / self.speed - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            yield np.arange(s, e) / self.fs, data[:, s:e]


class EEGEmotionStream:
    """Valence/arousal for every window of a live source.

    Args:
        source: an object with `fs`, `channels` (names) and `chunks()`
            yielding (timestamps (n,), samples (channels, n)).
        model: a registered binary-heads model name, a Predictor, or any
            object with `predict(tokens) -> result with .heads and
            .probabilities`.
        window_s, hop_s: window length and hop in seconds.
        calibration_windows: windows used to learn this user's token mean
            and spread before results are produced (full contexts: they
            must span at least `context_s`).
        context_s: the model sees the mean DE tokens of the windows that
            ended in the last `context_s` seconds (as `eeg.raw` builds a
            trial's tokens); 0 gives it each window alone. The shipped
            model learnt from trial-level features of 60 s DEAP trials.
            Measured on real 64-channel recordings (PhysioNet EEG-BCI
            S001R03-R05, 0.5 s hop, 60 calibration windows): the
            probabilities move by 0.18-0.19 per hop on average with no
            context (noise), 0.03-0.04 with 10 s (the default), about 0.02
            with 30 s; a longer context reacts more slowly. Only full
            contexts are calibrated on and scored: after the start, a gap
            or a bad chunk (which restart the filters and the context) the
            first result comes once `context_s` of windows has arrived. A
            result's t_start/t_end are its newest window's.
        bands: the model's band set (its training features: "deap").
        fill: missing-electrode policy ("error" or "mean"; see ChannelMap).
        queue_size: results kept for a slow consumer before the oldest drop.
        on_result: optional callback called with each EmotionResult.
    """

    def __init__(self, source, model="eeg", window_s: float = 1.0, hop_s: float = 0.5, calibration_windows: int = 30,
                 bands="deap", fill: str = "error", electrodes=DEAP_32, queue_size: int = 64,
                 on_result: Optional[Callable[[EmotionResult], None]] = None, backend: str = "auto",
                 context_s: float = 10.0):
        if not (window_s > 0 and hop_s > 0):
            raise ValueError(f"window_s={window_s} and hop_s={hop_s} must be > 0 (seconds)")
        if calibration_windows < 2:
            raise ValueError("calibration_windows must be >= 2 (a spread needs two windows)")
        if context_s < 0:
            raise ValueError(f"context_s={context_s} must be >= 0 (0: each window alone)")
        if calibration_windows * hop_s < context_s:
            raise ValueError(f"calibration_windows={calibration_windows} at hop_s={hop_s} spans "
                             f"{calibration_windows * hop_s:g} s, less than context_s={context_s:g} s: the spread of "
                             f"overlapping contexts would be underestimated; use calibration_windows >= "
                             f"{int(np.ceil(context_s / hop_s))}")
        if queue_size < 1:
            raise ValueError("queue_size must be >= 1")
        self.source = source
        if isinstance(model, str):
            import edgeaffect

            model = edgeaffect.load(model, backend=backend)
        task = getattr(getattr(model, "info", None), "task", "binary-heads")
        if task != "binary-heads":
            raise ValueError(f"model {model.info.model!r} is a {task} model; EEGEmotionStream needs a "
                             "binary-heads EEG model such as the shipped 'eeg'")
        self.model = model
        self.map = ChannelMap.build(source.channels, electrodes, fill=fill)
        self._present = self.map.indices >= 0
        self.window, self.hop = int(round(window_s * source.fs)), int(round(hop_s * source.fs))
        self.bde = StreamingBDE(source.fs, len(source.channels), self.window, self.hop, bands=bands, dtype=np.float32)
        self.calibration_windows = calibration_windows
        # windows in the context: those whose end lies within context_s of the newest window's end
        self._context: collections.deque = collections.deque(maxlen=1 + int(context_s * source.fs / self.hop + 1e-9))
        self._offset: Optional[np.ndarray] = None
        self._calibration: list[np.ndarray] = []
        self._mean = self._std = None
        self.stats = StreamStats()
        self._queue: collections.deque = collections.deque()
        self._queue_size = queue_size
        self._on_result = on_result
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._done = False
        self._stream_t0 = 0.0  # source time of the current filter start (after a gap or a bad chunk)
        self._last_t: Optional[float] = None

    # -- processing ---------------------------------------------------------------
    def _restart(self, t: float, first_samples: np.ndarray) -> None:
        self.bde.reset()
        self._context.clear()
        self._stream_t0 = t
        # The filters start from rest: a device's DC offset (hundreds of uV on dry electrodes) would be a step
        # whose ringing inflates the first windows' band power. Band power ignores a constant, so remove it.
        self._offset = np.asarray(first_samples, dtype=np.float32)[:, None]

    def process_chunk(self, timestamps: np.ndarray, samples: np.ndarray) -> list[EmotionResult]:
        """Feeds one chunk; returns the results it completes (also queued and sent to the callback)."""
        arrived = time.perf_counter()
        samples = np.asarray(samples)
        if samples.ndim != 2 or samples.shape[0] != len(self.source.channels) or samples.shape[1] != len(timestamps):
            self.stats.bad_chunks += 1
            return []
        if not np.isfinite(samples).all():
            self.stats.bad_chunks += 1
            self._last_t = None  # the filters restart with the next good chunk
            return []
        if len(timestamps) == 0:
            return []
        period = 1.0 / self.source.fs
        if self._last_t is None:
            self._restart(float(timestamps[0]), samples[:, 0])
        elif timestamps[0] - self._last_t > 1.5 * period:
            self.stats.gaps += 1
            self._restart(float(timestamps[0]), samples[:, 0])
        jumps = np.flatnonzero(np.diff(timestamps) > 1.5 * period)
        if jumps.size:  # a gap inside the chunk: feed up to it; the rest starts afresh
            cut = int(jumps[0]) + 1
            out = self._feed(timestamps[:cut], samples[:, :cut], arrived)
            self._last_t = float(timestamps[cut - 1])
            return out + self.process_chunk(timestamps[cut:], samples[:, cut:])
        self._last_t = float(timestamps[-1])
        return self._feed(timestamps, samples, arrived)

    def _feed(self, timestamps, samples, arrived) -> list[EmotionResult]:
        first_window = self.bde.windows_emitted
        tokens = self.bde.push(np.ascontiguousarray(samples - self._offset, dtype=np.float32))
        results = []
        for i, de in enumerate(tokens):
            self.stats.windows += 1
            self._context.append(de.copy())  # the BDE may reuse its output buffer
            if len(self._context) < self._context.maxlen:
                continue  # a partial context after a (re)start: neither calibrated on nor scored
            context = de if len(self._context) == 1 else np.mean(self._context, axis=0)
            mapped = reference_to_electrode_mean(self.map.apply(context[None])[0], self._present)
            if self._mean is None:
                self._calibration.append(mapped)
                self.stats.calibration_windows = len(self._calibration)
                if len(self._calibration) >= self.calibration_windows:
                    stack = np.stack(self._calibration)
                    self._mean, self._std = stack.mean(0), np.maximum(stack.std(0), 1e-6)
                continue
            z = ((mapped - self._mean) / self._std).astype(np.float32)
            z[~self._present] = 0.0  # "no information" for missing electrodes (a zero spread must not make noise)
            prediction = self.model.predict(z[None])
            k = first_window + i
            t_start = self._stream_t0 + k * self.hop / self.source.fs
            result = EmotionResult(t_start, t_start + self.window / self.source.fs,
                                   {h: float(p) for h, p in zip(prediction.heads, prediction.probabilities[0])},
                                   (time.perf_counter() - arrived) * 1e3)
            results.append(result)
            self._deliver(result)
        return results

    def _deliver(self, result: EmotionResult) -> None:
        self.stats.results += 1
        if self._on_result is not None:
            self._on_result(result)
        with self._cond:
            if len(self._queue) >= self._queue_size:
                self._queue.popleft()
                self.stats.dropped_results += 1
            self._queue.append(result)
            self._cond.notify_all()

    # -- running ------------------------------------------------------------------
    def start(self) -> "EEGEmotionStream":
        """Reads the source on a background thread; iterate to consume results."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="EEGEmotionStream", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for timestamps, samples in self.source.chunks():
                if self._stop.is_set():
                    self.stats.stopped_because = "stopped"
                    break
                self.process_chunk(np.asarray(timestamps, dtype=np.float64), samples)
            else:
                self.stats.stopped_because = "source ended"
        except Exception as exc:  # a failing source ends the stream with its reason
            self.stats.stopped_because = f"source failed: {exc}"
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def __iter__(self) -> Iterator[EmotionResult]:
        self.start()
        while True:
            with self._cond:
                while not self._queue and not self._done and not self._stop.is_set():
                    self._cond.wait(timeout=0.5)
                if self._queue:
                    item = self._queue.popleft()
                else:  # the source ended, or close() was called (even while the source is silent)
                    return
            yield item

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():  # a Ctrl-C inside start() can leave it unstarted
            self._thread.join(timeout=5)

    def __enter__(self) -> "EEGEmotionStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
