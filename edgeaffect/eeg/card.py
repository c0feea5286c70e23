"""The `eeg` model card: the distilled RBTransformer student, shipped in
edgeaffect/models/artifacts/eeg (its measured scores: MODEL_CARD.md there).

Input: one token per DEAP electrode (32, BioSemi 10-20 order), each the
electrode's 5 band features (theta, slow alpha, alpha, beta, gamma),
re-referenced to their mean over the electrodes, then standardised per
subject from that subject's own unlabelled data
(`edgeaffect.eeg.features.prepare_tokens`; `EEGEmotionStream` does both,
learning the standardisation in its calibration phase). Output: valence-high and arousal-high
logits (binary heads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..models.card import ExportConfig, InputSpec, ModelCard, Preprocessing
from .features import HEADS

# The student's shape (edgeaffect.eeg.model.STUDENT), written out because the
# registry must not import torch; a test checks they agree.
ELECTRODES, BANDS, STUDENT_HEADS = 32, 5, 4
FOLDER = "eeg"
ARTIFACTS = (
    ("onnx-fp32", f"{FOLDER}/eeg-fp32.onnx"),
    ("torch-fp32", f"{FOLDER}/eeg.safetensors"),
)


def eeg_card(artifact_dir: Optional[Path] = None) -> Optional[ModelCard]:
    """The card, listing the artifacts present in the installed package; None
    when none is (a build without the shipped model)."""
    from ..models.registry import shipped_artifacts

    present = shipped_artifacts(ARTIFACTS, artifact_dir)
    if not present:
        return None
    return ModelCard(
        name="eeg", version="1.0", task="binary-heads", labels=HEADS,
        inputs=(InputSpec("tokens", ("batch", ELECTRODES, BANDS)),),
        preprocessing=Preprocessing("identity"), output_kind="logits", eval_format="eeg-features-csv",
        artifacts=present, export=ExportConfig(atol=1e-4, rtol=1e-3),
        builder="edgeaffect.eeg.model:build_student",
        architecture=(("family", "rbtransformer"), ("heads", STUDENT_HEADS)),
        description="Valence and arousal (high/low) from 32 electrodes x 5 band-DE tokens, re-referenced to their "
                    "electrode mean and standardised per subject (edgeaffect.eeg.features.prepare_tokens): "
                    "RBTransformer student distilled from the published configuration. Subject-independent scores "
                    "are modest; see models/artifacts/eeg/MODEL_CARD.md.")
