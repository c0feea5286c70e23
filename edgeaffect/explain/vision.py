"""The explainer's vision side: a FER backbone and the evidence head that sits on it.

Two backbones (ExplainerConfig.backbone):

- "convnet": [fer]'s convnet teacher, the very network whose occlusion the
  rationale teacher measures. Its stage-4 map (256 x 6 x 6 on 48x48) is
  average-pooled to 3x3 prefix tokens, so the mean of the tokens is the
  teacher's own global pooling and the emotion head (the teacher's
  classifier) gives the teacher's prediction. The evidence head reads the
  teacher's feature maps under each region: the stage-2 map (24 x 24)
  averaged per region, and the stage-3 (12 x 12) and stage-4 maps after a
  learned 1x1 projection, averaged per region, plus the pooled features.
  Why: predicting how a network reacts to hiding a region is much easier
  from that network's own features. On FER2013 val, an evidence head on
  the Swin-SE student's tokens ranked the teacher's strongest region first
  on 65% of faces (at 128 or 512 hidden units); on the teacher's own
  region features, on about 80% (see the model card).
- "swin": [fer]'s Swin-SE student up to its normalised last-stage tokens
  (3x3 of 192 on 48x48); the evidence head is an MLP over the flattened
  tokens. Used for a user's CSV of explanations at any image size.

Region weights for pooling come from the region boxes (vocabulary.REGIONS):
the share of each map cell that a region covers, normalised to sum to 1.

Example:
    >>> import torch
    >>> enc = ConvEncoder(ConvTeacherConfig(), image=48, regions=4)
    >>> feats = enc(torch.zeros(2, 1, 48, 48))
    >>> feats["tokens"].shape, feats["stage2"].shape
    (torch.Size([2, 9, 256]), torch.Size([2, 4, 64]))
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..fer.model import ConvTeacher, ConvTeacherConfig, SwinSE, SwinSEConfig
from .vocabulary import REGIONS

PREFIX_SIDE = 3  # the convnet's stage-4 map is pooled to 3x3 prefix tokens


def swin_tokens(cfg: SwinSEConfig) -> int:
    """Tokens of the Swin-SE backbone's last stage (a 4x4 stem, then halving per stage)."""
    side = cfg.image // 4 // 2 ** (len(cfg.depths) - 1)
    return side * side


def region_weights(side: int, image: int) -> torch.Tensor:
    """(R, side, side): the share of each cell of a side x side map (over an
    image x image crop) covered by each region, normalised per region."""
    cell = image / side
    weights = torch.zeros(len(REGIONS), side, side)
    for r, region in enumerate(REGIONS):
        top, bottom, left, right = region.box(image)
        for y in range(side):
            for x in range(side):
                overlap_y = max(0.0, min((y + 1) * cell, bottom) - max(y * cell, top))
                overlap_x = max(0.0, min((x + 1) * cell, right) - max(x * cell, left))
                weights[r, y, x] = overlap_y * overlap_x / cell ** 2
    total = weights.sum(dim=(1, 2), keepdim=True)
    if (total == 0).any():
        raise ValueError(f"a region covers no cell of a {side}x{side} map over {image}x{image} faces")
    return weights / total


def pool_regions(maps: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(B, K, S, S) maps, (R, S, S) weights -> (B, R, K) weighted means."""
    return torch.einsum("bkyx,ryx->brk", maps, weights)


class SwinEncoder(nn.Module):
    """The Swin-SE backbone up to its normalised last-stage tokens."""

    def __init__(self, cfg: SwinSEConfig):
        super().__init__()
        self.swin = SwinSE(cfg)
        self.dim = cfg.dim * 2 ** (len(cfg.depths) - 1)
        self.tokens = swin_tokens(cfg)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        s = self.swin
        x = s.stem(x).flatten(2).transpose(1, 2)
        for i, stage in enumerate(s.stages):
            x = s.se[i](stage(x))
            if i < len(s.merges):
                x = s.merges[i](x)
        return {"tokens": s.norm(x)}  # (B, tokens, dim)

    def load_backbone(self, state: dict[str, torch.Tensor]) -> nn.Linear:
        self.swin.load_state_dict(state)
        return self.swin.head


class ConvEncoder(nn.Module):
    """[fer]'s convnet teacher: 3x3 prefix tokens from its last map, and the
    maps the region evidence head reads (stage 2 already pooled per region)."""

    def __init__(self, cfg: ConvTeacherConfig, image: int, regions: int):
        super().__init__()
        if len(cfg.widths) != 4 or any(n != 1 for n in cfg.blocks):
            raise ValueError("the convnet explainer backbone expects the FER teacher's layout: four stages of one block")
        self.net = ConvTeacher(cfg)
        self.dim = cfg.widths[-1]
        self.tokens = PREFIX_SIDE * PREFIX_SIDE
        self.regions = regions
        if regions:
            if image % 8:
                raise ValueError(f"the convnet backbone needs an image size divisible by 8, got {image}")
            self.register_buffer("weights2", region_weights(image // 2, image), persistent=False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        net = self.net
        h = net.stem(x)
        maps = []
        for layer in net.layers:
            h = layer(h)
            maps.append(h)
        if h.shape[-1] % PREFIX_SIDE:
            raise ValueError(f"the last map is {h.shape[-1]} wide; the convnet backbone needs it divisible by {PREFIX_SIDE}")
        tokens = F.avg_pool2d(h, h.shape[-1] // PREFIX_SIDE).flatten(2).transpose(1, 2)
        out = {"tokens": tokens}  # (B, 9, 256): their mean is the teacher's global pooling
        if self.regions:
            out.update(stage2=pool_regions(maps[1], self.weights2), stage3=maps[2], stage4=maps[3])
        return out

    def load_backbone(self, state: dict[str, torch.Tensor]) -> nn.Linear:
        self.net.load_state_dict(state)
        return self.net.head


class TokenEvidenceHead(nn.Module):
    """Swin backbone: an MLP over the flattened tokens -> (B, C, R) evidence."""

    def __init__(self, tokens: int, dim: int, emotions: int, regions: int):
        super().__init__()
        self.shape = (emotions, regions)
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(tokens * dim, 128), nn.GELU(), nn.Linear(128, emotions * regions))

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.mlp(feats["tokens"]).view(-1, *self.shape)


class RegionEvidenceHead(nn.Module):
    """Convnet backbone: each region's features at three scales -> (B, C, R) evidence."""

    def __init__(self, cfg: ConvTeacherConfig, image: int, emotions: int, regions: int, hidden: int = 512,
                 width: int = 64):
        super().__init__()
        self.shape = (emotions, regions)
        self.proj3 = nn.Conv2d(cfg.widths[2], width, 1)
        self.proj4 = nn.Conv2d(cfg.widths[3], width, 1)
        self.register_buffer("weights3", region_weights(image // 4, image), persistent=False)
        self.register_buffer("weights4", region_weights(image // 8, image), persistent=False)
        features = regions * (cfg.widths[1] + 2 * width) + cfg.widths[3]
        self.mlp = nn.Sequential(nn.Linear(features, hidden), nn.GELU(), nn.Dropout(0.2), nn.Linear(hidden, hidden),
                                 nn.GELU(), nn.Linear(hidden, emotions * regions))

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        s3 = pool_regions(F.gelu(self.proj3(feats["stage3"])), self.weights3)
        s4 = pool_regions(F.gelu(self.proj4(feats["stage4"])), self.weights4)
        pooled = feats["tokens"].mean(dim=1)
        x = torch.cat([feats["stage2"].flatten(1), s3.flatten(1), s4.flatten(1), pooled], dim=1)
        return self.mlp(x).view(-1, *self.shape)
