"""ritm_lite.clicks: (x, y) prompts in, RITM's (B, 2N, 3) points tensor out."""

import numpy as np
import pytest
import torch

from ritm_lite.clicks import Click, clicks_from_points, clicks_from_prompts, points_array, points_tensor, set_click


def test_prompts_become_clicks_in_order():
    clicks = clicks_from_prompts([[10, 4], [2.5, 3]], [1, 0], image_size=(20, 30))
    assert clicks == [Click(10.0, 4.0, True, 0), Click(2.5, 3.0, False, 1)]


def test_a_click_on_the_outer_half_of_an_edge_pixel_is_on_that_pixel():
    clicks = clicks_from_prompts([[-0.3, 19.4], [29.49, -0.5]], [1, 0], image_size=(20, 30))
    assert [(c.x, c.y) for c in clicks] == [(0.0, 19.0), (29.0, 0.0)]


@pytest.mark.parametrize(
    "coords, labels, message",
    [
        ([[1, 2, 3]], [1], r"shape \(N, 2\)"),
        ([[1, 2]], [[1]], r"shape \(N,\)"),
        ([[1, 2], [3, 4]], [1], "one label per click"),
        ([[1, 2]], [2], "1 \\(positive\\) or 0"),
        ([[np.nan, 2]], [1], "finite"),
        ([[30, 2]], [1], "outside"),  # x == width
        ([[-0.51, 2]], [1], "outside"),  # beyond the outer half of pixel 0
        ([[29.5, 2]], [1], "outside"),  # pixel 29 covers [28.5, 29.5)
        ([[1, 2]], ["yes"], "1 \\(positive\\) or 0"),
        ([[3, 20]], [0], "outside"),  # y == height
    ],
)
def test_bad_prompts_raise_clear_errors(coords, labels, message):
    with pytest.raises(ValueError, match=message):
        clicks_from_prompts(coords, labels, image_size=(20, 30))


def test_points_layout_positive_half_then_negative_half():
    clicks = [Click(10, 4, True, 0), Click(2, 3, False, 1), Click(7, 8, True, 2)]
    points = points_array(clicks, num_points=3)
    assert points.dtype == np.float32 and points.shape == (6, 3)
    np.testing.assert_array_equal(points[:3], [[4, 10, 0], [8, 7, 2], [-1, -1, -1]])
    np.testing.assert_array_equal(points[3:], [[3, 2, 1], [-1, -1, -1], [-1, -1, -1]])


def test_points_tensor_sizes_n_by_the_largest_same_sign_count():
    batch = [[Click(1, 1, True, 0)], [Click(1, 1, False, 0), Click(2, 2, False, 1)]]
    points = points_tensor(batch)
    assert points.shape == (2, 4, 3) and points.dtype == torch.float32
    assert points_tensor([[]]).shape == (1, 2, 3)  # at least one slot, all padding
    assert torch.all(points_tensor([[]]) == -1)


def test_too_many_clicks_for_the_slots():
    with pytest.raises(ValueError, match="more than 1 positive"):
        points_array([Click(1, 1, True, 0), Click(2, 2, True, 1)], num_points=1)


def test_round_trip_through_the_points_tensor():
    clicks = [Click(3, 4, True, 0), Click(5.5, 6.25, False, 1), Click(0, 0, True, 2)]
    assert clicks_from_points(points_tensor([clicks])[0]) == clicks


def test_set_click_writes_one_slot_of_the_right_half():
    points = points_tensor([[]], num_points=4)
    set_click(points, 0, 3, Click(x=7, y=9, is_positive=False, index=1))
    expected = torch.full((8, 3), -1.0)
    expected[7] = torch.tensor([9.0, 7.0, 1.0])
    assert torch.equal(points[0], expected)
    with pytest.raises(ValueError, match="slot 4"):
        set_click(points, 0, 4, Click(1, 1, True))
