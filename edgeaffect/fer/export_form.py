"""The Swin-SE student rewritten for export: the same function, fewer graph nodes.

The student's ONNX graph in its training form has 315 nodes for 50 MFLOPs;
at batch 1 each node is a dispatch, and the window bookkeeping of attention
(torch.roll slices, window partition and reverse) is a good share of them.
Training keeps that textbook form (windows are cheap to train); the exporter
writes this one and validates it against the training form
(`edgeaffect.export.onnx_export.export_onnx`):

* **Attention over a whole map as plain attention.** Where one window covers
  the map (stages 2 and 3 of the student), the window partition is the
  identity: attention runs on the tokens as they are, with the relative-
  position bias as one constant (heads, N, N) term.
* **For OpenVINO, window attention as masked full attention** (stage 1:
  12x12 tokens, 4 windows of 6x6, shifted in every second block). Attention
  inside windows equals attention over all tokens of the map with one
  constant term per head: the window's relative-position bias (plus, for
  shifted windows, the shift mask) for two tokens of the same window, -1e4
  for two tokens of different windows (exp(-1e4) is 0 in float32, as it
  already is for the shift mask). The roll and the partition disappear;
  stage 1 does 4x its attention products (+3 M multiply-adds per face over its
  two blocks: 49.9 -> 55.9 MFLOPs).
  Measured (`benchmarks/bench_fer_graph.py`, time at batch 1 as a ratio of
  the training graph's): OpenVINO INT8 on 2 threads 0.84x with this form,
  0.91x with stage 1 windowed; ONNX Runtime fp32 on one thread 1.14x with
  this form, 0.98x windowed (on 2 threads 0.94x and 0.90x). So OpenVINO gets
  this form, and other targets keep stage 1's windows.
* **The 1/sqrt(head_dim) scale folded into the query weights**, and the
  query/key/value split on a head axis (one Split, no Squeezes).
* **GELU written as x * 0.5 * (1 + erf(x / sqrt 2))**, the order ONNX
  Runtime's GELU fusion recognises (torch's exporter writes 0.5 * (1 + erf)
  first, which it does not); OpenVINO fuses either.

315 nodes become 259 (stage 1 windowed) or 217 (all masked full attention).

Example:
    >>> import torch
    >>> from edgeaffect.fer.model import SwinSE
    >>> model = SwinSE().eval()
    >>> x = torch.randn(3, 1, 48, 48)
    >>> bool(torch.allclose(model(x), model.export_form("openvino")(x), atol=1e-4))
    True
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .model import SwinSE, WindowAttention

WINDOW_MASK = -1e4  # the shift mask's value: large, and finite in fp16 exports


def full_attention_bias(attn: WindowAttention) -> torch.Tensor:
    """(heads, N, N) additive term over all N = size**2 tokens, in the map's
    (unshifted) row-major order, equal to `attn`'s window attention."""
    s, w, shift, heads = attn.size, attn.window, attn.shift, attn.heads
    t = w * w
    table = attn.bias_table[attn.bias_index].view(t, t, heads).permute(2, 0, 1)  # (heads, t, t)
    row, col = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    # where each token lands once the map is rolled by -shift, as the window path does
    row, col = (row.flatten() - shift) % s, (col.flatten() - shift) % s
    window = (row // w) * (s // w) + col // w
    inside = (row % w) * w + col % w
    bias = table[:, inside[:, None], inside[None, :]]
    if attn.mask.shape[0] > 1:  # shifted windows: the mask of the window both tokens are in
        bias = bias + attn.mask[window[:, None], inside[:, None], inside[None, :]]
    same_window = window[:, None] == window[None, :]
    return torch.where(same_window, bias, torch.full_like(bias, WINDOW_MASK))


class MaskedFullAttention(nn.Module):
    """`WindowAttention` with the same weights, computed over the whole map."""

    def __init__(self, attn: WindowAttention):
        super().__init__()
        dim = attn.qkv.in_features
        self.heads, self.head_dim = attn.heads, attn.head_dim
        self.qkv = copy.deepcopy(attn.qkv)
        with torch.no_grad():
            self.qkv.weight[:dim] *= attn.head_dim**-0.5
            self.qkv.bias[:dim] *= attn.head_dim**-0.5
        self.proj = copy.deepcopy(attn.proj)
        self.register_buffer("bias", full_attention_bias(attn).detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).view(b, n, 3 * self.heads, self.head_dim).transpose(1, 2)
        q, k, v = qkv.split(self.heads, dim=1)
        y = (q @ k.transpose(-2, -1) + self.bias.to(q.dtype)).softmax(dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, n, c))


class ErfGelu(nn.Module):
    """Exact (erf) GELU, written in the order ONNX Runtime fuses."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.5 * (1.0 + torch.erf(x / 1.4142135623730951))


# Targets whose runtime gains from masked full attention in windowed stages (see above).
FULL_ATTENTION_TARGETS = ("openvino",)


def swin_export_form(model: SwinSE, target: str = "onnxruntime") -> SwinSE:
    """A copy of `model` (eval mode) in the export form for `target` (a
    profile's target: onnxruntime, openvino, tensorrt); `model` is unchanged."""
    out = copy.deepcopy(model).eval()
    everywhere = target in FULL_ATTENTION_TARGETS
    for stage in out.stages:
        for block in stage:
            if everywhere or block.attn.window == block.attn.size:
                block.attn = MaskedFullAttention(block.attn)
            block.mlp[1] = ErfGelu()
    for se in out.se:
        se.act = ErfGelu()
    return out
