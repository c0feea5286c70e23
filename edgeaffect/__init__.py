"""edgeaffect: emotion sensing on edge devices.

The runtime needs only numpy (and, once models ship, ONNX Runtime): importing
edgeaffect never imports torch and never probes for a GPU.

Example:
    >>> import numpy as np, edgeaffect.features as F
    >>> eeg = np.random.default_rng(0).standard_normal((62, 200))   # 62 channels, 1 s at 200 Hz
    >>> F.band_differential_entropy(eeg, fs=200).shape               # (channels, bands)
    (62, 5)
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
