"""The explainer's configuration (torch-free: the runtime reads it from the model's config.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class ExplainerConfig:
    emotions: tuple[str, ...]
    vocab_size: int
    regions: int = 4  # 0: the data has no region evidence (e.g. a user's CSV of explanations)
    d: int = 128
    layers: int = 4
    heads: int = 4
    ff: int = 512
    max_text: int = 48  # text tokens including <bos> and <eos>
    embed_dim: int = 128  # contrastive space
    dropout: float = 0.1
    evidence_hidden: int = 512  # width of the convnet backbone's region evidence head
    backbone: str = "swin"  # "convnet": [fer]'s teacher (the shipped explainer); "swin": [fer]'s student
    vision: dict = field(default_factory=dict)  # overrides of the backbone's config ("image": crop size, default 48)
    extra_vad: dict = field(default_factory=dict)  # VAD of emotions the NRC table lacks (--vad)
    # (dy, dx) face translations the rationale teacher averages its occlusion evidence over
    # (edgeaffect.explain.rationale); a config without the key is a model trained on plain occlusion
    rationale_shifts: tuple[tuple[int, int], ...] = ((0, 0),)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["emotions"] = list(self.emotions)
        out["rationale_shifts"] = [list(v) for v in self.rationale_shifts]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "ExplainerConfig":
        data = dict(data)
        data["emotions"] = tuple(data["emotions"])
        data["extra_vad"] = {k: tuple(v) for k, v in data.get("extra_vad", {}).items()}
        if "rationale_shifts" in data:
            data["rationale_shifts"] = tuple(tuple(int(x) for x in v) for v in data["rationale_shifts"])
        return cls(**data)
