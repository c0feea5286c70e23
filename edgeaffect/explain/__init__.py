"""The explainer: an emotion and a one-sentence explanation faithful to the evidence.

A SEVLM-style small vision-language model on the FER backbone, distilled from
a rationale teacher (occlusion of a FER teacher over facial regions, phrased
with a FACS cue vocabulary). See edgeaffect/models/artifacts/explain/MODEL_CARD.md.

Example:
    >>> import numpy as np
    >>> from edgeaffect.explain import load_explainer
    >>> explainer = load_explainer()                                  # doctest: +SKIP
    >>> faces = np.zeros((1, 48, 48), np.uint8)                        # grey 48x48 face crops
    >>> print(explainer.explain_faces(faces)[0].text)                  # doctest: +SKIP
    Neutral: most of the evidence is in the closed, relaxed mouth.
"""

from .decoding import DecodeConfig
from .engine import Explanation, ExplainerEngine
from .runtime import load_explainer, load_rationale_teacher

__all__ = ["DecodeConfig", "Explanation", "ExplainerEngine", "load_explainer", "load_rationale_teacher"]
