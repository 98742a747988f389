"""ZoomIn and flip: box maths on analytic cases, exact crop/paste round trips, recompute rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ritm_lite.clicks import Click
from ritm_lite.inference import Box, HorizontalFlip, ZoomIn, ZoomInConfig, flip_clicks
from ritm_lite.inference.zoom_in import (
    bbox_from_mask,
    bbox_iou,
    clamp_bbox,
    clicks_inside,
    clicks_to_crop,
    crop_size,
    expand_bbox,
    object_roi,
)


def pos(x: float, y: float, index: int = 0) -> Click:
    return Click(x=x, y=y, is_positive=True, index=index)


def test_bbox_from_mask_is_tight_and_inclusive():
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:9] = True
    mask[7, 1] = True
    assert bbox_from_mask(mask) == Box(2, 7, 1, 8)
    with pytest.raises(ValueError):
        bbox_from_mask(np.zeros((3, 3), bool))


def test_expand_bbox_scales_about_the_centre_with_half_to_even_rounding():
    # 10 rows (10..19) x 20 cols (0..19); centre (14.5, 9.5); x2 -> 20 x 40
    assert expand_bbox(Box(10, 19, 0, 19), 2.0) == Box(
        round(4.5), round(24.5), round(-10.5), round(29.5)
    )
    assert expand_bbox(Box(10, 19, 0, 19), 2.0) == Box(4, 24, -10, 30)
    # min size wins over the ratio
    assert expand_bbox(Box(50, 51, 50, 51), 1.4, min_size=200) == Box(-50, 150, -50, 150)


def test_clamp_and_bbox_iou():
    assert clamp_bbox(Box(-5, 30, 3, 99), height=20, width=50) == Box(0, 19, 3, 49)
    assert bbox_iou(Box(0, 9, 0, 9), Box(0, 9, 0, 9)) == 1.0
    assert bbox_iou(Box(0, 9, 0, 9), Box(0, 4, 0, 9)) == 0.5  # nested: rows 5/10, cols 1
    assert bbox_iou(Box(0, 9, 0, 9), Box(20, 29, 0, 9)) == 0.0


def test_object_roi_adds_positive_clicks_only():
    mask = np.zeros((300, 300), bool)
    mask[100:110, 100:110] = True
    roi = object_roi(mask, [pos(250.7, 20.2), Click(x=5, y=5, is_positive=False)], 1.0, 1)
    # bbox rows 20..109, cols 100..250 (int() truncates the click; the negative one is ignored);
    # ratio 1 re-rounds the bounds about the centre: 19.5 -> 20, 109.5 -> 110, 99.5 -> 100
    assert roi == Box(20, 110, 100, 250)


def test_positive_click_on_the_last_row_counts_as_outside():
    box = Box(10, 20, 10, 20)
    assert clicks_inside(box, [pos(15, 19), Click(x=0, y=0, is_positive=False)])
    assert not clicks_inside(box, [pos(15, 20)])
    assert not clicks_inside(box, [pos(20, 15)])


def test_crop_size_and_click_mapping():
    box = Box(100, 199, 50, 249)  # 100 x 200
    assert crop_size(box, 400) == (200, 400)
    assert crop_size(Box(0, 2, 0, 6), 400) == (171, 400)  # 3 * 400 / 7 = 171.4
    assert crop_size(box, (64, 32)) == (64, 32)
    moved = clicks_to_crop([pos(x=50, y=100), pos(x=150, y=150)], box, (200, 400))
    assert (moved[0].x, moved[0].y) == (0.0, 0.0)
    assert (moved[1].x, moved[1].y) == (400 * 100 / 200, 200 * 50 / 100)


def _ramp(height: int, width: int) -> torch.Tensor:
    rows = torch.arange(height, dtype=torch.float32).view(height, 1)
    cols = torch.arange(width, dtype=torch.float32).view(1, width)
    return (0.01 * rows + 0.003 * cols).expand(height, width)[None, None].clone()


def test_crop_then_paste_reproduces_a_linear_map_inside_the_box():
    """Bilinear resizing with align_corners=True is exact on a linear ramp, both ways."""
    zoom = ZoomIn(target_size=90, min_crop_size=10)
    prev = torch.zeros(1, 1, 60, 80)
    prev[:, :, 20:30, 30:50] = 1.0
    ramp = _ramp(60, 80)
    image = torch.cat([ramp, ramp, ramp, prev], dim=1)
    clicks = [pos(35, 25, 0), pos(40, 22, 1)]
    crop, [crop_clicks], view = zoom.transform(image, [clicks])
    roi = view.roi
    assert roi == object_roi(prev[0, 0].numpy() > 0.5, clicks, 1.4, 10)
    assert roi == Box(18, 32, 26, 54) and max(crop.shape[2:]) == 90 and view.crop_size == tuple(crop.shape[2:])
    pasted = zoom.inv_transform(crop[:, :1], view)
    inside = pasted[:, :, roi.top : roi.bottom + 1, roi.left : roi.right + 1]
    torch.testing.assert_close(
        inside, ramp[:, :, roi.top : roi.bottom + 1, roi.left : roi.right + 1], atol=1e-5, rtol=0
    )
    assert pasted.sum() == pytest.approx(inside.sum().item())  # zero outside the box
    # the clicks moved with the crop: the positive click keeps its place on the ramp
    assert crop_clicks[0].x == pytest.approx(crop.shape[3] * (35 - roi.left) / roi.width)
    assert crop_clicks[0].y == pytest.approx(crop.shape[2] * (25 - roi.top) / roi.height)


def test_first_click_is_not_zoomed_and_the_box_follows_the_rules():
    zoom = ZoomIn(ZoomInConfig(target_size=50, min_crop_size=10, expansion_ratio=1.0))
    image = torch.rand(1, 4, 100, 100)
    same, _, view = zoom.transform(image, [[pos(10, 10)]])
    assert same is image and view.roi is None

    prev = torch.zeros(1, 1, 100, 100)
    prev[:, :, 40:60, 40:60] = 1.0
    image = torch.cat([image[:, :3], prev], dim=1)  # the previous prediction: the last channel
    *_, first = zoom.transform(image, [[pos(50, 50, 0), pos(45, 45, 1)]], view.roi)
    assert first.roi is not None and first.roi_updated

    *_, kept = zoom.transform(image, [[pos(50, 50, 0), pos(45, 45, 1), pos(52, 48, 2)]], first.roi)
    assert kept.roi == first.roi and not kept.roi_updated  # inside and IoU >= 0.5: kept

    *_, moved = zoom.transform(image, [[pos(50, 50, 0), pos(90, 90, 1)]], kept.roi)
    assert moved.roi != first.roi and moved.roi_updated  # a positive click outside: recomputed


def test_transform_is_a_pure_function_of_its_inputs():
    """ZoomIn keeps nothing: the same input and kept box give the same crop and view."""
    zoom = ZoomIn(target_size=40, min_crop_size=10)
    prev = torch.zeros(1, 1, 60, 80)
    prev[:, :, 20:30, 30:50] = 1.0
    image = torch.cat([torch.rand(1, 3, 60, 80), prev], 1)
    clicks = [[pos(35, 25, 0), pos(40, 22, 1)]]
    crop, _, view = zoom.transform(image, clicks)
    zoom.transform(image, [[pos(35, 25, 0), pos(75, 55, 1)]], view.roi)  # another click between
    again, _, view_again = zoom.transform(image, clicks)
    torch.testing.assert_close(again, crop)
    assert view_again == view and vars(zoom) == {"config": zoom.config}


def test_box_is_recomputed_when_its_iou_drops_below_half_with_every_click_inside():
    zoom = ZoomIn(ZoomInConfig(target_size=50, min_crop_size=10, expansion_ratio=1.0))
    image = torch.rand(1, 4, 100, 100)
    large = torch.zeros(1, 1, 100, 100)
    large[:, :, 10:90, 10:90] = 1.0
    *_, view = zoom.transform(torch.cat([image[:, :3], large], 1), [[pos(50, 50, 0), pos(45, 45, 1)]])
    kept = view.roi
    assert kept == object_roi(large[0, 0].numpy() > 0.5, [pos(50, 50)], 1.0, 10)

    small = torch.zeros(1, 1, 100, 100)
    small[:, :, 44:56, 44:56] = 1.0  # the object shrank to a box well inside the kept one
    image = torch.cat([image[:, :3], small], 1)
    clicks = [pos(50, 50, 0), pos(45, 45, 1), pos(52, 47, 2)]
    new = object_roi(small[0, 0].numpy() > 0.5, clicks, 1.0, 10)
    assert clicks_inside(kept, clicks) and bbox_iou(new, kept) < 0.5  # only the IoU rule applies
    *_, view = zoom.transform(image, [clicks], kept)
    assert view.roi == new and view.roi_updated


def test_empty_prediction_keeps_the_old_box_for_pasting():
    """The original's behaviour that the golden trajectory relies on."""
    zoom = ZoomIn(target_size=40, min_crop_size=10)
    image = torch.rand(1, 4, 60, 80)
    prev = torch.zeros(1, 1, 60, 80)
    prev[:, :, 20:30, 30:50] = 1.0
    _, _, view = zoom.transform(torch.cat([image[:, :3], prev], 1), [[pos(35, 25, 0), pos(40, 22, 1)]])
    roi = view.roi
    empty = zoom.inv_transform(torch.zeros(1, 1, *view.crop_size), view)  # an empty prediction ...
    image = torch.cat([image[:, :3], empty], 1)  # ... fed back
    unchanged, _, passed = zoom.transform(image, [[pos(35, 25, 0), pos(40, 22, 1), pos(36, 25, 2)]], roi)
    assert unchanged is image and passed.roi == roi  # the net sees the whole image...
    pasted = zoom.inv_transform(torch.ones(1, 1, 60, 80), passed)
    # ...squeezed into the box
    assert pasted.shape == (1, 1, 60, 80) and pasted.sum() == roi.height * roi.width


def test_needs_recompute_only_without_skipped_clicks():
    small = torch.zeros(1, 1, 400, 400)
    small[:, :, 10:20, 10:20] = 1.0
    paper = ZoomIn()
    first_input = torch.cat([torch.rand(1, 3, 400, 400), torch.zeros(1, 1, 400, 400)], 1)
    *_, paper_view = paper.transform(first_input, [[pos(15, 15)]])
    assert not paper.needs_recompute(small, paper_view)  # skip_clicks = 1: never
    eager = ZoomIn(skip_clicks=0, min_crop_size=50)
    same, _, view = eager.transform(first_input, [[pos(15, 15)]])  # no previous prediction yet
    assert same is first_input and eager.inv_transform(small, view) is small
    assert eager.needs_recompute(small, view)  # a small object: zoom in and run the click again
    crop, _, zoomed = eager.transform(first_input, [[pos(15, 15)]], view.roi, guide=small)  # boxed on the answer
    assert zoomed.roi is not None and max(crop.shape[2:]) == 400
    assert not eager.needs_recompute(small, zoomed)  # once boxed, never again
    torch.testing.assert_close(crop[:, 3:], torch.zeros_like(crop[:, 3:]))  # the net still sees the old mask


def test_flip_round_trip_and_click_mirroring():
    clicks = [pos(0, 3), Click(x=9, y=1, is_positive=False, index=1)]
    assert [(c.x, c.y) for c in flip_clicks(clicks, 10)] == [(9, 3), (0, 1)]
    assert flip_clicks(flip_clicks(clicks, 10), 10) == clicks
    flip = HorizontalFlip()
    x = torch.rand(1, 4, 5, 10)
    doubled, lists, view = flip.transform(x, [clicks])
    assert view is None  # the inverse needs nothing
    assert (
        doubled.shape == (2, 4, 5, 10)
        and lists[0] == clicks
        and lists[1] == flip_clicks(clicks, 10)
    )
    torch.testing.assert_close(doubled[1], torch.flip(x[0], dims=[2]))
    # a flip-equivariant "network" (identity) gives back its input
    torch.testing.assert_close(flip.inv_transform(doubled[:, :1]), x[:, :1])
    with pytest.raises(ValueError):
        flip.inv_transform(torch.rand(3, 1, 5, 10))
