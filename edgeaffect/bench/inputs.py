"""Raw inputs for benchmarking a model: what a user would pass to predict()
(uint8 crops for image models, tokens for the rest), so preprocessing is
part of every timing, as it is in an app."""

from __future__ import annotations

import numpy as np


def sample_batch(predictor, batch: int, rng: np.random.Generator) -> np.ndarray:
    """A random raw batch of `batch` items for `predictor` (an edgeaffect Predictor).

    Example:
        >>> import numpy as np, edgeaffect                            # doctest: +SKIP
        >>> with edgeaffect.load("fer") as p:                         # doctest: +SKIP
        ...     sample_batch(p, 2, np.random.default_rng(0)).shape
        (2, 48, 48)
    """
    preprocessing = predictor.info.preprocessing
    if preprocessing.name == "grey_image":
        size = int(preprocessing.kwargs().get("size", 48))
        return rng.integers(0, 256, (batch, size, size), dtype=np.uint8)
    spec = predictor.info.inputs[0]
    shape = [batch if isinstance(dim, str) else dim for dim in spec.shape]
    return rng.standard_normal(shape).astype(spec.dtype)
