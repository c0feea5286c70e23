"""StreamingBDE equals what its docstring states: the DE of each window of
the continuously filtered signal, whatever the chunking."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import RTOL, max_rel_error
from edgeaffect.features import BAND_PRESETS, StreamingBDE
from edgeaffect.features.reference import streaming_reference


def push_in_chunks(stream, x, sizes):
    outs, start = [], 0
    for size in sizes:
        outs.append(stream.push(x[:, start : start + size]))
        start += size
    assert start >= x.shape[1]
    return np.concatenate(outs, axis=0)


def random_chunk_sizes(rng, total, high):
    sizes = []
    while sum(sizes) < total:
        sizes.append(int(rng.integers(0, high)))
    return sizes


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("window,hop", [(200, 50), (200, 200), (256, 100), (200, 333), (211, 1)])
def test_streaming_equals_continuous_reference(rng, dtype, window, hop):
    fs, channels = 200.0, 37
    x = (rng.standard_normal((channels, 1500)) * 20).astype(dtype)
    stream = StreamingBDE(fs, channels, window, hop, dtype=dtype)
    got = push_in_chunks(stream, x, random_chunk_sizes(rng, x.shape[1], 170))
    expected = streaming_reference(x, fs, list(BAND_PRESETS["torcheeg"]), 5, window, hop, None)
    assert got.shape == expected.shape and got.dtype == dtype
    assert max_rel_error(got, expected) <= RTOL[dtype]
    assert stream.windows_emitted == expected.shape[0]


def test_chunking_changes_nothing_but_rounding(rng):
    x = rng.standard_normal((5, 2000)) * 10
    runs = []
    for sizes in ([2000], [1] * 2000, random_chunk_sizes(rng, 2000, 300)):
        stream = StreamingBDE(fs=250, channels=5, window=250, hop=125, bands="deap", log_base=2)
        runs.append(push_in_chunks(stream, x, sizes))
    # Chunk edges regroup the partial sums of a window, nothing else.
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(runs[2], runs[0], rtol=1e-12, atol=0)


def test_stream_survives_a_bad_chunk(rng):
    x = rng.standard_normal((4, 1000))
    clean = StreamingBDE(fs=200, channels=4, window=200, hop=100)
    expected = push_in_chunks(clean, x, [300, 700])
    stream = StreamingBDE(fs=200, channels=4, window=200, hop=100)
    first = stream.push(x[:, :300])
    bad = x[:, 300:400].copy()
    bad[0, 3] = np.inf
    with pytest.raises(ValueError):
        stream.push(bad)
    rest = stream.push(x[:, 300:])
    assert np.array_equal(np.concatenate([first, rest]), expected)


def test_reset_starts_a_new_stream(rng):
    x = rng.standard_normal((2, 600))
    stream = StreamingBDE(fs=200, channels=2, window=200, hop=100)
    first = stream.push(x)
    stream.reset()
    assert stream.samples_seen == 0 and stream.windows_emitted == 0
    assert np.array_equal(stream.push(x), first)
