"""The model variants of the paper's ablations, built the way the original code builds them.

RITM's model is one point in a small design space (Sec. 3.1-3.3 of the paper); its
ablations move one coordinate at a time:

| coordinate | RITM's choice | the alternatives | ``ModelConfig`` field |
| --- | --- | --- | --- |
| click encoding (Table 1) | disks of radius 5 | distance maps ``tanh(2 d / 260)`` | ``click_encoding`` |
| fusion of the maps (Table 1) | Conv1S, added after the stem | Conv1E (one conv, backbone rate), DMF | ``fusion`` |
| previous mask (ITER-M ablation) | an input channel | none: only the two click maps | ``prev_mask`` |

Each choice picks a *part* (:func:`click_encoder`, :func:`click_branch`) or a model class
(:func:`model_class`); no forward pass tests a flag. The classes:

* :class:`~ritm_lite.model.ritm.RITMModel` — Conv1S or Conv1E, their output added to the
  stem's (``stem(rgb) + branch(maps)``, the same place for both, as the original's
  ``conv_extend`` does);
* :class:`WithoutPrevMask` — the maps are ``[positive, negative]`` only; the previous
  prediction the predictor passes in channel 4 is ignored, as the original's
  ``with_prev_mask=False`` models do;
* :class:`DMFModel` — distance maps fusion (f-BRS): ``rgb' = DMF(concat(norm(rgb), maps))``,
  a 3-channel image that *replaces* the RGB input of the whole backbone (stored as the
  original's ``rgb_conv``). The image no longer enters alone, so DMF has no click-independent
  part: the fast paths, which cache one, refuse it with an error.

A checkpoint stores the three fields with the rest of :class:`~ritm_lite.model.ritm.ModelConfig`,
so ``load_checkpoint`` and ``python -m ritm_lite.evaluate`` rebuild any variant.
"""

from __future__ import annotations

import torch
from torch import nn

from .click_encoding import ClickMaps, DistanceMaps
from .conv1s import Conv1E, Conv1S, DistanceMapsFusion
from .ritm import CLICK_ENCODINGS, FUSIONS, ModelConfig, RITMModel

__all__ = [
    "CLICK_ENCODINGS",
    "FUSIONS",
    "DMFModel",
    "DMFWithoutPrevMask",
    "WithoutPrevMask",
    "click_branch",
    "click_encoder",
    "coord_channels",
    "model_class",
]


def click_encoder(config: ModelConfig) -> nn.Module:
    """``(image, points) -> (B, 2, H, W)``: disks of ``config.disk_radius`` or distance maps
    (``norm_radius`` 260, the original's)."""
    if config.click_encoding == "disks":
        return ClickMaps(radius=config.disk_radius)
    return DistanceMaps()


def coord_channels(config: ModelConfig) -> int:
    """Channels of the maps the click branch reads: ``[prev, pos, neg]`` (3) or ``[pos, neg]`` (2)."""
    return 3 if config.prev_mask else 2


def click_branch(config: ModelConfig, stem_channels: int) -> nn.Module:
    """The module that brings the maps in.

    Conv1S and Conv1E: ``(B, c, H, W) -> (B, stem_channels, H/2, W/2)``, added to the stem's
    output; DMF: ``(B, 3 + c, H, W) -> (B, 3, H, W)``, the backbone's new input.
    """
    channels = coord_channels(config)
    if config.fusion == "conv1s":
        return Conv1S(in_channels=channels, out_channels=stem_channels, leaky_relu=config.leaky_relu,
                      init_scale=config.conv1s_init_scale)
    if config.fusion == "conv1e":
        return Conv1E(in_channels=channels, out_channels=stem_channels)
    return DistanceMapsFusion(in_channels=channels, leaky_relu=config.leaky_relu)


class WithoutPrevMask(RITMModel):
    """A RITM model that does not see the previous prediction (the ITER-M ablation)."""

    def coord_features(self, image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """``(B, 4, H, W), (B, 2N, 3) -> (B, 2, H, W)``: ``[positive, negative]`` maps only;
        channel 4 of ``image`` (the previous mask) is checked, then ignored."""
        super().coord_features(image, points)  # the same input checks
        return self.click_maps(image, points)


class DMFModel(RITMModel):
    """Distance maps fusion: the maps are mixed into the image before the backbone.

    ``logits = backbone(DMF(concat((rgb - mean) / std, maps)))``: the backbone's stem sees a
    learned 3-channel mix, not the image (what Conv1S avoids). ``rgb_conv`` is the
    :class:`~ritm_lite.model.conv1s.DistanceMapsFusion` (the original's name); the model has
    no ``maps_transform``.
    """

    def __init__(self, feature_extractor: nn.Module, rgb_conv: nn.Module, click_maps: nn.Module,
                 config: ModelConfig | None = None, **normalisation) -> None:
        super().__init__(feature_extractor, nn.Identity(), click_maps, config, **normalisation)
        del self.maps_transform
        self.rgb_conv = rgb_conv

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """As :meth:`RITMModel.forward`: ``(B, 4, H, W), (B, 2N, 3) -> {"instances", "instances_aux"}``."""
        coord = self.coord_features(image, points)
        rgb = (image[:, :3] - self.mean) / self.std
        logits, aux = self.feature_extractor(self.rgb_conv(torch.cat([rgb, coord], dim=1)))
        return self.upsample(logits, aux, image.shape[-2:])

    def image_features(self, rgb: torch.Tensor) -> torch.Tensor:
        raise TypeError("a DMF model mixes the clicks into the image before the backbone, so it has no "
                        "image-only features to cache or export separately: run it as it is (eager)")

    def trunk(self, image_features: torch.Tensor, coord_features: torch.Tensor):
        raise TypeError("a DMF model has no click-dependent trunk apart from the whole network: run it eagerly")


class DMFWithoutPrevMask(WithoutPrevMask, DMFModel):
    """DMF on the two click maps only."""


def model_class(config: ModelConfig) -> type[RITMModel]:
    """The class that assembles ``config``'s fusion and previous-mask choice."""
    if config.fusion == "dmf":
        return DMFModel if config.prev_mask else DMFWithoutPrevMask
    return RITMModel if config.prev_mask else WithoutPrevMask
