"""HRNet: the high-resolution backbone (Wang et al., 2019), described as data.

HRNet keeps a full-resolution branch (stride 4) through the whole network and adds one
lower-resolution branch per stage; after every module all branches exchange information
(*fusion*: each branch receives the sum of all others, resampled to its resolution).

    stem (two 3x3 stride-2 convs, 64 ch)  ->  stage 1: Bottleneck blocks at stride 4
    stage 2: 2 branches (C, 2C)          strides 4, 8
    stage 3: 3 branches (C, 2C, 4C)      strides 4, 8, 16
    stage 4: 4 branches (C, 2C, 4C, 8C)  strides 4, 8, 16, 32
    output: all branches upsampled to stride 4 and concatenated -> 15C channels

``C`` is the *width* (18 or 32). RITM's variants differ only in the numbers below, so a variant
is a :class:`HRNetSpec` and :class:`HRNet` reads it. Attribute names (``conv1``, ``layer1``,
``transition1``, ``stage2.0.branches``, ``fuse_layers`` ...) follow the original code, so that
official checkpoints load unchanged.

The stem is where RITM injects the clicks: :meth:`HRNet.stem` adds the Conv1S output after the
first convolution (``conv1 -> bn1 -> relu -> + clicks -> conv2 -> bn2 -> relu``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import conv_bn

STEM_CHANNELS = 64


@dataclass(frozen=True)
class StageSpec:
    """One HRNet stage."""

    num_modules: int  # high-resolution modules in sequence (each = branches + fusion)
    num_branches: int  # parallel resolutions; branch b has width * 2**b channels
    num_blocks: int  # BasicBlocks per branch in every module


@dataclass(frozen=True)
class HRNetSpec:
    """A whole HRNet variant."""

    width: int  # channels of the highest-resolution branch
    stage1_blocks: int  # Bottleneck blocks in stage 1 (``layer1``)
    stages: tuple[StageSpec, ...]  # stages 2, 3, 4

    @property
    def out_channels(self) -> int:
        """Channels of the concatenated output: width * (1 + 2 + 4 + 8)."""
        return sum(self.width * 2**b for b in range(self.stages[-1].num_branches))


HRNET_W18_SMALL = HRNetSpec(18, 2, (StageSpec(1, 2, 2), StageSpec(3, 3, 2), StageSpec(2, 4, 2)))
HRNET_W18 = HRNetSpec(18, 4, (StageSpec(1, 2, 4), StageSpec(4, 3, 4), StageSpec(3, 4, 4)))
HRNET_W32 = HRNetSpec(32, 4, (StageSpec(1, 2, 4), StageSpec(4, 3, 4), StageSpec(3, 4, 4)))


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (ResNet V1b). ``(B, C, H, W) -> same``."""

    expansion = 1

    def __init__(self, in_ch: int, ch: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 convs, output ``4 * ch`` channels, with a residual connection."""

    expansion = 4

    def __init__(self, in_ch: int, ch: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, ch, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.conv3 = nn.Conv2d(ch, ch * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(ch * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


def resample_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``x`` to ``like``'s spatial size (``align_corners=True``, as RITM)."""
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=True)


class HRModule(nn.Module):
    """One high-resolution module: parallel branches of BasicBlocks, then multi-scale fusion.

    Fusion of output ``i`` sums every input ``j`` brought to branch ``i``'s shape:
    ``j > i`` (lower resolution): 1x1 conv + BN, then bilinear upsampling;
    ``j < i`` (higher resolution): ``i - j`` strided 3x3 convs (ReLU between them);
    ``j == i``: identity.
    """

    def __init__(self, channels: list[int], num_blocks: int):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(ch, ch) for _ in range(num_blocks)]) for ch in channels
        )
        n = len(channels)
        self.fuse_layers = None
        if n > 1:
            self.fuse_layers = nn.ModuleList(
                nn.ModuleList(self._fuse_path(channels, j, i) for j in range(n)) for i in range(n)
            )
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _fuse_path(channels: list[int], src: int, dst: int) -> nn.Module:
        if src == dst:
            return nn.Identity()
        if src > dst:
            return conv_bn(channels[src], channels[dst], 1)
        steps = [conv_bn(channels[src], channels[src], 3, stride=2, relu=True) for _ in range(dst - src - 1)]
        steps.append(conv_bn(channels[src], channels[dst], 3, stride=2))
        return nn.Sequential(*steps)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        fused = []
        for i, paths in enumerate(self.fuse_layers):
            y = None
            for j, (path, x) in enumerate(zip(paths, xs)):
                term = path(x)
                if j > i:
                    term = resample_to(term, xs[i])
                y = term if y is None else y + term
            fused.append(self.relu(y))
        return fused


class HRNet(nn.Module):
    """HRNet backbone. ``(B, 3, H, W) -> (B, spec.out_channels, H/4, W/4)``.

    Args:
        spec: the variant (:data:`HRNET_W18_SMALL`, :data:`HRNET_W18`, :data:`HRNET_W32`).
    """

    def __init__(self, spec: HRNetSpec):
        super().__init__()
        self.spec = spec
        self.conv1 = nn.Conv2d(3, STEM_CHANNELS, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM_CHANNELS)
        self.conv2 = nn.Conv2d(STEM_CHANNELS, STEM_CHANNELS, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(STEM_CHANNELS)
        self.relu = nn.ReLU(inplace=True)

        layer1_out = STEM_CHANNELS * Bottleneck.expansion
        downsample = conv_bn(STEM_CHANNELS, layer1_out, 1)
        self.layer1 = nn.Sequential(
            Bottleneck(STEM_CHANNELS, STEM_CHANNELS, downsample=downsample),
            *[Bottleneck(layer1_out, STEM_CHANNELS) for _ in range(spec.stage1_blocks - 1)],
        )

        previous = [layer1_out]
        for index, stage in enumerate(spec.stages, start=2):
            channels = [spec.width * 2**b for b in range(stage.num_branches)]
            setattr(self, f"transition{index - 1}", self._transition(previous, channels))
            modules = [HRModule(channels, stage.num_blocks) for _ in range(stage.num_modules)]
            setattr(self, f"stage{index}", nn.Sequential(*modules))
            previous = channels

    @staticmethod
    def _transition(previous: list[int], channels: list[int]) -> nn.ModuleList:
        """Adapt the previous stage's branches and create the new, lower-resolution branch."""
        layers: list[nn.Module] = []
        for b, ch in enumerate(channels):
            if b < len(previous):
                same = previous[b] == ch
                layers.append(nn.Identity() if same else conv_bn(previous[b], ch, 3, relu=True))
            else:  # new branch: strided conv from the lowest-resolution existing branch
                layers.append(nn.Sequential(conv_bn(previous[-1], ch, 3, stride=2, relu=True)))
        return nn.ModuleList(layers)

    def stem(self, x: torch.Tensor, click_features: torch.Tensor | None = None) -> torch.Tensor:
        """Two stride-2 convs, ``(B, 3, H, W) -> (B, 64, H/4, W/4)``.

        ``click_features`` ``(B, 64, H/2, W/2)`` (Conv1S's output) is added after the first conv.
        """
        return self.stem_rest(self.stem_image(x), click_features)

    def stem_rest(self, stem: torch.Tensor, click_features: torch.Tensor | None = None) -> torch.Tensor:
        """``stem_image``'s output (+ Conv1S's) -> ``conv2 -> bn2 -> relu``: ``(B, 64, H/4, W/4)``."""
        x = stem if click_features is None else stem + click_features
        return self.relu(self.bn2(self.conv2(x)))

    def stem_image(self, x: torch.Tensor) -> torch.Tensor:
        """The stem's first conv, ``conv1 -> bn1 -> relu``: ``(B, 3, H, W) -> (B, 64, H/2, W/2)``.

        It sees only the image, not the clicks, so a predictor may compute it once per image
        (:class:`ritm_lite.inference.fast.FastRITM` does).
        """
        return self.relu(self.bn1(self.conv1(x)))

    def forward(self, x: torch.Tensor, click_features: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(self.stem(x, click_features))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """Everything after the stem: ``(B, 64, H/4, W/4) -> (B, spec.out_channels, H/4, W/4)``.

        The branches of :meth:`branches`, upsampled to the first one's size and concatenated.
        """
        branches = self.branches(x)
        return torch.cat([branches[0]] + [resample_to(b, branches[0]) for b in branches[1:]], dim=1)

    def branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The multi-resolution outputs of the last stage, ``(B, width * 2^b, H/4/2^b, W/4/2^b)``."""
        branches = [self.layer1(x)]
        for index in range(2, len(self.spec.stages) + 2):
            transition = getattr(self, f"transition{index - 1}")
            inputs = [t(branches[min(b, len(branches) - 1)]) for b, t in enumerate(transition)]
            branches = getattr(self, f"stage{index}")(inputs)
        return branches
