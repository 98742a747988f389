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
concepts with flags); :func:`ritm_lite.model.build.build_model` picks them from a
``ModelConfig``: the paper's ITER-M configurations and the course's default, an
ImageNet-pretrained EfficientNet-Lite0 with an FPN decoder. Every feature extractor splits
where the clicks enter (:class:`~ritm_lite.model.build.FeatureExtractor`): ``stem_image(rgb)``
sees the image only, ``from_stem(stem, conv1s_output)`` does the rest; :meth:`RITMModel.forward`
and the fast paths compose the two.
Attribute names follow the original (``maps_transform`` is Conv1S, ``feature_extractor`` is
HRNet + OCR), so an official checkpoint's ``state_dict`` loads with ``strict=True``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .click_encoding import PreviousMask

if TYPE_CHECKING:  # for annotations only: build.py imports this module
    from .build import ModelConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class RITMModel(nn.Module):
    """Interactive segmentation network (the original's ``HRNetModel`` with ITER-M options).

    Args:
        feature_extractor: backbone + head, ``(B, 3, H, W), (B, 64, H/2, W/2) -> [logits, aux]``
            (a :class:`~ritm_lite.model.build.FeatureExtractor`).
        maps_transform: the click branch (:class:`~ritm_lite.model.conv1s.Conv1S`, or Conv1E).
        click_maps: the click encoding, ``(image, points) -> (B, 2, H, W)`` (disks of radius 5).
        config: the configuration it was built from (stored in checkpoints), if any.
        mean, std: the RGB normalisation the backbone was pretrained with (ImageNet's for
            HRNet; 0.5 / 0.5, i.e. [-1, 1], for EfficientNet-Lite).
        previous_mask: what the branch reads besides the maps:
            :class:`~ritm_lite.model.click_encoding.PreviousMask` (ITER-M, 3 channels; the
            default) or :class:`~ritm_lite.model.click_encoding.NoPreviousMask` (2 channels).
    """

    has_aux_output = True  # "instances_aux" comes from an auxiliary head of its own

    def __init__(self, feature_extractor: nn.Module, maps_transform: nn.Module,
                 click_maps: nn.Module, config: ModelConfig | None = None,
                 mean: tuple[float, float, float] = IMAGENET_MEAN, std: tuple[float, float, float] = IMAGENET_STD,
                 previous_mask: nn.Module | None = None):
        super().__init__()
        self.config = config
        self.click_maps = click_maps
        self.previous_mask = PreviousMask() if previous_mask is None else previous_mask
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
        """The auxiliary channels ``[previous mask, positive disks, negative disks]`` (ITER-M;
        ``[positive, negative]`` with :class:`~ritm_lite.model.click_encoding.NoPreviousMask`).

        Args:
            image: ``(B, 4, H, W)``: RGB in [0, 1] and the previous mask.
            points: ``(B, 2N, 3)`` points tensor.

        Returns:
            ``(B, 3, H, W)`` (or ``(B, 2, H, W)``) float32 — what Conv1S consumes.
        """
        check_inputs(image, points, self.mean.dtype)
        return self.previous_mask(image, self.click_maps(image, points))

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
