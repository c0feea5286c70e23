"""Evaluation: metrics and the documented data formats of each model."""

from .datasets import DATA_FORMATS, load_eval_data
from .metrics import classification_metrics

__all__ = ["DATA_FORMATS", "classification_metrics", "load_eval_data"]
