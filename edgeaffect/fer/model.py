"""The FER models (torch; training/export extras only).

Student: a Swin Transformer with squeeze-and-excitation (after "Facial
Expression Recognition using Squeeze and Excitation-powered Swin
Transformers"), sized for a 48x48 grey face and the edge:

    48x48x1 -conv3x3 s2-> 24x24x32 -conv3x3 s2-> 12x12xC      (convolutional stem)
    stage 1: 12x12 tokens, C = 48,  2 blocks, window 6, shifted windows (W-MSA / SW-MSA)
    stage 2:  6x6  tokens, 96,      2 blocks, window 6 = the whole map (plain MSA)
    stage 3:  3x3  tokens, 192,     2 blocks, window 3 = the whole map
    (heads of 24 channels; 1.1 M parameters)
    SE over channels at the end of each stage -> LayerNorm -> mean pool -> Linear(7)

Where SE sits and why: a Swin block mixes information across tokens
(attention) and within a token (MLP), but nothing in it reweights channels
from a global view of the face. One SE gate per stage (squeeze = mean over
the stage's tokens, excite = a 2-layer bottleneck MLP with a sigmoid, then a
channel-wise scale of every token) adds that global channel recalibration
where a stage's features are complete, before they are merged and handed on
-- at a cost of 2*C*C/4 parameters and no extra token mixing. We use a
convolutional stem instead of the 4x4 linear patch embedding because 48x48
faces hold too few pixels for a 4x4 patch projection to learn local edges
from 28k images (a small conv stem is the usual fix for ViTs trained from
scratch on small data).

Window attention is written with static shapes (windows by reshape/permute,
the shift by torch.roll, the shifted-window mask and the relative-position
index precomputed as buffers), so the ONNX export has a fixed 48x48 input
and only a dynamic batch. That is the training form; the exporter writes
`SwinSE.export_form(target)` instead: the same function without the window
bookkeeping where a window covers the map (and, for OpenVINO, as masked full
attention everywhere), the scale folded into the query weights: 259 or 217
nodes instead of 315 (edgeaffect.fer.export_form says why and what it
costs). Either way attention is MatMul-Add-Softmax-MatMul with one constant
additive term (relative-position bias plus masks), the pattern TensorRT
fuses.

Teacher: a residual convnet (ResNet-style basic blocks, widths 32-64-128-256
at 48-24-12-6 pixels, 1.2 M parameters but 4x the student's FLOPs: what
trains in a session on two CPU cores). DeiT showed convnet teachers distil especially well
into small transformers: the convnet's locality prior is what the student
lacks and what its soft targets carry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from . import LABELS


@dataclass(frozen=True)
class SwinSEConfig:
    image: int = 48
    stem: int = 32
    dim: int = 48
    depths: tuple[int, ...] = (2, 2, 2)
    heads: tuple[int, ...] = (2, 4, 8)
    windows: tuple[int, ...] = (6, 6, 3)
    mlp_ratio: float = 3.0
    se_reduction: int = 4
    drop_path: float = 0.1
    classes: int = len(LABELS)

    def as_dict(self) -> dict:
        return asdict(self)


STUDENT = SwinSEConfig()


def _drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if p == 0.0 or not training:
        return x
    keep = torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device) >= p
    return x * keep.to(x.dtype) / (1 - p)


class SqueezeExcitation(nn.Module):
    """Channel gate over tokens (B, N, C): x * sigmoid(W2 gelu(W1 mean_N(x)))."""

    def __init__(self, dim: int, reduction: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, max(8, dim // reduction))
        self.fc2 = nn.Linear(max(8, dim // reduction), dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.fc2(self.act(self.fc1(x.mean(dim=1)))))
        return x * gate.unsqueeze(1)


def _relative_position_index(window: int) -> torch.Tensor:
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


def _shift_mask(size: int, window: int, shift: int) -> torch.Tensor:
    """(windows, T, T) additive mask: -inf-like where two tokens of a shifted
    window came from different regions of the unshifted map."""
    region = torch.zeros(size, size)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for hs in cuts:
        for ws in cuts:
            region[hs, ws] = label
            label += 1
    win = region.view(size // window, window, size // window, window).permute(0, 2, 1, 3).reshape(-1, window * window)
    return (win[:, :, None] != win[:, None, :]).float() * -1e4  # large but finite: stays finite in fp16 exports


class WindowAttention(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, size: int, shift: int):
        super().__init__()
        self.heads, self.head_dim, self.window, self.size, self.shift = heads, dim // heads, window, size, shift
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", _relative_position_index(window).flatten(), persistent=False)
        mask = _shift_mask(size, window, shift) if shift else torch.zeros(1, window * window, window * window)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        s, w = self.size, self.window
        x = x.view(b, s, s, c)
        if self.shift:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        nw = (s // w) ** 2
        x = x.view(b, s // w, w, s // w, w, c).permute(0, 1, 3, 2, 4, 5).contiguous().view(b * nw, w * w, c)
        t = w * w
        q, k, v = self.qkv(x).view(b * nw, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        # (windows | 1, heads, T, T): depends on parameters only, so exporters fold it to a constant
        bias = self.bias_table[self.bias_index].view(t, t, self.heads).permute(2, 0, 1).unsqueeze(0) + self.mask.unsqueeze(1)
        q = q * self.head_dim**-0.5  # scale before Q K^T (TensorRT's fusible pattern)
        scores = (q @ k.transpose(-2, -1)).view(b, -1, self.heads, t, t) + bias.to(q.dtype)
        # Written out rather than scaled_dot_product_attention: the exporter's
        # decomposition of SDPA with a mask doubles the node count (and its
        # output layout breaks a later view); this is MatMul-Add-Softmax-MatMul.
        y = scores.softmax(dim=-1).view(b * nw, self.heads, t, t) @ v
        y = self.proj(y.transpose(1, 2).reshape(b * nw, t, c))
        y = y.view(b, s // w, s // w, w, w, c).permute(0, 1, 3, 2, 4, 5).contiguous().view(b, s, s, c)
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        return y.reshape(b, n, c)


class SwinBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, size: int, shift: int, mlp_ratio: float, drop_path: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window, size, shift)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + _drop_path(self.attn(self.norm1(x)), self.drop_path, self.training)
        return x + _drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


class PatchMerging(nn.Module):
    """2x2 neighbouring tokens -> one token of twice the channels."""

    def __init__(self, dim: int, size: int):
        super().__init__()
        self.size = size
        self.norm = nn.LayerNorm(4 * dim)
        self.reduce = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c = x.shape
        h = self.size // 2
        x = x.view(b, h, 2, h, 2, c).permute(0, 1, 3, 4, 2, 5).contiguous().view(b, h * h, 4 * c)
        return self.reduce(self.norm(x))


class SwinSE(nn.Module):
    """(batch, 1, 48, 48) standardised grey faces -> (batch, 7) logits.

    Example:
        >>> import torch
        >>> SwinSE()(torch.zeros(2, 1, 48, 48)).shape
        torch.Size([2, 7])
    """

    def __init__(self, cfg: SwinSEConfig = STUDENT):
        super().__init__()
        self.cfg = cfg
        if cfg.image % 4 or (cfg.image // 4) % cfg.windows[0]:
            raise ValueError(f"image size {cfg.image} must be a multiple of 4 whose quarter is divisible by the first window")
        self.stem = nn.Sequential(
            nn.Conv2d(1, cfg.stem, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cfg.stem), nn.GELU(),
            nn.Conv2d(cfg.stem, cfg.dim, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cfg.dim))
        size, dim = cfg.image // 4, cfg.dim
        total = sum(cfg.depths)
        rates = [cfg.drop_path * i / max(1, total - 1) for i in range(total)]
        self.stages, self.se, self.merges = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i, (depth, heads, window) in enumerate(zip(cfg.depths, cfg.heads, cfg.windows)):
            window = min(window, size)
            blocks = [SwinBlock(dim, heads, window, size, (window // 2) if (j % 2 and window < size) else 0,
                                cfg.mlp_ratio, rates.pop(0)) for j in range(depth)]
            self.stages.append(nn.Sequential(*blocks))
            self.se.append(SqueezeExcitation(dim, cfg.se_reduction))
            if i < len(cfg.depths) - 1:
                self.merges.append(PatchMerging(dim, size))
                size, dim = size // 2, dim * 2
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, cfg.classes)
        self.apply(_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).flatten(2).transpose(1, 2)  # (B, N, C)
        for i, stage in enumerate(self.stages):
            x = self.se[i](stage(x))
            if i < len(self.merges):
                x = self.merges[i](x)
        return self.head(self.norm(x).mean(dim=1))

    def export_form(self, target: str = "onnxruntime") -> "SwinSE":
        """The same function with fewer ONNX nodes for `target` (attention
        without window bookkeeping, folded scale, a fusible GELU): what
        `edgeaffect export` writes. See edgeaffect.fer.export_form."""
        from .export_form import swin_export_form

        return swin_export_form(self, target)


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.skip(x))


@dataclass(frozen=True)
class ConvTeacherConfig:
    widths: tuple[int, ...] = (32, 64, 128, 256)
    blocks: tuple[int, ...] = (1, 1, 1, 1)
    dropout: float = 0.3
    classes: int = len(LABELS)

    def as_dict(self) -> dict:
        return asdict(self)


TEACHER = ConvTeacherConfig()


class ConvTeacher(nn.Module):
    """A ResNet-style convnet for 48x48 faces: (batch, 1, 48, 48) -> (batch, 7) logits."""

    def __init__(self, cfg: ConvTeacherConfig = TEACHER):
        super().__init__()
        self.cfg = cfg
        w0 = cfg.widths[0]
        self.stem = nn.Sequential(nn.Conv2d(1, w0, 3, 1, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU())
        layers, cin = [], w0
        for i, (width, n) in enumerate(zip(cfg.widths, cfg.blocks)):
            for j in range(n):
                layers.append(BasicBlock(cin, width, 2 if (j == 0 and i > 0) else 1))
                cin = width
        self.layers = nn.Sequential(*layers)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cin, cfg.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.layers(self.stem(x)).mean(dim=(2, 3))))


def _shape_changes(defaults: dict, shape: str, what: str, example: str) -> dict:
    """`shape`'s comma-separated KEY=VALUE items as typed changes to `defaults`
    (tuples written with dashes); an unknown key or a bad value is an error
    that lists the keys."""
    changes = {}
    for item in filter(None, (part.strip() for part in shape.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in defaults or key in ("image", "classes"):
            allowed = ", ".join(k for k in defaults if k not in ("image", "classes"))
            raise ValueError(f"{what} shape item {item!r} must be KEY=VALUE with KEY one of: {allowed} "
                             f"(e.g. '{example}')")
        default = defaults[key]
        try:
            if isinstance(default, tuple):
                changes[key] = tuple(int(v) for v in value.split("-"))
            else:
                changes[key] = type(default)(value)
        except ValueError:
            expected = "integers joined by '-', e.g. 1-2-1" if isinstance(default, tuple) else type(default).__name__
            raise ValueError(f"{what} shape {key}={value!r}: expected {expected}") from None
    return {**defaults, **changes}


def student_config(shape: str = "") -> SwinSEConfig:
    """The student's configuration with `shape`'s changes: comma-separated
    key=value pairs of SwinSEConfig fields, tuples written with dashes.

    Example:
        >>> student_config("dim=32,stem=24,heads=1-2-4,depths=1-2-1").depths
        (1, 2, 1)
    """
    cfg = SwinSEConfig(**_shape_changes(STUDENT.as_dict(), shape, "student", "dim=32,heads=1-2-4,depths=1-2-1"))
    if not len(cfg.depths) == len(cfg.heads) == len(cfg.windows):
        raise ValueError(f"student shape: depths {cfg.depths}, heads {cfg.heads} and windows {cfg.windows} "
                         f"need one entry per stage each")
    widths = [cfg.dim * 2**i for i in range(len(cfg.depths))]
    if any(w % h for w, h in zip(widths, cfg.heads)):
        raise ValueError(f"student shape: stage widths {widths} must divide by their heads {cfg.heads}")
    return cfg


def teacher_config(shape: str = "") -> ConvTeacherConfig:
    """The convnet teacher's configuration with `shape`'s changes, written as
    for student_config. The default is sized for two CPU cores; a GPU trains
    a ResNet-18-sized one in minutes.

    Example:
        >>> teacher_config("widths=64-128-256-512,blocks=2-2-2-2").blocks
        (2, 2, 2, 2)
    """
    cfg = ConvTeacherConfig(**_shape_changes(TEACHER.as_dict(), shape, "teacher", "widths=64-128-256-512,blocks=2-2-2-2"))
    if len(cfg.widths) != len(cfg.blocks) or min(cfg.widths + cfg.blocks) < 1:
        raise ValueError(f"teacher shape: widths {cfg.widths} and blocks {cfg.blocks} need one positive entry per "
                         "stage each")
    if not 0 <= cfg.dropout < 1:
        raise ValueError(f"teacher shape: dropout {cfg.dropout} must be in [0, 1)")
    return cfg


def build_student(architecture: dict | None = None) -> SwinSE:
    """The student: the shipped shape, or `architecture` (SwinSEConfig fields,
    as a checkpoint's or a safetensors file's metadata holds them)."""
    if architecture is None:
        return SwinSE(STUDENT)
    return SwinSE(SwinSEConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in architecture.items()}))


def build_teacher() -> ConvTeacher:
    return ConvTeacher(TEACHER)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
