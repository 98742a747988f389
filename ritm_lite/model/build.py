"""One builder: a :class:`ModelConfig` in, a :class:`~ritm_lite.model.ritm.RITMModel` out.

A model is parts passed in (as SAM's ``build_sam`` composes its encoders), chosen here from
the config and nowhere else:

| part | what it does | chosen by | RITM's choice | the paper's ablations |
| --- | --- | --- | --- | --- |
| ``click_maps`` | clicks -> 2 maps | ``click_encoding`` | disks of radius 5 | distance maps ``tanh(2 d / 260)`` (Table 1) |
| ``previous_mask`` | maps -> the channels the branch reads | ``prev_mask`` | ``[prev, pos, neg]`` | ``[pos, neg]`` (ITER-M) |
| the click branch | maps -> the backbone | ``fusion`` | Conv1S after the stem | Conv1E; DMF before it (Table 1) |
| ``feature_extractor`` | image (+ clicks) -> logits | ``backbone`` | HRNet + OCR | EfficientNet-Lite + FPN, DeepLabV3+ |

Feature extractors come from a registry, as timm's ``register_model`` keeps its networks:
:func:`register_feature_extractor` maps backbone names to a factory ``ModelConfig -> extractor``
and, where the family needs one, the model class that composes it (DeepLab puts its own
``head`` on top). Whatever a factory returns must be a :class:`FeatureExtractor`: the contract
the model, the trainer and the optimiser rely on.

DMF is the one variant that changes the data flow (the maps are mixed into the image *before*
the backbone), so it is a model of its own, :class:`~ritm_lite.model.dmf.DMFModel`, not a flag.
A checkpoint stores the config, so ``load_checkpoint`` rebuilds any variant through here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from .click_encoding import ClickMaps, DistanceMaps, NoPreviousMask, PreviousMask
from .conv1s import Conv1E, Conv1S, DistanceMapsFusion
from .deeplab import DeepLabModel, DeepLabV3Plus
from .dmf import DMFModel
from .efficientnet_lite import EfficientNetLiteFPN
from .hrnet import HRNET_W18, HRNET_W18_SMALL, HRNET_W32, HRNetSpec
from .init import xavier_gluon_init
from .ocr import HRNetOCR
from .ritm import RITMModel

CLICK_ENCODINGS = ("disks", "distance_maps")  # ModelConfig.click_encoding
FUSIONS = ("conv1s", "conv1e", "dmf")  # ModelConfig.fusion


@runtime_checkable
class FeatureExtractor(Protocol):
    """What a backbone (+ head) must provide: the model splits it where the clicks enter.

    ``stem_image(x)`` sees the normalised image alone, ``from_stem(stem, clicks)`` does the
    rest, so the image-only part can be cached and exported on its own
    (:mod:`ritm_lite.inference.fast`).
    """

    stem_channels: int  # channels of stem_image's output: what the click branch must produce
    full_rate_modules: tuple[str, ...]  # children trained at the full learning rate (the rest: x0.1)
    input_mean: tuple[float, float, float]  # the RGB normalisation it was pretrained with
    input_std: tuple[float, float, float]

    def stem_image(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised RGB -> ``(B, stem_channels, H/2, W/2)``."""

    def from_stem(self, stem: torch.Tensor, click_features: torch.Tensor | None = None) -> Any:
        """The stem's output (+ the click branch's, same shape) -> ``[logits, aux]`` or features."""

    def init_weights(self) -> None:
        """The original's initialisation of the layers no pretrained file fills."""


@dataclass(frozen=True)
class FeatureExtractorEntry:
    """One registered family: how to build its extractor, and the model class around it."""

    build: Callable[[ModelConfig], nn.Module]
    model: type[RITMModel] = RITMModel


FEATURE_EXTRACTORS: dict[str, FeatureExtractorEntry] = {}
"""Backbone name (``ModelConfig.backbone``) -> its family's entry."""


def register_feature_extractor(*backbones: str, model: type[RITMModel] = RITMModel):
    """Decorator: register ``factory(config) -> FeatureExtractor`` under each backbone name.

    ``model`` is the class that composes the parts (``RITMModel``; DeepLab's adds its head).
    """
    def register(factory: Callable[[ModelConfig], nn.Module]) -> Callable[[ModelConfig], nn.Module]:
        for name in backbones:
            if name in FEATURE_EXTRACTORS:
                raise ValueError(f"a feature extractor is already registered as {name!r}")
            FEATURE_EXTRACTORS[name] = FeatureExtractorEntry(factory, model)
        return factory
    return register


# ModelConfig field annotation -> the Python types a stored value may have (bool is no int here)
_FIELD_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model (stored in checkpoints)."""

    backbone: str = "hrnet18s"  # a key of FEATURE_EXTRACTORS: "hrnet18s", "hrnet18", "hrnet32", "efficientnet_lite0", "deeplab_r34"
    ocr_width: int = 48  # HRNet: OCR key width; mid features are 2x this (ITER-M: 48 / 64 / 128)
    disk_radius: float = 5.0  # click disk radius in pixels (the paper's r = 5)
    leaky_relu: bool = True  # Conv1S activation: LeakyReLU(0.2) in every ITER-M config
    decoder_width: int = 64  # EfficientNet-Lite: FPN width; DeepLab: ASPP/decoder width (unused by HRNet: OCR)
    conv1s_init_scale: float = 0.05  # Conv1S's learnable output scale at initialisation (the original's)
    # The paper's ablations (the table in this module's docstring); RITM's choices by default:
    click_encoding: str = "disks"  # "disks" (radius disk_radius) or "distance_maps" (tanh(2d/260))
    fusion: str = "conv1s"  # how the maps enter: "conv1s", "conv1e" or "dmf"
    prev_mask: bool = True  # the previous prediction is an input channel (ITER-M)

    def __post_init__(self) -> None:
        if self.click_encoding not in CLICK_ENCODINGS:
            raise ValueError(f"unknown click_encoding {self.click_encoding!r}; choose from {CLICK_ENCODINGS}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {self.fusion!r}; choose from {FUSIONS}")
        if self.backbone not in FEATURE_EXTRACTORS:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose from {sorted(FEATURE_EXTRACTORS)}")
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

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelConfig:
        """A config from stored field values (a checkpoint's), each of its field's type and finite.

        ``ModelConfig(**values)`` alone would accept ``ocr_width="48"`` or ``leaky_relu="no"``.

        Raises:
            ValueError: not a dict, an unknown field, a value of another type, a non-finite
                float, or a value ``ModelConfig`` itself refuses.
        """
        if not isinstance(values, Mapping):
            raise ValueError(f"{values!r} is not a dict of ModelConfig fields")
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in values if k not in fields)
        if unknown:
            raise ValueError(f"unknown field(s) {unknown} (ModelConfig has {sorted(fields)})")
        checked = {}
        for name, value in values.items():
            types = _FIELD_TYPES[fields[name]]
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise ValueError(f"{name} = {value!r} is not of type {fields[name]}")
            if fields[name] == "float":
                if not _finite(value):
                    raise ValueError(f"{name} = {value!r} is not finite")
                value = float(value)
            checked[name] = value
        return cls(**checked)


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


# ---------------------------------------------------------------------- the registered families

HRNET_SPECS: dict[str, HRNetSpec] = {"hrnet18s": HRNET_W18_SMALL, "hrnet18": HRNET_W18, "hrnet32": HRNET_W32}
DEEPLAB_ARCHS: dict[str, str] = {"deeplab_r34": "resnet34"}  # our name -> timm's (dilated) ResNet


@register_feature_extractor(*HRNET_SPECS)
def hrnet_ocr(config: ModelConfig) -> HRNetOCR:
    """The paper's backbone: HRNet of ``config.backbone`` with the OCR head of width ``ocr_width``."""
    return HRNetOCR(HRNET_SPECS[config.backbone], config.ocr_width)


@register_feature_extractor("efficientnet_lite0")
def efficientnet_lite_fpn(config: ModelConfig) -> EfficientNetLiteFPN:
    """The course's ImageNet-pretrained EfficientNet-Lite with an FPN decoder of ``decoder_width``."""
    return EfficientNetLiteFPN(config.backbone, width=config.decoder_width)


@register_feature_extractor(*DEEPLAB_ARCHS, model=DeepLabModel)
def deeplab_v3_plus(config: ModelConfig) -> DeepLabV3Plus:
    """Table 4's baseline: DeepLabV3+ on a dilated ResNet, ASPP/decoder width ``decoder_width``."""
    return DeepLabV3Plus(DEEPLAB_ARCHS[config.backbone], channels=config.decoder_width)


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


# ---------------------------------------------------------------------- the click parts

def click_maps(config: ModelConfig) -> nn.Module:
    """``(image, points) -> (B, 2, H, W)``: disks of ``config.disk_radius`` or distance maps
    (``norm_radius`` 260, the original's)."""
    if config.click_encoding == "disks":
        return ClickMaps(radius=config.disk_radius)
    return DistanceMaps()


def previous_mask(config: ModelConfig) -> PreviousMask | NoPreviousMask:
    """``(image, maps) -> [prev, pos, neg]`` (3 channels, ITER-M) or ``[pos, neg]`` (2)."""
    return PreviousMask() if config.prev_mask else NoPreviousMask()


def click_branch(config: ModelConfig, stem_channels: int) -> nn.Module:
    """The module that brings the maps in.

    Conv1S and Conv1E: ``(B, c, H, W) -> (B, stem_channels, H/2, W/2)``, added to the stem's
    output; DMF: ``(B, 3 + c, H, W) -> (B, 3, H, W)``, the backbone's new input.
    """
    channels = 2 + previous_mask(config).channels
    if config.fusion == "conv1s":
        return Conv1S(in_channels=channels, out_channels=stem_channels, leaky_relu=config.leaky_relu,
                      init_scale=config.conv1s_init_scale)
    if config.fusion == "conv1e":
        return Conv1E(in_channels=channels, out_channels=stem_channels)
    return DistanceMapsFusion(in_channels=channels, leaky_relu=config.leaky_relu)


def build_model(preset: str | ModelConfig = "hrnet18s", init: bool = True) -> RITMModel:
    """Build a RITM model.

    Args:
        preset: a key of :data:`MODEL_PRESETS` (``"hrnet18s"``, ``"hrnet18"``, ``"hrnet32"``:
            the ITER-M configurations, OCR width 48 / 64 / 128; ``"efficientnet_lite0"``;
            ``"deeplab_r34"``) or a :class:`ModelConfig`.
        init: apply the original's initialisation (Xavier, Gaussian, magnitude 2; BatchNorm
            gamma 1, beta 0) to the click branch, then to the extractor's layers that no
            pretrained file fills (:meth:`FeatureExtractor.init_weights`), then to any other
            part. Seed with ``torch.manual_seed`` for reproducibility.

    Returns:
        The model in training mode, on the CPU.
    """
    if isinstance(preset, ModelConfig):
        config = preset
    elif preset in MODEL_PRESETS:
        config = MODEL_PRESETS[preset]
    else:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(MODEL_PRESETS)}")
    entry = FEATURE_EXTRACTORS[config.backbone]
    extractor = entry.build(config)
    if not isinstance(extractor, FeatureExtractor):
        raise TypeError(f"the feature extractor registered as {config.backbone!r} is a "
                        f"{type(extractor).__name__}, which lacks part of the FeatureExtractor protocol")
    branch = click_branch(config, extractor.stem_channels)
    parts = dict(click_maps=click_maps(config), previous_mask=previous_mask(config), config=config,
                 mean=extractor.input_mean, std=extractor.input_std)
    if config.fusion == "dmf":
        if entry.model is not RITMModel:
            raise ValueError(f"DMF (fusion='dmf') replaces the input of the whole network, and is built for "
                             f"RITMModel's extractors only; {entry.model.__name__} ({config.backbone}) takes the "
                             "clicks through Conv1S or Conv1E (fusion='conv1s' or 'conv1e')")
        model = DMFModel(extractor, branch, **parts)
    else:
        model = entry.model(extractor, branch, **parts)
    if init:
        xavier_gluon_init(branch)
        extractor.init_weights()
        for part in model.children():  # DeepLab's head
            if part is not branch and part is not extractor:
                xavier_gluon_init(part)
    return model
