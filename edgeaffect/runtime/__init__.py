"""The runtime for apps: load a model, predict, get typed results."""

from ..errors import (
    ArtifactMismatchError,
    BackendUnavailableError,
    CorruptArtifactError,
    EdgeAffectError,
    InputError,
    PrecisionUnavailableError,
)
from .predictor import Predictor, load
from .results import BinaryHeadsResult, ClassificationResult, Prediction

__all__ = [
    "ArtifactMismatchError", "BackendUnavailableError", "BinaryHeadsResult", "ClassificationResult", "CorruptArtifactError",
    "EdgeAffectError", "InputError", "Prediction", "PrecisionUnavailableError", "Predictor", "load",
]
