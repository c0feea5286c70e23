"""Raw-format loaders on small files written in exactly those formats."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from edgeaffect.eeg.electrodes import DEAP_32
from edgeaffect.eeg.features import prepare_tokens
from edgeaffect.eeg.raw import SEED_62, read_deap_dat, read_seed_mat, trials_to_features
from edgeaffect.features import band_differential_entropy


def sine_trials(rng, trials, channels, samples, fs, boost_channel):
    t = np.arange(samples) / fs
    data = rng.standard_normal((trials, channels, samples)) * 5
    data[:, boost_channel] += 40 * np.sin(2 * np.pi * 10 * t)  # alpha on one electrode
    return data


def test_deap_pickle(tmp_path, rng):
    data = sine_trials(rng, 3, 40, 8064, 128.0, boost_channel=DEAP_32.index("O1")).astype(np.float32)
    labels = np.array([[7.1, 2.0, 5, 5], [3.0, 6.5, 5, 5], [5.0, 5.01, 5, 5]])
    with (tmp_path / "s07.dat").open("wb") as f:
        pickle.dump({"data": data, "labels": labels}, f)
    trials = read_deap_dat(tmp_path / "s07.dat")
    assert [t.subject for t in trials] == [7, 7, 7] and trials[0].data.shape == (32, 7680)  # baseline dropped
    assert [(t.valence_high, t.arousal_high) for t in trials] == [(1, 0), (0, 1), (0, 1)]
    table = trials_to_features(trials)
    assert table.tokens.shape == (3, 32, 5)
    # the token equals the mean over 1 s windows of the batch BDE, and alpha (8-12 Hz, band 2) stands out on O1
    windows = data[0, :32, 384:].reshape(32, 60, 128).transpose(1, 0, 2).astype(np.float64)
    np.testing.assert_allclose(table.tokens[0], band_differential_entropy(windows, 128.0, bands="deap").mean(0), rtol=1e-10)
    o1 = DEAP_32.index("O1")
    assert table.tokens[0, o1, 2] > np.delete(table.tokens[0, :, 2], o1).max() + 2


def test_deap_pickle_errors(tmp_path):
    (tmp_path / "bad.dat").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a DEAP preprocessed pickle"):
        read_deap_dat(tmp_path / "bad.dat")
    with (tmp_path / "s01.dat").open("wb") as f:
        pickle.dump({"data": np.zeros((2, 10, 100))}, f)
    with pytest.raises(ValueError, match="'data' and 'labels'"):
        read_deap_dat(tmp_path / "s01.dat")


def test_seed_mat(tmp_path, rng):
    from scipy.io import savemat

    trials = {f"djc_eeg{i}": sine_trials(rng, 1, 62, 200 * 5 + 37, 200.0, SEED_62.index("OZ"))[0] for i in (1, 2, 3)}
    savemat(tmp_path / "3_20140603.mat", trials)
    savemat(tmp_path / "label.mat", {"label": np.array([[1, 0, -1] + [0] * 12])})
    loaded = read_seed_mat(tmp_path / "3_20140603.mat", tmp_path / "label.mat")
    assert [t.trial for t in loaded] == [1, 2, 3] and loaded[0].subject == 3 and loaded[0].fs == 200.0
    assert [t.valence_high for t in loaded] == [1, 0, 0] and all(t.arousal_high == -1 for t in loaded)
    table = trials_to_features(loaded)  # SEED's 62 channels cover all 32 DEAP electrodes
    oz = DEAP_32.index("Oz")
    assert table.tokens.shape == (3, 32, 5) and table.tokens[0, oz, 2] > np.delete(table.tokens[0, :, 2], oz).max() + 2


def test_missing_electrodes_are_explicit(tmp_path, rng):
    from edgeaffect.eeg.raw import RawTrial

    trial = RawTrial(1, 1, rng.standard_normal((4, 512)), 128.0, ("TP9", "AF7", "AF8", "TP10"), 1, 0)
    with pytest.raises(ValueError, match="lacks electrodes"):
        trials_to_features([trial])
    table = trials_to_features([trial], fill="mean")
    assert np.count_nonzero(table.tokens[0].any(axis=1)) == 0  # none of DEAP's 32 is on a Muse: all "no information"


def test_dreamer_mat(tmp_path, rng):
    from scipy.io import savemat

    from edgeaffect.eeg.raw import read_dreamer_mat

    emotiv = ["AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4"]

    def subject(seed):
        r = np.random.default_rng(seed)
        clips = np.empty(3, dtype=object)
        for i in range(3):
            clips[i] = sine_trials(r, 1, 14, 128 * 4, 128.0, emotiv.index("O1"))[0].T  # (samples, 14)
        return {"Age": 30, "EEG": {"stimuli": clips, "baseline": clips}, "ScoreValence": np.array([4, 2, 3]),
                "ScoreArousal": np.array([1, 5, 4])}

    data = np.empty(2, dtype=object)
    data[0], data[1] = subject(1), subject(2)
    electrodes = np.empty(14, dtype=object)
    electrodes[:] = emotiv
    savemat(tmp_path / "DREAMER.mat", {"DREAMER": {"Data": data, "EEG_SamplingRate": 128, "EEG_Electrodes": electrodes}})
    trials = read_dreamer_mat(tmp_path / "DREAMER.mat")
    assert len(trials) == 6 and [t.subject for t in trials] == [1, 1, 1, 2, 2, 2]
    assert [(t.valence_high, t.arousal_high) for t in trials[:3]] == [(1, 0), (0, 1), (0, 1)]
    assert trials[0].data.shape == (14, 512) and trials[0].channels[6] == "O1"
    with pytest.raises(ValueError, match="lacks electrodes"):  # 14 Emotiv channels, not DEAP's 32
        trials_to_features(trials)
    table = trials_to_features(trials, fill="mean")
    o1 = DEAP_32.index("O1")
    assert table.tokens[0, o1, 2] > np.delete(table.tokens[0, :, 2], o1).max()
    # The 18 filled electrodes are recorded, so the re-reference averages the 14 real ones only.
    assert table.present.shape == (6, 32) and table.present.sum(axis=1).tolist() == [14] * 6
    assert table.present[0, o1] and not table.present[0, DEAP_32.index("Fz")]
    x = prepare_tokens(table.tokens, table.subjects, table.present)
    assert np.all(x[~table.present] == 0.0) and np.isfinite(x).all()
