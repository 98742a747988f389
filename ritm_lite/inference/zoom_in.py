"""ZoomIn: from the second click on, run the network on a crop around the object.

RITM (Sec. 5, "Zoom-In") follows f-BRS: the first click sees the whole image; from then on
the network looks at a box around the current prediction and the positive clicks, expanded
by 1.4 and at least 200 px wide and high, resized so that its long side is 400 px (600 px on
DAVIS). The box is kept from click to click and recomputed only when a positive click falls
outside it or when the new box overlaps the kept one with IoU < 0.5. The crop's probabilities
are resized back to the box and pasted into a zero map of the full image.

Boxes are ``Box(top, bottom, left, right)``: *inclusive* pixel indices, rows then columns.

Two behaviours of the original code are kept on purpose, because the golden evaluation
trajectory (``../shared/fixtures/ritm_reference``) depends on them:

* when the previous prediction is empty the network sees the whole image, yet a box that was
  set before is still used by :meth:`ZoomIn.inv_transform`, which squeezes that full-image
  prediction into the old box;
* a positive click on the box's last row or column counts as *outside* the box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ritm_lite.clicks import Click


class Box(NamedTuple):
    """An axis-aligned box of pixels; all four bounds are inclusive indices."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def width(self) -> int:
        return self.right - self.left + 1


@dataclass
class ZoomInConfig:
    """Settings of :class:`ZoomIn`; the defaults are the paper's evaluation protocol."""

    target_size: int | tuple[int, int] = (
        400  # long side of the crop fed to the net (600 on DAVIS); a (h, w) pair forces that size
    )
    skip_clicks: int = (
        1  # the first `skip_clicks` clicks see the whole image; -1 zooms from the first click
    )
    expansion_ratio: float = 1.4  # the object box grows by this factor around its centre
    min_crop_size: int = 200  # ... but is at least this many pixels high and wide
    recompute_thresh_iou: float = (
        0.5  # a new box replaces the kept one when their IoU drops below this
    )
    prob_thresh: float = 0.5  # the previous prediction's object = probabilities above this

    def __post_init__(self) -> None:
        sizes = self.target_size if isinstance(self.target_size, tuple) else (self.target_size,)
        if not sizes or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in sizes):
            raise ValueError(f"target_size must be a positive number of pixels or an (h, w) pair, got {self.target_size!r}")
        if isinstance(self.target_size, tuple) and len(self.target_size) != 2:
            raise ValueError(f"target_size as a pair is (height, width), got {self.target_size!r}")
        if self.skip_clicks < -1:
            raise ValueError(f"skip_clicks must be -1 (zoom from the first click) or more, got {self.skip_clicks}")
        if not self.expansion_ratio >= 1.0:
            raise ValueError(f"expansion_ratio must be at least 1 (the box grows), got {self.expansion_ratio}")
        if not self.min_crop_size >= 1:
            raise ValueError(f"min_crop_size must be at least 1 pixel, got {self.min_crop_size}")
        for name in ("recompute_thresh_iou", "prob_thresh"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


# --------------------------------------------------------------------------- box maths


def bbox_from_mask(mask: np.ndarray) -> Box:
    """Tightest box around the ``True`` pixels of a non-empty ``(H, W)`` mask."""
    rows = np.flatnonzero(np.any(mask, axis=1))
    cols = np.flatnonzero(np.any(mask, axis=0))
    if rows.size == 0:
        raise ValueError("bbox_from_mask needs a mask with at least one pixel set")
    return Box(int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1]))


def expand_bbox(box: Box, ratio: float, min_size: float | None = None) -> Box:
    """Grow ``box`` by ``ratio`` about its centre, to at least ``min_size`` per side.

    Bounds are rounded with Python's ``round`` (half to even), as in the original.
    """
    centre_y = 0.5 * (box.top + box.bottom)
    centre_x = 0.5 * (box.left + box.right)
    height = ratio * box.height
    width = ratio * box.width
    if min_size is not None:
        height = max(height, min_size)
        width = max(width, min_size)
    return Box(
        round(centre_y - 0.5 * height),
        round(centre_y + 0.5 * height),
        round(centre_x - 0.5 * width),
        round(centre_x + 0.5 * width),
    )


def clamp_bbox(box: Box, height: int, width: int) -> Box:
    """Clip ``box`` to an image of ``height`` x ``width`` pixels."""
    return Box(
        max(0, box.top), min(height - 1, box.bottom), max(0, box.left), min(width - 1, box.right)
    )


def _segment_iou(a0: int, a1: int, b0: int, b1: int) -> float:
    intersection = max(0, min(a1, b1) - max(a0, b0) + 1)
    union = max(1e-6, max(a1, b1) - min(a0, b0) + 1)
    return intersection / union


def bbox_iou(a: Box, b: Box) -> float:
    """IoU of two boxes, computed as the product of the rows' and the columns' IoUs.

    This equals the area IoU when one box contains the other and is a close stand-in
    otherwise; it is what the original uses to decide whether to move the box.
    """
    return _segment_iou(a.top, a.bottom, b.top, b.bottom) * _segment_iou(
        a.left, a.right, b.left, b.right
    )


def object_roi(
    pred_mask: np.ndarray, clicks: Sequence[Click], expansion_ratio: float, min_crop_size: float
) -> Box:
    """The zoom box: bbox of ``pred_mask`` plus the positive clicks, expanded, clamped.

    Args:
        pred_mask: ``(H, W)`` bool, the previous prediction thresholded.
        clicks: clicks in ``(x, y)`` pixels; positive ones are added to the mask at
            ``(int(y), int(x))``.
    """
    mask = np.array(pred_mask, dtype=bool, copy=True)
    for click in clicks:
        if click.is_positive:
            mask[int(click.y), int(click.x)] = True
    box = expand_bbox(bbox_from_mask(mask), expansion_ratio, min_crop_size)
    return clamp_bbox(box, *mask.shape)


def clicks_inside(box: Box, clicks: Sequence[Click]) -> bool:
    """Whether every positive click lies in ``box`` (its last row/column counts as outside)."""
    return all(
        box.top <= c.y < box.bottom and box.left <= c.x < box.right for c in clicks if c.is_positive
    )


def crop_size(box: Box, target_size: int | tuple[int, int]) -> tuple[int, int]:
    """``(height, width)`` of the resized crop: long side ``target_size``, or the given pair."""
    if isinstance(target_size, tuple):
        return target_size
    scale = target_size / max(box.height, box.width)  # s = target / max(h, w)
    return round(box.height * scale), round(box.width * scale)  # (round(s h), round(s w))


def crop_and_resize(image_nd: torch.Tensor, box: Box, size: tuple[int, int]) -> torch.Tensor:
    """Cut ``box`` out of ``(B, C, H, W)`` and resize it (bilinear, ``align_corners=True``)."""
    crop = image_nd[:, :, box.top : box.bottom + 1, box.left : box.right + 1]
    return F.interpolate(crop, size=size, mode="bilinear", align_corners=True)


def clicks_to_crop(clicks: Sequence[Click], box: Box, size: tuple[int, int]) -> list[Click]:
    """Map clicks into the resized crop: ``new = size * (coord - start) / box_extent`` (float)."""
    crop_h, crop_w = size
    return [
        c.moved(x=crop_w * (c.x - box.left) / box.width, y=crop_h * (c.y - box.top) / box.height)  # x' = w (x - left) / W_box
        for c in clicks
    ]


# --------------------------------------------------------------------------- the transform


@dataclass(frozen=True)
class ZoomView:
    """Where one ZoomIn crop came from: all :meth:`ZoomIn.inv_transform` needs to undo it.

    ``roi`` is the box the prediction is pasted into (``None``: the input was passed through
    and the prediction is returned as it is), ``input_size`` the full input's ``(H, W)``,
    ``crop_size`` the ``(h, w)`` the network saw when it was a crop, and ``roi_updated``
    whether this click set a new box.
    """

    roi: Box | None
    input_size: tuple[int, int]
    crop_size: tuple[int, int] | None = None
    roi_updated: bool = False


class ZoomIn:
    """The ZoomIn inference transform (batch of one image), pure: it holds only its settings.

    ``transform`` maps the ``(1, C, H, W)`` input (RGB + previous-mask channel, the last one)
    and its click list into the crop, given the box kept from the click before, and returns
    the :class:`ZoomView` it used; ``inv_transform`` maps the crop's ``(1, 1, h, w)``
    probabilities back to ``(1, 1, H, W)`` with that view. The caller (the predictor) owns the
    interaction: the previous prediction and the kept box (the view's ``roi``).
    """

    def __init__(self, config: ZoomInConfig | None = None, **overrides):
        if config is not None and overrides:
            raise ValueError("pass either a ZoomInConfig or keyword settings, not both")
        self.config = config if config is not None else ZoomInConfig(**overrides)

    def __repr__(self) -> str:
        return f"ZoomIn({self.config!r})"

    def at(self, roi: Box | None, guide: torch.Tensor | None = None) -> ZoomInClick:
        """This ZoomIn for one click, with the predictors' common ``transform`` /
        ``inv_transform`` interface (:mod:`ritm_lite.inference.transforms`): ``roi`` is the box
        kept from the click before, ``guide`` as in :meth:`transform`."""
        return ZoomInClick(self, roi, guide)

    def transform(
        self,
        image_nd: torch.Tensor,
        clicks_lists: list[list[Click]],
        roi: Box | None = None,
        guide: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[list[Click]], ZoomView]:
        """Crop and resize the input around the object, and move the clicks with it.

        Args:
            image_nd: ``(1, C, H, W)`` float input whose last channel is the previous
                prediction (probabilities).
            clicks_lists: one list of clicks in ``(x, y)`` pixels of ``image_nd``.
            roi: the box kept from the click before (``None`` before zooming starts).
            guide: ``(1, 1, H, W)`` probabilities to place the box on instead of the input's
                last channel (the zoomed rerun of :meth:`needs_recompute`: the box follows the
                first answer, while the network still sees the previous prediction, as in
                the original).

        Returns:
            ``(1, C, h, w)`` crop, the clicks in crop pixels, and the view (whose ``roi`` is the
            box to keep for the next click); the inputs unchanged while no box applies.
        """
        if image_nd.shape[0] != 1 or len(clicks_lists) != 1:
            raise ValueError("ZoomIn works on one image with one click list at a time")
        cfg = self.config
        clicks = clicks_lists[0]
        height, width = image_nd.shape[2:]
        passed = ZoomView(roi=roi, input_size=(height, width))  # the kept box (if any) still applies
        if len(clicks) <= cfg.skip_clicks:
            return image_nd, clicks_lists, passed

        current = None
        guide = image_nd[:, -1:] if guide is None else guide  # the previous prediction
        pred_mask = (guide[0, 0] > cfg.prob_thresh).cpu().numpy()
        if pred_mask.any():
            current = object_roi(pred_mask, clicks, cfg.expansion_ratio, cfg.min_crop_size)
        if current is None:
            if cfg.skip_clicks >= 0:
                return image_nd, clicks_lists, passed
            current = Box(0, height - 1, 0, width - 1)

        updated = roi is None or not clicks_inside(roi, clicks) or bbox_iou(current, roi) < cfg.recompute_thresh_iou
        box = current if updated else roi
        size = crop_size(box, cfg.target_size)
        view = ZoomView(roi=box, input_size=(height, width), crop_size=size, roi_updated=updated)
        return crop_and_resize(image_nd, box, size), [clicks_to_crop(clicks, box, size)], view

    def inv_transform(self, prob_map: torch.Tensor, view: ZoomView) -> torch.Tensor:
        """Paste the crop's ``(1, 1, h, w)`` probabilities into a zero ``(1, 1, H, W)`` map
        (the map itself when the view has no box)."""
        if view.roi is None:
            return prob_map
        if prob_map.shape[0] != 1:
            raise ValueError(
                f"ZoomIn expects one probability map, got a batch of {prob_map.shape[0]}"
            )
        box = view.roi
        resized = F.interpolate(
            prob_map, size=(box.height, box.width), mode="bilinear", align_corners=True
        )
        full = torch.zeros((1, 1, *view.input_size), device=prob_map.device, dtype=prob_map.dtype)
        full[:, :, box.top : box.bottom + 1, box.left : box.right + 1] = resized
        return full

    def needs_recompute(self, probs: torch.Tensor, view: ZoomView) -> bool:
        """With ``skip_clicks <= 0``: whether the first, unzoomed prediction ``probs``
        ``(1, 1, H, W)``, made under ``view``, is small enough (its box has IoU < 0.5 with the
        image) that the click should be run again zoomed in. Always ``False`` with the paper's
        ``skip_clicks = 1``, and once a box is set.
        """
        cfg = self.config
        if view.roi is not None or cfg.skip_clicks > 0:
            return False
        pred_mask = (probs > cfg.prob_thresh)[0, 0].cpu().numpy()
        if not pred_mask.any():
            return False
        possible = object_roi(pred_mask, [], cfg.expansion_ratio, cfg.min_crop_size)
        height, width = pred_mask.shape
        return bbox_iou(possible, Box(0, height - 1, 0, width - 1)) < 0.5


@dataclass(frozen=True)
class ZoomInClick:
    """:class:`ZoomIn` bound to one click's kept box (made by :meth:`ZoomIn.at`)."""

    zoom_in: ZoomIn
    roi: Box | None
    guide: torch.Tensor | None = None

    def transform(
        self, image_nd: torch.Tensor, clicks_lists: list[list[Click]]
    ) -> tuple[torch.Tensor, list[list[Click]], ZoomView]:
        return self.zoom_in.transform(image_nd, clicks_lists, self.roi, self.guide)

    def inv_transform(self, maps: torch.Tensor, view: ZoomView) -> torch.Tensor:
        return self.zoom_in.inv_transform(maps, view)
