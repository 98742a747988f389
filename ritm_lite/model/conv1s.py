"""Conv1S: how the click maps and the previous mask enter the backbone.

The paper (Sec. 3.2) compares three ways to feed the auxiliary channels
``[previous mask, positive disks, negative disks]`` to a backbone pretrained on RGB images:

* **DMF** (distance maps fusion, from f-BRS): concatenate RGB and the maps, squeeze them back
  to 3 channels with 1x1 convolutions, and feed *that* to the backbone. The pretrained first
  layer no longer sees the image it was trained on.
* **Conv1E** (extended first conv): give the first convolution extra input channels for the
  maps. The original code implements it (``conv_extend=True``) as one 3x3 stride-2
  convolution on the maps whose output is added where Conv1S's is, trained with the
  backbone's small learning rate.
* **Conv1S** (separate conv branch, RITM's choice): a small convolutional branch on the maps
  whose output is added to the output of the backbone's first stem convolution. The RGB path
  is untouched, so the backbone keeps its pretrained weights, and the new branch can be trained
  with a larger learning rate.

The paper draws Conv1S as a single convolution; **the original code** (which we follow) has
a slightly richer branch, built in ``ISModel`` as ``maps_transform``:

    Conv2d(3 -> 16, 1x1) -> LeakyReLU(0.2) -> Conv2d(16 -> 64, 3x3, stride 2) -> ScaleLayer(0.05)

The learnable scale starts at 0.05, so at initialisation the branch barely disturbs the
pretrained stem. Its output is added after the stem's ``conv1 -> bn1 -> relu`` (see
:meth:`ritm_lite.model.hrnet.HRNet.stem`). The module keeps the original's child indices
(``0``, ``2``, ``3``) so that official checkpoints load: ``maps_transform.3.scale`` etc.
"""

from __future__ import annotations

import torch
from torch import nn


class ScaleLayer(nn.Module):
    """Multiply by a learnable positive scalar: ``y = x * |scale * lr_mult|``.

    ``lr_mult`` rescales the parameter so that plain SGD/Adam effectively trains it with a
    learning rate multiplied by ``lr_mult`` (the original uses 1).
    """

    def __init__(self, init_value: float = 1.0, lr_mult: float = 1.0) -> None:
        super().__init__()
        self.lr_mult = lr_mult
        self.scale = nn.Parameter(torch.full((1,), init_value / lr_mult, dtype=torch.float32))

    @torch.no_grad()
    def set_value(self, value: float) -> None:
        """Set the effective scale ``|scale * lr_mult|`` to ``value`` (> 0)."""
        self.scale.fill_(value / self.lr_mult)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.abs(self.scale * self.lr_mult)


class Conv1S(nn.Sequential):
    """RITM's click branch. ``(B, C_in, H, W) -> (B, 64, H/2, W/2)`` (C_in = 3 by default).

    The output matches the stem's first convolution (64 channels, stride 2) and is added to it.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 64, hidden_channels: int = 16,
                 leaky_relu: bool = True, init_scale: float = 0.05) -> None:
        super().__init__(
            nn.Conv2d(in_channels, hidden_channels, kernel_size=1),
            nn.LeakyReLU(negative_slope=0.2) if leaky_relu else nn.ReLU(inplace=True),
            nn.Conv2d(hidden_channels, out_channels, kernel_size=3, stride=2, padding=1),
            ScaleLayer(init_value=init_scale, lr_mult=1.0),
        )


class Conv1E(nn.Conv2d):
    """The paper's Conv1E ablation as the original code builds it.

    One 3x3 stride-2 conv on the maps, ``(B, C_in, H, W) -> (B, 64, H/2, W/2)``, added after
    the stem's ``conv1 -> bn1 -> relu`` like Conv1S (a true extension of ``conv1`` would add
    before BatchNorm). The original trains it with lr multiplier 0.1, like the backbone.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 64) -> None:
        super().__init__(in_channels, out_channels, kernel_size=3, stride=2, padding=1)


class DistanceMapsFusion(nn.Sequential):
    """The DMF ablation (f-BRS): ``concat(rgb, maps) -> 1x1 conv -> BN -> act -> 1x1 conv -> 3``.

    Its output *replaces* the normalised RGB image as the backbone input
    (``(B, 3 + C, H, W) -> (B, 3, H, W)``). Stored as ``rgb_conv`` in the original.
    """

    def __init__(self, in_channels: int = 3, leaky_relu: bool = True) -> None:
        hidden = 6 + in_channels
        super().__init__(
            nn.Conv2d(3 + in_channels, hidden, kernel_size=1),
            nn.BatchNorm2d(hidden),
            nn.LeakyReLU(negative_slope=0.2) if leaky_relu else nn.ReLU(inplace=True),
            nn.Conv2d(hidden, 3, kernel_size=1),
        )
