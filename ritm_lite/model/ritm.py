"""The RITM model: image + clicks + previous mask -> object logits.

    image (B, 3, H, W) in [0, 1] --ImageNet normalisation--------------------+
                                                                            v
    previous mask (B, 1, H, W) --+                          HRNet stem: conv1-bn1-relu (+) conv2 ...
    clicks (B, 2N, 3) --disks--> [prev, pos, neg] --Conv1S (B, 64, H/2, W/2)-^
                                                                            |
    HRNet features (B, 15C, H/4, W/4) -> OCR head -> logits (B, 1, H/4, W/4)
                                      -> aux head -> logits (B, 1, H/4, W/4)
    both upsampled bilinearly (align_corners=True) to (B, 1, H, W)

The parts are built separately and passed in (:class:`RITMModel` does not switch between
concepts with flags). :func:`build_model` assembles the paper's ITER-M configurations and the
course's default, an ImageNet-pretrained EfficientNet-Lite0 with an FPN decoder
(:mod:`ritm_lite.model.efficientnet_lite`). Every feature extractor splits where the clicks
enter: ``stem_image(rgb)`` sees the image only, ``from_stem(stem, conv1s_output)`` does the
rest; :meth:`RITMModel.forward` and the fast paths compose the two.
Attribute names follow the original (``maps_transform`` is Conv1S, ``feature_extractor`` is
HRNet + OCR), so an official checkpoint's ``state_dict`` loads with ``strict=True``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .click_encoding import ClickMaps
from .efficientnet_lite import EFFICIENTNET_LITE, LITE_MEAN, LITE_STD, EfficientNetLiteFPN
from .hrnet import HRNET_W18, HRNET_W18_SMALL, HRNET_W32, HRNet, HRNetSpec
from .init import xavier_gluon_init
from .ocr import ocr_modules

CLICK_ENCODINGS = ("disks", "distance_maps")  # ModelConfig.click_encoding (ritm_lite.model.ablations)
FUSIONS = ("conv1s", "conv1e", "dmf")  # ModelConfig.fusion

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

BACKBONES: dict[str, HRNetSpec] = {
    "hrnet18s": HRNET_W18_SMALL,
    "hrnet18": HRNET_W18,
    "hrnet32": HRNET_W32,
}
# DeepLabV3+ (ritm_lite.model.deeplab, which builds on RITMModel): our name -> timm's dilated ResNet
DEEPLAB_BACKBONES: dict[str, str] = {"deeplab_r34": "resnet34"}


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model (stored in checkpoints)."""

    backbone: str = "hrnet18s"  # "hrnet18s", "hrnet18", "hrnet32" (BACKBONES), "efficientnet_lite0" or "deeplab_r34"
    ocr_width: int = 48  # HRNet: OCR key width; mid features are 2x this (ITER-M: 48 / 64 / 128)
    disk_radius: float = 5.0  # click disk radius in pixels (the paper's r = 5)
    leaky_relu: bool = True  # Conv1S activation: LeakyReLU(0.2) in every ITER-M config
    decoder_width: int = 64  # EfficientNet-Lite: FPN width; DeepLab: ASPP/decoder width (unused by HRNet: OCR)
    conv1s_init_scale: float = 0.05  # Conv1S's learnable output scale at initialisation (the original's)
    # The paper's ablations (ritm_lite.model.ablations); RITM's choices by default:
    click_encoding: str = "disks"  # "disks" (radius disk_radius) or "distance_maps" (tanh(2d/260))
    fusion: str = "conv1s"  # how the maps enter: "conv1s", "conv1e" or "dmf"
    prev_mask: bool = True  # the previous prediction is an input channel (ITER-M)

    def __post_init__(self) -> None:
        if self.click_encoding not in CLICK_ENCODINGS:
            raise ValueError(f"unknown click_encoding {self.click_encoding!r}; choose from {CLICK_ENCODINGS}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {self.fusion!r}; choose from {FUSIONS}")
        known = sorted(BACKBONES) + sorted(EFFICIENTNET_LITE) + sorted(DEEPLAB_BACKBONES)
        if self.backbone not in known:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose from {known}")
        if self.ocr_width <= 0:
            raise ValueError(f"ocr_width must be positive, got {self.ocr_width}")
        if self.decoder_width <= 0:
            raise ValueError(f"decoder_width must be positive, got {self.decoder_width}")
        if not self.disk_radius > 0:
            raise ValueError(f"disk_radius must be positive, got {self.disk_radius}")
        if not self.conv1s_init_scale > 0:
            raise ValueError(f"conv1s_init_scale must be positive, got {self.conv1s_init_scale}")

    def architecture(self) -> ModelConfig:
        """This config without its initialisation settings: equal for two models whose weights
        are interchangeable."""
        return dataclasses.replace(self, conv1s_init_scale=ModelConfig.conv1s_init_scale)


MODEL_PRESETS: dict[str, ModelConfig] = {
    # The ITER-M configurations of the paper (models/iter_mask/*_cocolvis_itermask_3p.py).
    "hrnet18s": ModelConfig(backbone="hrnet18s", ocr_width=48),
    "hrnet18": ModelConfig(backbone="hrnet18", ocr_width=64),
    "hrnet32": ModelConfig(backbone="hrnet32", ocr_width=128),
    # The course's default: ImageNet-pretrained EfficientNet-Lite0 behind Conv1S, FPN decoder.
    "efficientnet_lite0": ModelConfig(backbone="efficientnet_lite0", decoder_width=64),
    # Table 4's baseline: DeepLabV3+, dilated ResNet-34, deeplab_ch 128 (the original's r34_dh128_*.py)
    "deeplab_r34": ModelConfig(backbone="deeplab_r34", decoder_width=128),
}


class HRNetOCR(HRNet):
    """HRNet backbone with the OCR head on top (the original's ``feature_extractor``).

    The original keeps backbone and head in one module; we do the same so that key names
    match. ``(B, 3, H, W) -> [main logits, aux logits]``, both ``(B, 1, H/4, W/4)``.
    """

    full_rate_modules = ("ocr_distri_head", "ocr_gather_head", "conv3x3_ocr")  # lr x1 (the rest x0.1)

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


class RITMModel(nn.Module):
    """Interactive segmentation network (the original's ``HRNetModel`` with ITER-M options).

    Args:
        feature_extractor: backbone + head, ``(B, 3, H, W), (B, 64, H/2, W/2) -> [logits, aux]``.
        maps_transform: the click branch (:class:`~ritm_lite.model.conv1s.Conv1S`).
        click_maps: the click encoding (disks of radius 5).
        config: the configuration it was built from (stored in checkpoints), if any.
        mean, std: the RGB normalisation the backbone was pretrained with (ImageNet's for
            HRNet; 0.5 / 0.5, i.e. [-1, 1], for EfficientNet-Lite).
    """

    has_aux_output = True  # "instances_aux" comes from an auxiliary head of its own

    def __init__(self, feature_extractor: nn.Module, maps_transform: nn.Module,
                 click_maps: ClickMaps, config: ModelConfig | None = None,
                 mean: tuple[float, float, float] = IMAGENET_MEAN, std: tuple[float, float, float] = IMAGENET_STD):
        super().__init__()
        self.config = config
        self.click_maps = click_maps
        self.maps_transform = maps_transform
        self.feature_extractor = feature_extractor
        # Not part of the state dict: official checkpoints do not store them.
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    @property
    def conv1s(self) -> nn.Module:
        """Conv1S by its paper name (stored as ``maps_transform``)."""
        return self.maps_transform

    def coord_features(self, image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """The 3 auxiliary channels ``[previous mask, positive disks, negative disks]``.

        Args:
            image: ``(B, 4, H, W)``: RGB in [0, 1] and the previous mask.
            points: ``(B, 2N, 3)`` points tensor.

        Returns:
            ``(B, 3, H, W)`` float32 — what Conv1S consumes.
        """
        check_inputs(image, points, self.mean.dtype)
        return torch.cat([image[:, 3:], self.click_maps(image, points)], dim=1)

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """Predict object logits.

        Args:
            image: ``(B, 4, H, W)`` float: RGB in [0, 1] followed by the previous mask
                (probabilities; zeros before the first click).
            points: ``(B, 2N, 3)`` float points tensor of ``(row, col, index)``, -1 padded
                (:func:`ritm_lite.clicks.points_tensor`).

        Returns:
            ``{"instances": (B, 1, H, W), "instances_aux": (B, 1, H, W)}`` logits.
        """
        coord = self.coord_features(image, points)
        logits, aux = self.trunk(self.image_features(image[:, :3]), coord)
        return self.upsample(logits, aux, image.shape[-2:])

    # The split that caching and export compose (:mod:`ritm_lite.inference.fast`): the image
    # enters once, the clicks after the stem, so the first part depends on the image alone.

    def image_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """The click-independent part: ``(B, 3, H, W)`` RGB in [0, 1] -> ``(B, C, H/2, W/2)``.

        ``stem_image((rgb - mean) / std)``: the backbone's normalisation and its stem's first
        ``conv -> BN -> activation`` (C = 64 for HRNet, 32 for EfficientNet-Lite).
        """
        return self.feature_extractor.stem_image((rgb - self.mean) / self.std)

    def trunk(self, image_features: torch.Tensor, coord_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The click-dependent part: Conv1S on the maps, added to the image features, then the
        rest of the backbone and the head.

        Args:
            image_features: ``(B, C, H/2, W/2)`` from :meth:`image_features`.
            coord_features: ``(B, 3, H, W)`` from :meth:`coord_features`.

        Returns:
            Main and auxiliary logits at the head's strides (HRNet: ``(B, 1, H/4, W/4)`` each).
        """
        return self.feature_extractor.from_stem(image_features, self.maps_transform(coord_features))

    @staticmethod
    def upsample(logits: torch.Tensor, aux: torch.Tensor, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """The head's logits bilinearly (``align_corners=True``) at the input's ``size``, float32."""
        return {
            name: F.interpolate(out.float(), size=tuple(size), mode="bilinear", align_corners=True)
            for name, out in (("instances", logits), ("instances_aux", aux))
        }


def check_inputs(image: torch.Tensor, points: torch.Tensor, model_dtype: torch.dtype) -> None:
    """Raise ``ValueError`` unless ``image`` / ``points`` are what :meth:`RITMModel.forward` takes."""
    if image.ndim != 4 or image.shape[1] != 4:
        raise ValueError(
            f"image must be (B, 4, H, W): RGB in [0, 1] plus the previous mask; got {tuple(image.shape)}"
        )
    if not image.is_floating_point():
        raise ValueError(f"image must be float32 with RGB in [0, 1], got {image.dtype}")
    if image.dtype != model_dtype and not _autocast_enabled(image.device.type):
        raise ValueError(
            f"image is {image.dtype} but the model is {model_dtype}: convert one to the other "
            "(or run under torch.autocast)"
        )
    if points.ndim != 3 or points.shape[-1] != 3 or points.shape[1] % 2:
        raise ValueError(f"points must be (B, 2N, 3) of (row, col, index); got {tuple(points.shape)}")
    if points.shape[0] != image.shape[0]:
        raise ValueError(f"batch sizes differ: image {image.shape[0]}, points {points.shape[0]}")


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 has one flag per device type
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


def build_model(preset: str | ModelConfig = "hrnet18s", init: bool = True) -> RITMModel:
    """Build a RITM model.

    Args:
        preset: ``"hrnet18s"``, ``"hrnet18"``, ``"hrnet32"`` (the ITER-M configurations, OCR
            width 48 / 64 / 128), ``"efficientnet_lite0"``, ``"deeplab_r34"``
            (:mod:`ritm_lite.model.deeplab`) or a :class:`ModelConfig`.
        init: apply the original's initialisation (Xavier, Gaussian, magnitude 2; BatchNorm
            gamma 1, beta 0). Seed with ``torch.manual_seed`` for reproducibility.

    Returns:
        The model in training mode, on the CPU.
    """
    if isinstance(preset, ModelConfig):
        config = preset
    elif preset in MODEL_PRESETS:
        config = MODEL_PRESETS[preset]
    else:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(MODEL_PRESETS)}")
    if config.backbone in DEEPLAB_BACKBONES:
        from .deeplab import build_deeplab_model  # imports this module

        return build_deeplab_model(config, init=init)
    from .ablations import click_branch, click_encoder, model_class  # imports this module

    click_maps, assemble = click_encoder(config), model_class(config)
    if config.backbone in EFFICIENTNET_LITE:
        extractor = EfficientNetLiteFPN(config.backbone, width=config.decoder_width)
        branch = click_branch(config, extractor.stem_channels)
        if init:  # the trunk keeps timm's init until ImageNet weights are loaded into it
            xavier_gluon_init(branch)
            xavier_gluon_init(extractor.decoder)
        return assemble(extractor, branch, click_maps, config, mean=LITE_MEAN, std=LITE_STD)
    model = assemble(HRNetOCR(BACKBONES[config.backbone], config.ocr_width), click_branch(config, 64), click_maps,
                     config)
    if init:
        xavier_gluon_init(model)
    return model
