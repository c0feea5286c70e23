"""Live EEG sources for EEGEmotionStream: BrainFlow boards and LSL streams.

Each source has `fs`, `channels` (10-20 names where the device gives them)
and `chunks()` yielding (timestamps in seconds (n,), samples in microvolts
(channels, n)). A source that loses its device reconnects with exponential
back-off (`Backoff`); the jump in timestamps after a reconnect is a gap to
EEGEmotionStream, which restarts its filters, so no window spans the
outage. When every retry fails, `chunks()` raises SourceLostError with the
reason, and the stream stops with it in `stats.stopped_because`.

Example:
    >>> from edgeaffect.eeg.sources import BrainFlowSource, LSLSource
    >>> source = BrainFlowSource("synthetic")                  # doctest: +SKIP
    >>> source = LSLSource("Muse", resolve_timeout=10)          # doctest: +SKIP
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import numpy as np

from ..errors import EdgeAffectError


class SourceLostError(EdgeAffectError, RuntimeError):
    """A live source stayed unreachable after every reconnection attempt."""


@dataclass(frozen=True)
class Backoff:
    """Reconnection policy: waits initial, initial * factor, ... (at most
    `maximum` seconds each), `retries` times, then gives up."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 8.0
    retries: int = 5

    def delays(self) -> Iterator[float]:
        delay = self.initial
        for _ in range(self.retries):
            yield delay
            delay = min(self.maximum, delay * self.factor)


def _reconnect(connect: Callable[[], None], policy: Backoff, what: str, reason: Exception,
               sleep: Callable[[float], None] = time.sleep) -> int:
    """Calls connect() after each back-off delay until it succeeds; returns the attempts used."""
    last = reason
    for attempt, delay in enumerate(policy.delays(), start=1):
        sleep(delay)
        try:
            connect()
            return attempt
        except Exception as exc:  # the device's own error types vary; each attempt's reason is kept
            last = exc
    raise SourceLostError(f"{what} was lost and {policy.retries} reconnection attempts failed (last error: {last}); "
                          "check the device's power, cable or Bluetooth link, then restart the stream")


def _import_brainflow():
    try:
        with warnings.catch_warnings():
            # brainflow finds its native library through pkg_resources, which
            # warns on recent setuptools; the library loads on first use
            warnings.simplefilter("ignore")
            from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams

            BoardShim.get_sampling_rate(BoardIds.SYNTHETIC_BOARD.value)
    except ImportError as exc:
        raise ImportError("BrainFlow sources need brainflow: pip install 'edgeaffect[brainflow]'") from exc
    return BoardShim, BrainFlowInputParams, BoardIds


class BrainFlowSource:
    """A BrainFlow board: "synthetic" (BrainFlow's simulated 16-channel board),
    a board name from brainflow.BoardIds (e.g. "CYTON_BOARD", "MUSE_S_BOARD")
    or its integer id, with connection parameters (serial_port, mac_address,
    ip_address, ...).

    Timestamps: BrainFlow stamps samples with the host clock on arrival,
    which jitters by more than a sample period (measured on the synthetic
    board at 250 Hz: gaps of 0 to 7.8 ms between 4 ms samples). So a
    sample's time is the connection's first host timestamp plus its sample
    count / fs, and the board's package counter (where it has one) adds the
    samples that were lost, which the stream then sees as a gap.

    Example:
        >>> source = BrainFlowSource("CYTON_BOARD", serial_port="/dev/ttyUSB0")   # doctest: +SKIP
    """

    def __init__(self, board: str | int = "synthetic", chunk_s: float = 0.1, stall_s: float = 3.0,
                 backoff: Backoff = Backoff(), package_modulus: int = 256, **params):
        BoardShim, BrainFlowInputParams, BoardIds = _import_brainflow()
        if board == "synthetic":
            board = "SYNTHETIC_BOARD"
        if isinstance(board, str):
            try:
                board = BoardIds[board.upper()].value
            except KeyError:
                raise ValueError(f"unknown BrainFlow board {board!r}; use 'synthetic', a name from "
                                 "brainflow.BoardIds (e.g. CYTON_BOARD) or its integer id") from None
        self.board_id = int(board)
        self._params = BrainFlowInputParams()
        for key, value in params.items():
            if not hasattr(self._params, key):
                raise ValueError(f"BrainFlow has no connection parameter {key!r}")
            kind = type(getattr(self._params, key))  # ints stay ints (ip_port, timeout, ...): the CLI passes strings
            try:
                setattr(self._params, key, kind(value))
            except ValueError:
                raise ValueError(f"BrainFlow parameter {key}={value!r} must be a {kind.__name__}") from None
        self.fs = float(BoardShim.get_sampling_rate(self.board_id))
        self._eeg_rows = BoardShim.get_eeg_channels(self.board_id)
        self._time_row = BoardShim.get_timestamp_channel(self.board_id)
        try:
            self._package_row = BoardShim.get_package_num_channel(self.board_id)
        except Exception:  # boards without a package counter
            self._package_row = None
        try:
            self.channels = tuple(BoardShim.get_eeg_names(self.board_id))
        except Exception:  # boards without 10-20 names in BrainFlow's descriptor
            self.channels = tuple(f"ch{i + 1}" for i in range(len(self._eeg_rows)))
        self.chunk_s, self.stall_s, self.backoff, self.package_modulus = chunk_s, stall_s, backoff, package_modulus
        self.reconnects = 0
        self._board = None
        self._shim = BoardShim

    def _connect(self) -> None:
        self._release()
        board = self._shim(self.board_id, self._params)
        board.prepare_session()
        try:
            board.start_stream()
        except Exception:
            board.release_session()  # or the port stays held and every retry fails
            raise
        self._board = board
        self._t0, self._count, self._last_package = None, 0, None

    def _release(self) -> None:
        if self._board is not None:
            try:
                self._board.stop_stream()
            except Exception:  # already stopped or the link is gone: releasing is what matters
                pass
            try:
                self._board.release_session()
            except Exception:
                pass
            self._board = None

    def _timestamps(self, data: np.ndarray) -> np.ndarray:
        n = data.shape[1]
        if self._t0 is None:
            self._t0 = float(data[self._time_row, 0])
        steps = np.ones(n, dtype=np.int64)
        if self._package_row is not None:
            packages = data[self._package_row].astype(np.int64)
            previous = np.concatenate([[packages[0] - 1 if self._last_package is None else self._last_package], packages[:-1]])
            diff = packages - previous
            m = self.package_modulus  # the counter wraps (256 on the synthetic board and Cyton)
            steps = np.where(diff > 0, diff, np.where(diff % m == 0, 1, diff % m))
            self._last_package = int(packages[-1])
        counts = self._count + np.cumsum(steps) - 1
        self._count = int(counts[-1]) + 1
        return self._t0 + counts / self.fs

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self._shim.disable_board_logger()
        self._connect()
        last_sample = time.monotonic()
        what = f"BrainFlow board {self.board_id}"
        try:
            while True:
                time.sleep(self.chunk_s)
                try:
                    data = self._board.get_board_data()
                except Exception as exc:
                    self.reconnects += _reconnect(self._connect, self.backoff, what, exc)
                    last_sample = time.monotonic()
                    continue
                if data.shape[1]:
                    last_sample = time.monotonic()
                    yield self._timestamps(data), data[self._eeg_rows].astype(np.float32)
                elif time.monotonic() - last_sample > self.stall_s:
                    # a lost device does not raise: BrainFlow's reader just stops delivering
                    stalled = TimeoutError(f"no samples for {self.stall_s} s")
                    self.reconnects += _reconnect(self._connect, self.backoff, what, stalled)
                    last_sample = time.monotonic()
        finally:
            self._release()


def _import_pylsl():
    try:
        import pylsl
    except (ImportError, RuntimeError) as exc:  # pylsl raises RuntimeError when liblsl is missing
        raise ImportError(f"LSL sources need pylsl with liblsl: pip install 'edgeaffect[lsl]' ({exc})") from exc
    return pylsl


class LSLSource:
    """The first LSL stream named `name` (or of `stream_type`, e.g. "EEG").

    Timestamps are LSL's, corrected to this machine's clock and de-jittered;
    channel names come from the stream's description (<channels><channel>
    <label>), as muse-lsl and most drivers write them. No sample for
    `stall_s` seconds counts as a lost stream: it is resolved again with
    back-off. `max_buffer_s` bounds what the inlet keeps while we are busy.
    """

    def __init__(self, name: Optional[str] = None, stream_type: Optional[str] = None, resolve_timeout: float = 5.0,
                 chunk_s: float = 0.05, stall_s: float = 2.0, max_buffer_s: int = 10, backoff: Backoff = Backoff()):
        if (name is None) == (stream_type is None):
            raise ValueError("give exactly one of name= or stream_type=")
        self._lsl = _import_pylsl()
        # LostError lives in pylsl.util in pylsl >= 1.17, at the top level before
        self._lost_errors = tuple(e for e in (getattr(self._lsl, "LostError", None),
                                              getattr(getattr(self._lsl, "util", None), "LostError", None)) if e)
        self._prop, self._value = ("name", name) if name is not None else ("type", stream_type)
        self.resolve_timeout, self.chunk_s, self.stall_s = resolve_timeout, chunk_s, stall_s
        self.max_buffer_s, self.backoff = max_buffer_s, backoff
        self.reconnects = 0
        self._inlet = None
        info = self._connect()  # the channel labels are only in the full description, which needs an inlet
        self.fs = float(info.nominal_srate())
        if self.fs <= 0:
            raise ValueError(f"LSL stream {self._value!r} has an irregular rate; band features need a fixed rate")
        self.channels = self._channel_names(info)

    def _resolve(self):
        found = self._lsl.resolve_byprop(self._prop, self._value, 1, self.resolve_timeout)
        if not found:
            raise SourceLostError(f"no LSL stream with {self._prop} {self._value!r} found within {self.resolve_timeout} s; "
                                  "is the device streaming (e.g. `muselsl stream`) on this network?")
        return found[0]

    @staticmethod
    def _channel_names(info) -> tuple[str, ...]:
        names, channel = [], info.desc().child("channels").child("channel")
        while not channel.empty() and len(names) < info.channel_count():
            names.append(channel.child_value("label"))
            channel = channel.next_sibling()
        if len(names) != info.channel_count() or not all(names):
            return tuple(f"ch{i + 1}" for i in range(info.channel_count()))
        return tuple(names)

    def _connect(self):
        if self._inlet is not None:
            self._inlet.close_stream()
        info = self._resolve()
        inlet = self._lsl.StreamInlet(info, max_buflen=self.max_buffer_s, recover=False,
                                      processing_flags=self._lsl.proc_clocksync | self._lsl.proc_dejitter)
        full = inlet.info(timeout=self.resolve_timeout)
        inlet.open_stream(timeout=self.resolve_timeout)
        self._inlet = inlet
        return full

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self._inlet is None:
            self._connect()
        last_sample = time.monotonic()
        try:
            while True:
                try:
                    samples, stamps = self._inlet.pull_chunk(timeout=self.chunk_s, max_samples=4096)
                except self._lost_errors as exc:
                    self.reconnects += _reconnect(self._connect, self.backoff, f"LSL stream {self._value!r}", exc)
                    last_sample = time.monotonic()
                    continue
                if stamps:
                    last_sample = time.monotonic()
                    yield np.asarray(stamps, dtype=np.float64), np.asarray(samples, dtype=np.float32).T
                elif time.monotonic() - last_sample > self.stall_s:
                    stalled = TimeoutError(f"no samples for {self.stall_s} s")
                    self.reconnects += _reconnect(self._connect, self.backoff, f"LSL stream {self._value!r}", stalled)
                    last_sample = time.monotonic()
        finally:
            if self._inlet is not None:
                self._inlet.close_stream()
                self._inlet = None
