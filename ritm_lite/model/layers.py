"""The small layer stacks every backbone and head is built from.

Each is an ``nn.Sequential`` so that its children are numbered ``0, 1, 2``: the original
code's state-dict keys (``...downsample.0.weight``, ``...concurent.1.1.running_mean``) come
from exactly this nesting, so official checkpoints load into them unchanged.
"""

from __future__ import annotations

from torch import nn


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1,
            relu: bool = False) -> nn.Sequential:
    """``Conv2d`` (no bias) -> ``BatchNorm2d`` (-> ``ReLU``): ``(B, C_in, H, W) -> (B, C_out, H/s, W/s)``.

    "Same" padding for odd kernels: ``padding = dilation * (k // 2)``, so stride 1 keeps the size
    (HRNet's fuse and transition layers; DeepLab's ASPP branches with ``dilation`` = the rate).
    """
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=dilation * (kernel_size // 2),
                  dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1) -> nn.Sequential:
    """``Conv2d (no bias) -> BatchNorm2d -> ReLU`` at stride 1, size kept (:func:`conv_bn` with ``relu``):
    the EfficientNet-Lite decoder's layers, DeepLab's ASPP branches and skip projection."""
    return conv_bn(in_channels, out_channels, kernel_size, dilation=dilation, relu=True)


def bn_relu(channels: int) -> nn.Sequential:
    """``BatchNorm2d`` + ``ReLU`` as one unit (OCR nests it, which shapes its key names)."""
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
