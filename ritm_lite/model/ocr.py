"""OCR: object-contextual representations (Yuan et al., 2020), RITM's segmentation head.

On top of the HRNet features ``X`` (stride 4) the head works in three steps:

1. **Soft object regions**: an auxiliary head predicts a coarse mask ``M`` (1 channel here —
   the object). It is also trained directly (``instances_aux``, BCE with weight 0.4).
2. **Object representation** (*gather*): ``f_k = sum_p softmax_p(M_k)[p] * X'(p)`` — an
   attention-weighted average of the pixel features ``X' = conv3x3(X)`` over the region.
3. **Pixel-region relation** (*distribute*): every pixel attends to the object
   representations, ``w_pk = softmax_k(phi(x_p)^T psi(f_k) / sqrt(d))``; the context
   ``y_p = rho(sum_k w_pk delta(f_k))`` is concatenated with ``x_p`` and fused by a 1x1 conv.

With a single class the softmax over ``k`` in step 3 is over one element (always 1), so the
context is the transformed object representation broadcast to every pixel — but we keep the
general form, because the original's weights include ``f_pixel`` and ``f_object``.

Module and attribute names (``conv3x3_ocr``, ``ocr_gather_head``, ``ocr_distri_head``,
``object_context_block.f_pixel`` ...) follow the original code so that checkpoints load.
:class:`HRNetOCR` puts the head on the backbone, as the original's ``feature_extractor``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .hrnet import STEM_CHANNELS, HRNet, HRNetSpec
from .init import xavier_gluon_init
from .layers import bn_relu
from .ritm import IMAGENET_MEAN, IMAGENET_STD


def conv1x1_bn_relu(in_ch: int, out_ch: int) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, 1, bias=False), bn_relu(out_ch)]


class SpatialGather(nn.Module):
    """Step 2: object representations from soft regions.

    ``feats (B, C, H, W)``, ``regions (B, K, H, W)`` logits -> ``(B, C, K, 1)``.
    """

    def forward(self, feats: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        batch, classes = regions.shape[:2]
        weights = F.softmax(regions.reshape(batch, classes, -1), dim=2)  # softmax_p(M_k), (B, K, HW)
        pixels = feats.reshape(batch, feats.shape[1], -1).permute(0, 2, 1)  # (B, HW, C)
        objects = torch.matmul(weights, pixels)  # f_k = sum_p softmax_p(M_k)[p] X'(p), (B, K, C)
        return objects.permute(0, 2, 1).unsqueeze(3)


class ObjectAttention(nn.Module):
    """Step 3a: pixel-region attention, ``(B, C, H, W), (B, C, K, 1) -> (B, C, H, W)``."""

    def __init__(self, in_channels: int, key_channels: int):
        super().__init__()
        self.key_channels = key_channels
        self.f_pixel = nn.Sequential(*conv1x1_bn_relu(in_channels, key_channels),
                                     *conv1x1_bn_relu(key_channels, key_channels))
        self.f_object = nn.Sequential(*conv1x1_bn_relu(in_channels, key_channels),
                                      *conv1x1_bn_relu(key_channels, key_channels))
        self.f_down = nn.Sequential(*conv1x1_bn_relu(in_channels, key_channels))
        self.f_up = nn.Sequential(*conv1x1_bn_relu(key_channels, in_channels))

    def forward(self, feats: torch.Tensor, objects: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = feats.shape
        query = self.f_pixel(feats).reshape(batch, self.key_channels, -1).permute(0, 2, 1)  # B,HW,D
        key = self.f_object(objects).reshape(batch, self.key_channels, -1)  # B,D,K
        value = self.f_down(objects).reshape(batch, self.key_channels, -1).permute(0, 2, 1)  # B,K,D
        relation = F.softmax(torch.matmul(query, key) * self.key_channels**-0.5, dim=-1)  # w_pk = softmax_k(phi^T psi / sqrt(d)), B,HW,K
        context = torch.matmul(relation, value).permute(0, 2, 1)  # sum_k w_pk delta(f_k) (rho next), B,D,HW
        return self.f_up(context.reshape(batch, self.key_channels, height, width))


class SpatialOCR(nn.Module):
    """Step 3b: concatenate context and pixel features, fuse with 1x1 conv + BN + ReLU + dropout."""

    def __init__(self, in_channels: int, key_channels: int, out_channels: int, dropout: float = 0.05):
        super().__init__()
        self.object_context_block = ObjectAttention(in_channels, key_channels)
        self.conv_bn_dropout = nn.Sequential(
            nn.Conv2d(2 * in_channels, out_channels, 1, bias=False),
            bn_relu(out_channels),
            nn.Dropout2d(dropout),
        )

    def forward(self, feats: torch.Tensor, objects: torch.Tensor) -> torch.Tensor:
        context = self.object_context_block(feats, objects)
        return self.conv_bn_dropout(torch.cat([context, feats], dim=1))


def ocr_modules(in_channels: int, ocr_width: int, num_classes: int = 1) -> dict[str, nn.Module]:
    """The OCR head's modules, named as in the original ``HighResolutionNet``.

    Args:
        in_channels: channels of the backbone features (HRNet: 15 * width).
        ocr_width: OCR key width ``D``; the mid features have ``2 * ocr_width`` channels
            (ITER-M: 48 for W18-small, 64 for W18, 128 for W32).
        num_classes: 1 (the object).
    """
    mid = 2 * ocr_width
    return {
        "conv3x3_ocr": nn.Sequential(
            nn.Conv2d(in_channels, mid, 3, padding=1), nn.BatchNorm2d(mid), nn.ReLU(inplace=True)
        ),
        "ocr_gather_head": SpatialGather(),
        "ocr_distri_head": SpatialOCR(mid, ocr_width, mid, dropout=0.05),
        "cls_head": nn.Conv2d(mid, num_classes, 1),
        "aux_head": nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 1),
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, num_classes, 1),
        ),
    }


class HRNetOCR(HRNet):
    """HRNet backbone with the OCR head on top (the original's ``feature_extractor``).

    The original keeps backbone and head in one module; we do the same so that key names
    match. ``(B, 3, H, W) -> [main logits, aux logits]``, both ``(B, 1, H/4, W/4)``.
    A :class:`~ritm_lite.model.build.FeatureExtractor`.
    """

    stem_channels = STEM_CHANNELS  # conv1's output, where Conv1S's is added
    full_rate_modules = ("ocr_distri_head", "ocr_gather_head", "conv3x3_ocr")  # lr x1 (the rest x0.1)
    input_mean, input_std = IMAGENET_MEAN, IMAGENET_STD  # HRNet-Image-Classification's normalisation

    def __init__(self, spec: HRNetSpec, ocr_width: int):
        super().__init__(spec)
        for name, module in ocr_modules(spec.out_channels, ocr_width).items():
            self.add_module(name, module)

    def forward(self, x: torch.Tensor, click_features: torch.Tensor | None = None) -> list[torch.Tensor]:
        return self.head(super().forward(x, click_features))

    def from_stem(self, stem: torch.Tensor, click_features: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The click-dependent rest: ``stem_image(x) (+ clicks)`` -> conv2 -> body -> head."""
        return self.head(self.body(self.stem_rest(stem, click_features)))

    def head(self, feats: torch.Tensor) -> list[torch.Tensor]:
        """The OCR head: HRNet features ``(B, 15C, H/4, W/4)`` -> ``[logits, aux]``."""
        aux = self.aux_head(feats)  # soft object region
        feats = self.conv3x3_ocr(feats)
        objects = self.ocr_gather_head(feats, aux)
        feats = self.ocr_distri_head(feats, objects)
        return [self.cls_head(feats), aux]

    def init_weights(self) -> None:
        """The original's Xavier initialisation of every layer (ImageNet weights come after)."""
        xavier_gluon_init(self)
