"""The `fer` model card: the distilled Swin-SE student, shipped in
edgeaffect/models/artifacts/fer (its measured scores: MODEL_CARD.md there)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..models.card import ExportConfig, InputSpec, ModelCard, Preprocessing
from . import LABELS

FOLDER = "fer"
# precision key -> file, relative to edgeaffect/models/artifacts
ARTIFACTS = (
    ("onnx-fp32", f"{FOLDER}/fer-fp32.onnx"),
    ("onnx-int8", f"{FOLDER}/fer-int8.onnx"),
    ("openvino-int8", f"{FOLDER}/openvino-int8/fer.xml"),
    ("torch-fp32", f"{FOLDER}/fer.safetensors"),
)


def fer_card(artifact_dir: Optional[Path] = None) -> Optional[ModelCard]:
    """The card, listing the artifacts present in the installed package; None
    when none is (a build without the shipped model)."""
    from ..models.registry import shipped_artifacts

    present = shipped_artifacts(ARTIFACTS, artifact_dir)
    if not present:
        return None
    return ModelCard(
        name="fer", version="1.0", task="classification", labels=LABELS,
        inputs=(InputSpec("image", ("batch", 1, 48, 48)),),
        # (x / 255 - 0.5) / 0.25: edgeaffect.fer.train.PIXEL_MEAN / PIXEL_STD
        preprocessing=Preprocessing("grey_image", (("mean", 0.5), ("scale", 1 / 255.0), ("size", 48), ("std", 0.25))),
        output_kind="logits", eval_format="image-folder", artifacts=present,
        export=ExportConfig(atol=1e-4, rtol=1e-3),
        builder="edgeaffect.fer.model:build_student",
        architecture=(("family", "swin-se"), ("image", 48)),
        description="Facial expression (7 FER2013 classes) from a 48x48 grey face crop: Swin Transformer with "
                    "squeeze-and-excitation, distilled from a convnet teacher. See models/artifacts/fer/MODEL_CARD.md.")
