"""edgeaffect: emotion sensing on edge devices.

The runtime needs only numpy and ONNX Runtime: importing edgeaffect never
imports torch and never probes for a GPU.

Example:
    >>> import numpy as np, edgeaffect.features as F
    >>> eeg = np.random.default_rng(0).standard_normal((62, 200))   # 62 channels, 1 s at 200 Hz
    >>> F.band_differential_entropy(eeg, fs=200).shape               # (channels, bands)
    (62, 5)
"""

__version__ = "0.1.0"

__all__ = ["__version__", "list_models", "load"]


def load(name_or_path, backend="auto", precision="auto", threads=None, **kwargs):
    """Loads a model for inference; see `edgeaffect.runtime.predictor.load`."""
    from .runtime.predictor import load as _load

    return _load(name_or_path, backend=backend, precision=precision, threads=threads, **kwargs)


def list_models():
    """Names of the registered models."""
    from .models import list_models as _list_models

    return _list_models()
