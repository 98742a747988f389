"""DeepLabV3+ on a ResNet-34: the original code's other interactive model, Table 4's baseline.

The paper measures its HRNet models against a DeepLabV3+ with a ResNet-34 backbone (Table 4,
parameters and FLOPs; the comparisons of Sec. 5). The original repository builds that model
in ``models/noniterative_baselines/r34_dh128_{sbd,coco,cocolvis}.py`` as

    DeeplabModel(backbone='resnet34', deeplab_ch=128, aspp_dropout=0.20, use_leaky_relu=True,
                 use_rgb_conv=False, use_disks=True, norm_radius=5)

(``isegm/model/is_deeplab_model.py``), from the parts of ``isegm/model/modeling/``:
``deeplab_v3.py`` (``DeepLabV3Plus``, ASPP, skip projection, decoder head), ``resnet.py`` and
``resnetv1b.py`` (the backbone), ``basic_blocks.py`` (``SepConvHead``, ``SeparableConv2d``).
This module rebuilds it behind the same :class:`~ritm_lite.model.ritm.RITMModel` as HRNet,
with the original's state-dict keys (``feature_extractor.backbone.layer3.0.conv2.weight``,
``feature_extractor.aspp.concurent.1.0.weight``, ``head.layers.2.bias`` ...)::

    image (B, 3, H, W) -> ImageNet mean/std -> conv1 7x7/2 -> bn1 -> relu   (B, 64, H/2, W/2)
                                                     (+) Conv1S([prev mask, pos, neg] disks)
    -> maxpool -> layer1  C1 (64, H/4) -> layer2 (128, H/8)
               -> layer3 (256, H/8, dilation 2) -> layer4  C4 (512, H/8, dilation 4)
    ASPP(C4) (128, H/8) --bilinear--> H/4, concat skip_project(C1) (32, H/4)
    -> decoder head (2 separable convs + 1x1)   features (B, 128, H/4, W/4)
    -> SepConvHead (the model's ``head``)       logits   (B, 1, H/4, W/4)

**The backbone** is Gluon's ResNet-34 "v1b" (``resnet34_v1b``: the plain 7x7 stem, not the
deep 3x3 stem of the v1s ResNet-50/101 variants; ImageNet weights ``gluon_resnet34_v1b``,
timm's ``resnet34.gluon_in1k``), *dilated*: ``ResNetBackbone(dilated=True)`` replaces the
strides of layer3 and layer4 by dilations 2 and 4, so the two widest stages run at stride 8.
That one choice is why this model costs four times HRNet-W18's FLOPs. timm's ``resnet34`` with
``output_stride=8`` is that network, dilations included (each stage's first block keeps the
previous dilation in its first conv), with the same key names, so it is used as it is.

**Table 4 measured** (``benchmarks/complexity.py``, 400x400, one click): 23.35 M parameters
and 122.14 GFLOPs; the paper gives 19.17 M and 122.28 G. The FLOPs agree to 0.1 %; the
paper's parameter count is below that of the ResNet-34 trunk alone (21.28 M), so it cannot
count the network the original code builds, whose parameters the tests add up from its code.

**What this model does differently from the original**, both visible in the tests:

* the ``"deeplab_r34"`` preset takes the previous mask as an input, as the ITER-M models do
  (the original's ``DeeplabModel(..., with_prev_mask=True)``): Conv1S reads 3 maps. The
  repository's ResNet-34 configs are *non-iterative* baselines without it, whose
  ``maps_transform.0.weight`` is ``(16, 2, 1, 1)`` (16 parameters fewer); ``ModelConfig(backbone=
  "deeplab_r34", decoder_width=128, prev_mask=False)`` builds exactly that model (its
  ``previous_mask`` part is :class:`~ritm_lite.model.click_encoding.NoPreviousMask`);
* the original DeepLab has no auxiliary head, so ``"instances_aux"`` repeats the main logits
  (:meth:`DeepLabModel.trunk`): every caller keeps one output contract. An auxiliary loss
  would then fall on the main logits, so the trainer refuses ``aux_loss_weight > 0`` for it
  (``has_aux_output``); the original trains this model with its main loss alone.
"""

from __future__ import annotations

import importlib

import torch
import torch.nn.functional as F
from torch import nn

from .init import xavier_gluon_init
from .layers import conv_bn_relu
from .ritm import IMAGENET_MEAN, IMAGENET_STD, RITMModel

ATROUS_RATES = (12, 24, 36)  # the original's ASPP rates (at output stride 8)
SKIP_CHANNELS = 32  # C1 is projected to this many channels before the concatenation
ASPP_DROPOUT = 0.2  # ``aspp_dropout`` of the original's ResNet-34 configs (its default is 0.5)


class SeparableConv2d(nn.Module):
    """Depthwise 3x3, then pointwise 1x1, BatchNorm, ReLU: ``(B, C_in, H, W) -> (B, C_out, H, W)``.

    ``y = relu(bn(W_pw (W_dw * x)))``: ``C_in * 9 + C_in * C_out`` weights instead of a full 3x3
    conv's ``C_in * C_out * 9``. Stored as ``body.0`` (depthwise), ``body.1``, ``body.2`` (BN).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def separable_stack(in_channels: int, mid_channels: int, out_channels: int) -> nn.Sequential:
    """Two :class:`SeparableConv2d` and a 1x1 conv with bias: ``(B, C_in, H, W) -> (B, C_out, H, W)``."""
    return nn.Sequential(
        SeparableConv2d(in_channels, mid_channels),
        SeparableConv2d(mid_channels, mid_channels),
        nn.Conv2d(mid_channels, out_channels, 1),
    )


class DecoderHead(nn.Module):
    """DeepLabV3+'s decoder on ``[up(ASPP), skip]``: ``(B, ch + 32, H/4, W/4) -> (B, ch, H/4, W/4)``
    (the original's ``_DeepLabHead``, stored as ``block``)."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.block = separable_stack(in_channels, channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class SepConvHead(nn.Module):
    """The logits head on the decoder features: ``(B, ch, h, w) -> (B, 1, h, w)``, width ``ch / 2``
    (the original's ``SepConvHead(1, ch, ch // 2, num_layers=2)``, stored as ``layers``)."""

    def __init__(self, in_channels: int, mid_channels: int):
        super().__init__()
        self.layers = separable_stack(in_channels, mid_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class AsppPooling(nn.Module):
    """ASPP's image-level branch: ``up(relu(bn(W * mean_hw(x))))``, ``(B, C, h, w) -> (B, ch, h, w)``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.gap = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.gap(x), size=x.shape[-2:], mode="bilinear", align_corners=True)  # a broadcast


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: ``(B, C, h, w) -> (B, ch, h, w)``.

    Five parallel branches on the same input, concatenated and projected:

        y = dropout(relu(bn(W_proj [B_1x1(x), B_r1(x), B_r2(x), B_r3(x), B_pool(x)])))

    ``B_r`` is a 3x3 conv with dilation ``r`` (receptive field ``2r + 1``: 25, 49 and 73 pixels
    of C4 for the original's rates 12, 24, 36, i.e. 200-600 input pixels at stride 8),
    ``B_pool`` :class:`AsppPooling`. Keys follow the original (its spelling ``concurent``).
    """

    def __init__(self, in_channels: int, out_channels: int, rates: tuple[int, ...] = ATROUS_RATES,
                 dropout: float = ASPP_DROPOUT):
        super().__init__()
        self.concurent = nn.ModuleList([
            conv_bn_relu(in_channels, out_channels, 1),
            *(conv_bn_relu(in_channels, out_channels, 3, dilation=rate) for rate in rates),
            AsppPooling(in_channels, out_channels),
        ])
        self.project = nn.Sequential(
            nn.Conv2d(len(self.concurent) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.concurent], dim=1))


class SkipProject(nn.Module):
    """``relu(bn(W * C1))``: the low-level features squeezed to 32 channels (``skip_project.skip_project``)."""

    def __init__(self, in_channels: int, out_channels: int = SKIP_CHANNELS):
        super().__init__()
        self.skip_project = conv_bn_relu(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip_project(x)


class ResNetBackbone(nn.Module):
    """The dilated ResNet (output stride 8) without its classifier: timm's network, the original's keys.

    ``stem_image``: ``(B, 3, H, W) -> (B, 64, H/2, W/2)``; ``body``: that (+ clicks) ->
    ``[C1 (64, H/4), C2 (128, H/8), C3 (256, H/8), C4 (512, H/8)]`` for ResNet-34.
    """

    def __init__(self, arch: str = "resnet34"):
        super().__init__()
        try:
            timm = importlib.import_module("timm")
        except ImportError as error:  # pragma: no cover - timm is a dependency
            raise ImportError("the DeepLab backbone needs timm: pip install timm") from error
        net = timm.create_model(arch, pretrained=False, output_stride=8)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.act1, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.stem_channels = self.conv1.out_channels
        self.widths = tuple(info["num_chs"] for info in net.feature_info if info["module"].startswith("layer"))

    def stem_image(self, x: torch.Tensor) -> torch.Tensor:
        """``conv1 -> bn1 -> relu``, the image alone: ``(B, 3, H, W) -> (B, 64, H/2, W/2)``."""
        return self.relu(self.bn1(self.conv1(x)))

    def body(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``maxpool -> layer1 .. layer4`` on the stem's output (clicks added): ``[C1, C2, C3, C4]``."""
        feats, x = [], self.maxpool(x)
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = stage(x)
            feats.append(x)
        return feats


class DeepLabV3Plus(nn.Module):
    """Backbone + ASPP + decoder: the original's ``feature_extractor`` of ``DeeplabModel``.

    ``(B, 3, H, W)`` normalised RGB and Conv1S's ``(B, 64, H/2, W/2)`` -> features
    ``(B, ch, H/4, W/4)``; ``stem_image`` / ``from_stem`` split it where the clicks enter, as
    :class:`~ritm_lite.model.ocr.HRNetOCR` does. A :class:`~ritm_lite.model.build.FeatureExtractor`.
    """

    full_rate_modules = ("head", "skip_project", "aspp")  # the original: backbone lr x0.1, the rest x1
    input_mean, input_std = IMAGENET_MEAN, IMAGENET_STD  # Gluon's ImageNet ResNet

    def __init__(self, arch: str = "resnet34", channels: int = 128, aspp_dropout: float = ASPP_DROPOUT):
        super().__init__()
        self.channels = channels
        self.backbone = ResNetBackbone(arch)
        c1, *_, c4 = self.backbone.widths
        self.head = DecoderHead(channels + SKIP_CHANNELS, channels)  # registered in the original's order
        self.skip_project = SkipProject(c1)
        self.aspp = ASPP(c4, channels, dropout=aspp_dropout)
        self.stem_channels = self.backbone.stem_channels

    def stem_image(self, x: torch.Tensor) -> torch.Tensor:
        """The click-independent part: ``(B, 3, H, W) -> (B, 64, H/2, W/2)``."""
        return self.backbone.stem_image(x)

    def from_stem(self, stem: torch.Tensor, click_features: torch.Tensor | None = None) -> torch.Tensor:
        """The click-dependent rest: ``stem (+ clicks)`` -> backbone -> ASPP + decoder, ``(B, ch, H/4, W/4)``.

        The clicks are added after ``relu``, before ``maxpool``, as in the original (which pads
        narrower click features with zero channels; Conv1S has the stem's 64, so none is needed).
        """
        x = stem if click_features is None else stem + click_features
        c1, _, _, c4 = self.backbone.body(x)
        skip = self.skip_project(c1)  # (B, 32, H/4, W/4)
        context = F.interpolate(self.aspp(c4), size=skip.shape[-2:], mode="bilinear", align_corners=True)
        return self.head(torch.cat([context, skip], dim=1))  # decoder(concat(up(ASPP(C4)), proj(C1)))

    def forward(self, x: torch.Tensor, click_features: torch.Tensor | None = None) -> torch.Tensor:
        return self.from_stem(self.stem_image(x), click_features)

    def init_weights(self) -> None:
        """The original's Xavier initialisation of every layer, as its training scripts do before
        loading ImageNet weights into the backbone."""
        xavier_gluon_init(self)


class DeepLabModel(RITMModel):
    """The original's ``DeeplabModel``: a :class:`RITMModel` whose features get a separate ``head``.

    ``feature_extractor`` (:class:`DeepLabV3Plus`) returns features, and the model's ``head``
    (:class:`SepConvHead` of the extractor's width, built here) turns them into logits, as in
    the original (whose state dict has the head at the top level: ``head.layers.*``).
    ``forward`` is :meth:`RITMModel.forward`: ``(B, 4, H, W), (B, 2N, 3) -> {"instances",
    "instances_aux"}``, both ``(B, 1, H, W)``. The arguments are :class:`RITMModel`'s.
    """

    has_aux_output = False  # "instances_aux" repeats "instances": the trainer refuses an auxiliary loss

    def __init__(self, feature_extractor: DeepLabV3Plus, maps_transform: nn.Module, click_maps: nn.Module,
                 config=None, **parts):
        super().__init__(feature_extractor, maps_transform, click_maps, config, **parts)
        self.head = SepConvHead(feature_extractor.channels, feature_extractor.channels // 2)

    def trunk(self, image_features: torch.Tensor, coord_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Conv1S (+) stem -> backbone -> ASPP + decoder -> ``head``: logits ``(B, 1, H/4, W/4)``.

        Returned twice (main and "auxiliary"): the original model has no auxiliary head.
        """
        logits = self.head(self.feature_extractor.from_stem(image_features, self.maps_transform(coord_features)))
        return logits, logits
