"""Loaders for the raw EEG formats users own, turned into DE tokens with the
native BDE kernel.

- DEAP "data_preprocessed_python" `sXX.dat`: a pickle with `data` (40 trials
  x 40 channels x 8064 samples at 128 Hz: 3 s baseline then 60 s; the first
  32 channels are EEG in the BioSemi order) and `labels` (40 x 4: valence,
  arousal, dominance, liking on 1-9). High = rating > 5 (DEAP's convention).
- SEED `<subject>_<date>.mat`: one variable per trial, named `<prefix>_eeg<N>`
  (62 channels x samples at 200 Hz, the SEED cap order), and `label.mat`
  with `label` (15 trials: 1 positive, 0 neutral, -1 negative). High
  valence = positive; SEED has no arousal rating (-1 there).

- DREAMER `DREAMER.mat`: a struct `DREAMER` with `EEG_SamplingRate` (128),
  `EEG_Electrodes` (14 Emotiv EPOC names) and `Data`, one struct per
  subject with `EEG.stimuli` (18 clips, each samples x 14) and
  `ScoreValence` / `ScoreArousal` (1-5). High = score > 3.

Every trial becomes the mean DE token of its 1 s windows (DEAP bands, the
bands of our feature files), mapped by electrode name onto the model's
electrodes (`ChannelMap`: missing electrodes are an error unless
fill="mean").
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..features import band_differential_entropy
from .electrodes import DEAP_32, ChannelMap
from .features import FeatureTable

SEED_62 = ("FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8", "FT7", "FC5", "FC3",
           "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ", "C2", "C4", "C6", "T8", "TP7", "CP5",
           "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7", "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "PO7",
           "PO5", "PO3", "POZ", "PO4", "PO6", "PO8", "CB1", "O1", "OZ", "O2", "CB2")


@dataclass
class RawTrial:
    subject: int
    trial: int
    data: np.ndarray  # (channels, samples), microvolts
    fs: float
    channels: tuple[str, ...]
    valence_high: int  # 1 / 0, or -1 when the dataset does not rate it
    arousal_high: int


def read_deap_dat(path: str | Path, subject: int | None = None) -> list[RawTrial]:
    """Trials of one DEAP subject file (the 3 s pre-trial baseline is dropped)."""
    path = Path(path)
    with path.open("rb") as f:
        try:
            content = pickle.load(f, encoding="latin1")
        except Exception as exc:
            raise ValueError(f"{path} is not a DEAP preprocessed pickle ({exc})") from exc
    if not isinstance(content, dict) or "data" not in content or "labels" not in content:
        raise ValueError(f"{path}: expected a dict with 'data' and 'labels' (DEAP data_preprocessed_python)")
    data, labels = np.asarray(content["data"]), np.asarray(content["labels"])
    if data.ndim != 3 or data.shape[1] < 32 or labels.shape != (data.shape[0], 4):
        raise ValueError(f"{path}: data {data.shape} / labels {labels.shape} are not DEAP's (trials, 40, samples) / (trials, 4)")
    if subject is None:
        match = re.search(r"(\d+)", path.stem)
        subject = int(match.group(1)) if match else 0
    baseline = 3 * 128
    return [RawTrial(subject, t + 1, np.ascontiguousarray(data[t, :32, baseline:], dtype=np.float64), 128.0, DEAP_32,
                     int(labels[t, 0] > 5), int(labels[t, 1] > 5)) for t in range(data.shape[0])]


def read_seed_mat(path: str | Path, label_path: str | Path, subject: int | None = None) -> list[RawTrial]:
    """Trials of one SEED session file, with labels from SEED's label.mat."""
    from scipy.io import loadmat

    path = Path(path)
    content = loadmat(str(path))
    trials = sorted(((int(m.group(1)), key) for key in content if (m := re.fullmatch(r".+_eeg(\d+)", key))),
                    key=lambda item: item[0])
    if not trials:
        raise ValueError(f"{path}: no '<prefix>_eeg<N>' trial variables (is this a SEED Preprocessed_EEG file?)")
    labels = np.asarray(loadmat(str(label_path))["label"]).ravel()
    if len(labels) < trials[-1][0]:
        raise ValueError(f"{label_path}: {len(labels)} labels for trials up to {trials[-1][0]}")
    if subject is None:
        match = re.match(r"(\d+)", path.stem)
        subject = int(match.group(1)) if match else 0
    out = []
    for number, key in trials:
        data = np.asarray(content[key], dtype=np.float64)
        if data.shape[0] != len(SEED_62):
            raise ValueError(f"{path}:{key} has {data.shape[0]} channels; SEED has {len(SEED_62)}")
        out.append(RawTrial(subject, number, np.ascontiguousarray(data), 200.0, SEED_62,
                            int(labels[number - 1] > 0), -1))
    return out


def read_dreamer_mat(path: str | Path) -> list[RawTrial]:
    """All subjects' stimulus trials of DREAMER.mat."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        root = loadmat(str(path), squeeze_me=True, struct_as_record=False)["DREAMER"]
    except KeyError:
        raise ValueError(f"{path}: no 'DREAMER' struct (is this DREAMER.mat?)") from None
    fs = float(root.EEG_SamplingRate)
    electrodes = tuple(str(e) for e in np.atleast_1d(root.EEG_Electrodes))
    out = []
    for s_index, subject in enumerate(np.atleast_1d(root.Data), start=1):
        stimuli = np.atleast_1d(subject.EEG.stimuli)
        valence, arousal = np.atleast_1d(subject.ScoreValence), np.atleast_1d(subject.ScoreArousal)
        for t_index, clip in enumerate(stimuli, start=1):
            data = np.asarray(clip, dtype=np.float64)
            if data.ndim != 2 or data.shape[1] != len(electrodes):
                raise ValueError(f"{path}: subject {s_index} clip {t_index} has shape {data.shape}; expected "
                                 f"(samples, {len(electrodes)})")
            out.append(RawTrial(s_index, t_index, np.ascontiguousarray(data.T), fs, electrodes,
                                int(valence[t_index - 1] > 3), int(arousal[t_index - 1] > 3)))
    return out


def trials_to_features(trials: list[RawTrial], electrodes=DEAP_32, fill: str = "error", window_s: float = 1.0,
                       bands="deap") -> FeatureTable:
    """Trial-level DE tokens (mean over 1 s windows) on the model's electrodes."""
    if not trials:
        raise ValueError("no trials")
    tokens, present, subjects, videos, labels = [], [], [], [], []
    for trial in trials:
        mapping = ChannelMap.build(trial.channels, electrodes, fill=fill)
        window = int(round(window_s * trial.fs))
        n = trial.data.shape[1] // window
        if n == 0:
            raise ValueError(f"subject {trial.subject} trial {trial.trial}: shorter than one {window_s} s window")
        windows = trial.data[:, : n * window].reshape(trial.data.shape[0], n, window).transpose(1, 0, 2)
        de = band_differential_entropy(np.ascontiguousarray(windows), trial.fs, bands=bands)  # (n, channels, bands)
        tokens.append(mapping.apply(de.mean(axis=0)))
        present.append(mapping.indices >= 0)
        subjects.append(trial.subject)
        videos.append(trial.trial)
        labels.append((trial.valence_high, trial.arousal_high))
    return FeatureTable(np.array(subjects), np.array(videos), np.array(labels), np.stack(tokens), None, "raw",
                        np.stack(present))
