"""DMF, distance maps fusion (f-BRS): the fusion RITM's Conv1S replaced (Table 1's ablation).

``logits = backbone(DMF(concat((rgb - mean) / std, maps)))``: the click maps are mixed into
the image by 1x1 convolutions *before* the backbone, so its pretrained stem sees a learned
3-channel mix instead of the image — what Conv1S, added after the stem, avoids. The data flow
differs from :class:`~ritm_lite.model.ritm.RITMModel`'s, so it is a model of its own.

The image no longer enters alone, so DMF has no click-independent part: the fast paths, which
cache one, refuse it with an error.
"""

from __future__ import annotations

import torch
from torch import nn

from .ritm import RITMModel


class DMFModel(RITMModel):
    """Distance maps fusion: the maps are mixed into the image before the backbone.

    ``rgb_conv`` is the :class:`~ritm_lite.model.conv1s.DistanceMapsFusion` (the original's
    name), ``(B, 3 + c, H, W) -> (B, 3, H, W)``; the model has no ``maps_transform``. The other
    arguments are :class:`~ritm_lite.model.ritm.RITMModel`'s (``previous_mask`` included: DMF
    on ``[pos, neg]`` alone takes :class:`~ritm_lite.model.click_encoding.NoPreviousMask`).
    """

    def __init__(self, feature_extractor: nn.Module, rgb_conv: nn.Module, click_maps: nn.Module,
                 config=None, **parts) -> None:
        super().__init__(feature_extractor, nn.Identity(), click_maps, config, **parts)
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
