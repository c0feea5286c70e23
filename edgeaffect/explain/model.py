"""The explainer (torch; training and export only): a small SEVLM-style
vision-language model on a FER backbone (edgeaffect.explain.vision).

    face (1, 48, 48) -> FER backbone -> 3x3 tokens (+ region features for the evidence head)
        convnet: [fer]'s teacher, 256-wide tokens (the shipped explainer); swin: [fer]'s student, 192-wide
        -> emotion head            (B, C)      logits; initialised from the backbone's FER classifier
        -> VAD head                (B, 3)      valence, arousal, dominance in [0, 1]
        -> evidence head           (B, C, R)   the rationale teacher's occlusion evidence, regressed
        -> prefix = Linear(vision -> d) of the 9 tokens  +  Linear(R -> d) of the named emotion's evidence
    text tokens -> Embedding(V, d), then SEVLM's VAD fusion: Linear(d + 3 -> d) of [embedding, VAD of the emotion]
    [prefix, text] -> GPT decoder (pre-norm, causal, learned positions, tied output) -> next-token logits
    contrastive head: image (pooled tokens), text (the decoder run on the text alone, mean hidden state)
        and emotion embeddings in one space (InfoNCE), for retrieval

Why the evidence token: the sentence must name the regions the evidence
supports. Conditioning the decoder on the evidence head's output for the
named emotion (trained on the teacher's evidence) makes the regions it
names follow the numbers it reports, instead of a pattern the decoder
guesses from pixels alone.

Generation (greedy or beam, with a KV cache) lives in edgeaffect.explain.decoding
and runs over numpy, for torch and ONNX Runtime alike.
"""

from __future__ import annotations

import math
import torch
from torch import nn
from torch.nn import functional as F

from ..fer.model import STUDENT, TEACHER, ConvTeacherConfig, SwinSEConfig
from .config import ExplainerConfig
from .vision import PREFIX_SIDE, ConvEncoder, RegionEvidenceHead, SwinEncoder, TokenEvidenceHead, swin_tokens

BACKBONES = ("convnet", "swin")


def _overrides(cfg: ExplainerConfig) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.vision.items() if k != "image"}


def image_size(cfg: ExplainerConfig) -> int:
    return int(cfg.vision.get("image", 48))


def build_vision(cfg: ExplainerConfig) -> tuple[nn.Module, nn.Module | None]:
    """(encoder, evidence head or None) for cfg.backbone."""
    c = len(cfg.emotions)
    if cfg.backbone == "convnet":
        conv = ConvTeacherConfig(**{**TEACHER.as_dict(), **_overrides(cfg)})
        encoder = ConvEncoder(conv, image_size(cfg), cfg.regions)
        head = RegionEvidenceHead(conv, image_size(cfg), c, cfg.regions, cfg.evidence_hidden) if cfg.regions else None
        return encoder, head
    if cfg.backbone == "swin":
        encoder = SwinEncoder(_swin_config(cfg))
        head = TokenEvidenceHead(encoder.tokens, encoder.dim, c, cfg.regions) if cfg.regions else None
        return encoder, head
    raise ValueError(f"unknown explainer backbone {cfg.backbone!r}; choose one of {BACKBONES}")


def _swin_config(cfg: ExplainerConfig) -> SwinSEConfig:
    return SwinSEConfig(**{**STUDENT.as_dict(), **_overrides(cfg), "image": image_size(cfg)})


def vision_tokens(cfg: ExplainerConfig) -> int:
    """Prefix tokens from the backbone: 3x3 for the convnet; the last stage's grid for Swin."""
    return swin_tokens(_swin_config(cfg)) if cfg.backbone == "swin" else PREFIX_SIDE * PREFIX_SIDE


def prefix_len(cfg: ExplainerConfig) -> int:
    return vision_tokens(cfg) + (1 if cfg.regions else 0)


class DecoderBlock(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, dropout: float):
        super().__init__()
        self.heads, self.head_dim = heads, d // heads
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, past: torch.Tensor | None, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, d); past (2, B, H, Tp, dh) or None; mask (T, Tp + T) additive. -> y, present (2, B, H, Tp + T, dh)"""
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        q = q * self.head_dim ** -0.5  # scale before Q K^T (TensorRT's fusible pattern)
        att = (q @ k.transpose(-2, -1) + mask).softmax(dim=-1)
        y = (self.drop(att) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.proj(y))
        x = x + self.drop(self.mlp(self.norm2(x)))
        return x, torch.stack([k, v])


def causal_mask(t: int, past: int, device=None) -> torch.Tensor:
    """(t, past + t) additive mask: query i sees keys j <= past + i."""
    i = torch.arange(t, device=device).unsqueeze(1)
    j = torch.arange(past + t, device=device).unsqueeze(0)
    return torch.where(j <= past + i, 0.0, -1e4)  # finite: stays finite in fp16


class Explainer(nn.Module):
    """Face -> emotion, VAD, region evidence, and the decoder that phrases them.

    Example:
        >>> import torch
        >>> m = Explainer(ExplainerConfig(emotions=("happy", "sad"), vocab_size=300))
        >>> out = m.encode_image(torch.zeros(2, 1, 48, 48))
        >>> out["logits"].shape, out["evidence"].shape
        (torch.Size([2, 2]), torch.Size([2, 2, 4]))
    """

    def __init__(self, cfg: ExplainerConfig):
        super().__init__()
        self.cfg = cfg
        d, c = cfg.d, len(cfg.emotions)
        self.vision, evidence_head = build_vision(cfg)
        vd = self.vision.dim
        self.emotion_head = nn.Linear(vd, c)
        self.vad_head = nn.Sequential(nn.Linear(vd, 64), nn.GELU(), nn.Linear(64, 3))
        if cfg.regions:
            self.evidence_head = evidence_head
            self.evidence_proj = nn.Linear(cfg.regions, d)
        self.prefix_proj = nn.Linear(vd, d)
        self.token_embed = nn.Embedding(cfg.vocab_size, d)
        self.vad_fuse = nn.Linear(d + 3, d)
        self.pos_embed = nn.Embedding(prefix_len(cfg) + cfg.max_text, d)
        self.blocks = nn.ModuleList(DecoderBlock(d, cfg.heads, cfg.ff, cfg.dropout) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)
        self.image_proj = nn.Linear(vd, cfg.embed_dim)
        self.text_proj = nn.Linear(d, cfg.embed_dim)
        self.emotion_embed = nn.Embedding(c, cfg.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)) and not any(m is x for x in self.vision.modules()):
                nn.init.normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

    # --- vision side -------------------------------------------------------------------------------
    def heads(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The heads on the backbone's features (`self.vision(images)`, or a cached copy)."""
        tokens = feats["tokens"]
        pooled = tokens.mean(dim=1)
        out = {"tokens": tokens, "pooled": pooled, "logits": self.emotion_head(pooled),
               "vad": torch.sigmoid(self.vad_head(pooled))}
        if self.cfg.regions:
            out["evidence"] = self.evidence_head(feats)
        return out

    def encode_image(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads(self.vision(images))

    def prefix(self, tokens: torch.Tensor, evidence_row: torch.Tensor | None) -> torch.Tensor:
        """(B, P, d) decoder prefix from the vision tokens and the named emotion's evidence (B, R)."""
        parts = [self.prefix_proj(tokens)]
        if self.cfg.regions:
            parts.append(self.evidence_proj(evidence_row).unsqueeze(1))
        return torch.cat(parts, dim=1)

    # --- text side ---------------------------------------------------------------------------------
    def embed_text(self, ids: torch.Tensor, vad: torch.Tensor) -> torch.Tensor:
        """SEVLM's fusion: every token embedding concatenated with the VAD vector, then Linear(d + 3 -> d)."""
        e = self.token_embed(ids)
        return self.vad_fuse(torch.cat([e, vad.unsqueeze(1).expand(-1, e.shape[1], -1)], dim=-1))

    def decode(self, embeds: torch.Tensor, past: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """embeds (B, T, d) -> logits (B, T, V), present (L, 2, B, H, Tp + T, dh), hidden (B, T, d).

        `past` (L, 2, B, H, Tp, dh) is the KV cache of the positions before these."""
        t = embeds.shape[1]
        tp = 0 if past is None else past.shape[4]
        positions = torch.arange(tp, tp + t, device=embeds.device)
        x = embeds + self.pos_embed(positions).unsqueeze(0)
        mask = causal_mask(t, tp, embeds.device)
        presents = []
        for i, block in enumerate(self.blocks):
            x, present = block(x, None if past is None else past[i], mask)
            presents.append(present)
        hidden = self.norm(x)
        return hidden @ self.token_embed.weight.t(), torch.stack(presents), hidden

    def text_embedding(self, ids: torch.Tensor, lengths: torch.Tensor, vad: torch.Tensor) -> torch.Tensor:
        """(B, embed_dim) unit vectors: the decoder on the text alone, mean over its real tokens."""
        _, _, hidden = self.decode(self.embed_text(ids, vad))
        keep = (torch.arange(ids.shape[1], device=ids.device).unsqueeze(0) < lengths.unsqueeze(1)).float()
        pooled = (hidden * keep.unsqueeze(-1)).sum(1) / keep.sum(1, keepdim=True).clamp(min=1)
        return F.normalize(self.text_proj(pooled), dim=-1)

    def image_embedding(self, pooled: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image_proj(pooled), dim=-1)

    def emotion_embedding(self) -> torch.Tensor:
        return F.normalize(self.emotion_embed.weight, dim=-1)


def load_fer_backbone(model: Explainer, state: dict[str, torch.Tensor], labels: tuple[str, ...]) -> None:
    """Copies a FER model's state dict (the backbone's kind) into the vision
    encoder; when the emotion sets match (same labels, same order), also its
    classifier head."""
    try:
        classifier = model.vision.load_backbone(state)
    except RuntimeError as exc:
        raise ValueError(f"these FER weights do not fit the explainer's {model.cfg.backbone!r} backbone "
                         f"(give the {'teacher' if model.cfg.backbone == 'convnet' else 'student'}'s): {exc}") from exc
    if tuple(model.cfg.emotions) == tuple(labels):
        model.emotion_head.load_state_dict(classifier.state_dict())


def parameter_counts(model: Explainer) -> dict[str, int]:
    vision = sum(p.numel() for p in model.vision.parameters())
    total = sum(p.numel() for p in model.parameters())
    return {"vision": vision, "text_and_heads": total - vision, "total": total}


def numpy_params(model: Explainer) -> dict:
    """The small matrices the numpy side of the engine applies (see engine.py)."""
    params = {"token_embed": model.token_embed.weight, "vad_fuse_weight": model.vad_fuse.weight,
              "vad_fuse_bias": model.vad_fuse.bias, "text_proj_weight": model.text_proj.weight,
              "text_proj_bias": model.text_proj.bias, "emotion_embed": model.emotion_embed.weight}
    if model.cfg.regions:
        params.update(evidence_proj_weight=model.evidence_proj.weight, evidence_proj_bias=model.evidence_proj.bias)
    return {k: v.detach().float().numpy().copy() for k, v in params.items()}


class VisionOutputs(nn.Module):
    """The vision graph the runtime runs (and ONNX exports): faces -> logits, VAD,
    evidence, projected prefix tokens and the contrastive image embedding."""

    def __init__(self, model: Explainer):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        out = self.model.encode_image(x)
        outputs = [out["logits"], out["vad"], self.model.prefix_proj(out["tokens"]),
                   self.model.image_embedding(out["pooled"])]
        if self.model.cfg.regions:
            outputs.append(out["evidence"])
        return tuple(outputs)


VISION_OUTPUTS = ("logits", "vad", "prefix", "image_embedding", "evidence")


class DecoderStep(nn.Module):
    """The decoder graph: (embeds, past) -> (logits, present, hidden)."""

    def __init__(self, model: Explainer):
        super().__init__()
        self.model = model

    def forward(self, embeds: torch.Tensor, past: torch.Tensor):
        return self.model.decode(embeds, past)


def torch_engine(model: Explainer, tokenizer, view_shifts=((0, 0),), evidence_source: str = "predicted"):
    """An ExplainerEngine over the torch model (for training-time validation and tests). `view_shifts` and
    `evidence_source`: as ExplainerEngine's; training validation reads the head's evidence on the face alone."""
    import numpy as np

    from .engine import ExplainerEngine

    model.eval()
    vision_graph = VisionOutputs(model)

    def vision(x: np.ndarray) -> dict:
        with torch.inference_mode():
            outs = vision_graph(torch.from_numpy(np.ascontiguousarray(x)))
        return {name: t.numpy() for name, t in zip(VISION_OUTPUTS, outs)}

    def step(embeds: np.ndarray, past):
        with torch.inference_mode():
            logits, present, _ = model.decode(torch.from_numpy(np.ascontiguousarray(embeds, dtype=np.float32)),
                                              None if past is None else torch.from_numpy(past))
        return logits.numpy(), present.numpy()

    def hidden(embeds: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model.decode(torch.from_numpy(np.ascontiguousarray(embeds, dtype=np.float32)))[2].numpy()

    return ExplainerEngine(model.cfg, tokenizer, numpy_params(model), vision, step, hidden, view_shifts=view_shifts,
                           evidence_source=evidence_source)
