"""BDE on real recordings from ../shared/data/eeg/raw (skips when absent)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import RTOL, data_path, max_rel_error
from edgeaffect.errors import InputWarning
from edgeaffect.features import BAND_PRESETS, StreamingBDE, band_differential_entropy
from edgeaffect.features.reference import band_differential_entropy_reference, streaming_reference
from edgeaffect.io import read_edf, read_muse_csv

pytestmark = pytest.mark.data


def windows_of(data, window, hop):
    n = (data.shape[1] - window) // hop + 1
    return np.stack([data[:, k * hop : k * hop + window] for k in range(n)])


def test_edf_copied_as_text_is_detected():
    path = data_path("eeg", "raw", "eegbci_s001", "S001R01.edf")
    with pytest.raises(ValueError, match="outside the header's digital range.*repair_crlf=True"):
        read_edf(path)


@pytest.mark.parametrize("name", ["S001R01.edf", "S001R04.edf"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bde_on_physionet_edf(name, dtype):
    path = data_path("eeg", "raw", "eegbci_s001", name)
    if name == "S001R01.edf":  # its text-mode copy lost the last record: the repair reads the rest, and says so
        with pytest.warns(InputWarning, match="60 of the header's 61 data records are complete"):
            rec = read_edf(path, repair_crlf=True)
    else:
        rec = read_edf(path, repair_crlf=True)
    assert rec.fs == 160.0 and rec.data.shape[0] == 64
    assert np.abs(rec.data).max() < 2000  # microvolts: the repair restored a plausible scale
    x = windows_of(rec.data, 160, 80).astype(dtype)
    out = band_differential_entropy(x, rec.fs)
    ref = band_differential_entropy_reference(x.astype(np.float64), rec.fs, list(BAND_PRESETS["torcheeg"]), 5, None)
    assert max_rel_error(out, ref) <= RTOL[dtype]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bde_on_muse_csv(dtype):
    rec = read_muse_csv(data_path("eeg", "raw", "muse_mental_state", "subjecta-relaxed-1.csv"))
    assert rec.channel_names == ["TP9", "AF7", "AF8", "TP10"] and 240 < rec.fs < 260
    x = windows_of(rec.data, 256, 128).astype(dtype)
    out = band_differential_entropy(x, rec.fs, bands="deap")
    ref = band_differential_entropy_reference(x.astype(np.float64), rec.fs, list(BAND_PRESETS["deap"]), 5, None)
    assert max_rel_error(out, ref) <= RTOL[dtype]


def test_streaming_on_real_eeg(rng):
    rec = read_muse_csv(data_path("eeg", "raw", "muse_mental_state", "subjectb-concentrating-1.csv"))
    x = rec.data[:, :5000]
    stream = StreamingBDE(rec.fs, channels=4, window=256, hop=64)
    outs, start = [], 0
    while start < x.shape[1]:
        size = int(rng.integers(1, 200))
        outs.append(stream.push(x[:, start : start + size]))
        start += size
    got = np.concatenate(outs)
    expected = streaming_reference(x, rec.fs, list(BAND_PRESETS["torcheeg"]), 5, 256, 64, None)
    assert max_rel_error(got, expected) <= RTOL[np.float64]
