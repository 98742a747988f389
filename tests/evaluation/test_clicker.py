"""The automatic clicker: analytic placements, sign rule, ignore band, padding, no repeats."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from ritm_lite.clicks import Click
from ritm_lite.evaluation import Clicker, error_regions, next_click


def square_gt(size=(40, 50), top=10, left=20, side=9) -> np.ndarray:
    gt = np.zeros(size, dtype=np.int32)
    gt[top : top + side, left : left + side] = 1
    return gt


def test_first_click_is_the_centre_of_the_object():
    gt = square_gt(side=9)  # rows 10..18, cols 20..28: centre (14, 24)
    click = next_click(gt, np.zeros_like(gt, dtype=bool))
    assert click == Click(x=24, y=14, is_positive=True, index=0)


def test_even_square_takes_the_first_maximum_in_row_major_order():
    gt = square_gt(side=8)  # rows 10..17: centre pixels (13|14, 23|24) all tie
    click = next_click(gt, np.zeros_like(gt, dtype=bool))
    assert (click.y, click.x) == (13, 23)


def test_larger_false_positive_region_gives_a_negative_click():
    gt = square_gt(side=5)
    pred = np.zeros_like(gt, dtype=bool)
    pred[20:35, 0:15] = True  # a 15x15 leak far from the 5x5 object
    click = next_click(gt, pred)
    assert not click.is_positive and (click.y, click.x) == (27, 7)


def test_equal_maxima_give_a_negative_click():
    gt = np.zeros((20, 40), np.int32)
    gt[5:10, 5:10] = 1  # FN 5x5, distance 3 at the centre
    pred = np.zeros((20, 40), bool)
    pred[5:10, 25:30] = True  # FP 5x5, the same distance
    assert not next_click(gt, pred).is_positive  # "positive iff FN max > FP max" (strict)


def test_ignored_pixels_are_never_errors():
    gt = square_gt(side=9)
    gt[:, :] = np.where(gt == 1, 1, -1)  # everything but the object is ignored
    pred = np.ones_like(gt, dtype=bool)  # predicting everything costs nothing
    fn, fp = error_regions(gt, pred)
    assert not fn.any() and not fp.any()


def test_padding_makes_the_image_border_a_boundary():
    gt = np.zeros((20, 30), np.int32)
    gt[:, :10] = 1  # object touching the top, bottom and left border
    pred = np.zeros_like(gt, dtype=bool)
    padded = next_click(gt, pred, padding=True)
    assert (padded.y, padded.x) == (4, 4)  # first pixel 5 away from the padded border
    unpadded = next_click(gt, pred, padding=False)
    assert unpadded.x == 0  # without padding the far border is the farthest point


def test_not_clicked_pixels_are_skipped():
    gt = square_gt(side=9)
    pred = np.zeros_like(gt, dtype=bool)
    not_clicked = np.ones(gt.shape, bool)
    not_clicked[14, 24] = False
    click = next_click(gt, pred, not_clicked)
    assert (click.y, click.x) != (14, 24)
    # the first pixel of distance 4 (the centre has 5) in row-major order
    assert (click.y, click.x) == (13, 23)


def test_matches_a_naive_exact_euclidean_distance_transform():
    rng = np.random.default_rng(0)
    for _ in range(10):
        gt = (rng.random((30, 40)) > 0.4).astype(np.int32)
        gt[rng.random((30, 40)) > 0.95] = -1
        pred = rng.random((30, 40)) > 0.6
        fn = (gt == 1) & ~pred
        fp = (gt == 0) & pred
        fn_d = distance_transform_edt(np.pad(fn, 1))[1:-1, 1:-1]
        fp_d = distance_transform_edt(np.pad(fp, 1))[1:-1, 1:-1]
        click = next_click(gt, pred)
        chosen = fn_d if click.is_positive else fp_d
        assert (
            click.is_positive == (fn_d.max() > fp_d.max() + 1e-6)
            or abs(fn_d.max() - fp_d.max()) < 1e-5
        )
        assert chosen[click.y, click.x] == pytest.approx(max(fn_d.max(), fp_d.max()), abs=1e-5)


def test_clicker_never_clicks_the_same_pixel_twice_and_undoes():
    gt = square_gt(side=3)
    clicker = Clicker(gt)
    pred = np.zeros_like(gt, dtype=bool)
    clicks = [clicker.make_next_click(pred) for _ in range(9)]
    assert len({(c.x, c.y) for c in clicks}) == 9  # all nine object pixels, each once
    assert [c.index for c in clicks] == list(range(9)) and all(c.is_positive for c in clicks)
    np.testing.assert_array_equal(clicker.point_coords[0], [21, 11])
    np.testing.assert_array_equal(clicker.point_labels, np.ones(9))
    state = clicker.get_state()
    last = clicker.remove_last_click()
    assert clicker.not_clicked[last.y, last.x] and len(clicker) == 8
    clicker.set_state(state)
    assert len(clicker) == 9 and not clicker.not_clicked[last.y, last.x]


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="same"):
        next_click(np.zeros((4, 4), np.int32), np.zeros((4, 5), bool))
