"""Model registry and cards."""

from .card import ExportConfig, InputSpec, ModelCard, Preprocessing
from .registry import artifact_path, build_torch_model, get_card, list_models, register_model, unregister_model

__all__ = [
    "ExportConfig", "InputSpec", "ModelCard", "Preprocessing", "artifact_path", "build_torch_model", "get_card",
    "list_models", "register_model", "unregister_model",
]
