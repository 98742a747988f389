"""MultiPointSampler: where clicks land, how many there are, merging, determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ritm_lite.clicks import points_array
from ritm_lite.data.points_sampler import (
    SAMPLED_CLICK_INDEX,
    MultiPointSampler,
    click_count_probs,
)


def scene(height: int = 80, width: int = 100) -> np.ndarray:
    """Three separated rectangles as an (H, W, 3) stack."""
    masks = np.zeros((height, width, 3), bool)
    masks[10:40, 10:40, 0] = True  # 900 px
    masks[50:75, 60:95, 1] = True  # 875 px
    masks[5:20, 70:90, 2] = True  # 300 px
    return masks


def at(mask: np.ndarray, click) -> bool:
    return bool(mask[int(click.y), int(click.x)])


def test_defaults_are_the_training_config():
    s = MultiPointSampler()
    assert (s.max_num_points, s.prob_gamma, s.merge_objects_prob, s.max_num_merged_objects) == (24, 0.8, 0.15, 2)
    assert (s.positive_erode_prob, s.positive_erode_iters, s.expand_ratio) == (0.9, 3, 0.1)
    assert s.negative_probs == (0.1, 0.4, 0.5)


def test_click_count_probs_geometric():
    probs = click_count_probs(24, 0.8)
    assert probs.shape == (24,) and np.isclose(probs.sum(), 1.0)
    np.testing.assert_allclose(probs[1:] / probs[:-1], 0.8)


def test_clicks_land_in_their_regions():
    masks = scene()
    sampler = MultiPointSampler(merge_objects_prob=0.0)
    for seed in range(200):
        result = sampler.sample(masks, np.random.default_rng(seed))
        (obj,) = result.object_ids
        assert np.array_equal(result.gt_mask, masks[:, :, obj])
        positives, negatives = result.positive_clicks, result.negative_clicks
        assert 1 <= len(positives) <= 24 and len(negatives) <= 24
        assert all(at(result.positive_regions[0], c) for c in positives)
        assert all(at(result.gt_mask, c) for c in positives)
        assert not any(at(result.gt_mask, c) for c in negatives)
        assert all(c.index == SAMPLED_CLICK_INDEX for c in result.clicks)
        points = points_array(result.clicks, sampler.max_num_points)  # always fits N = 24
        assert points.shape == (48, 3)


def test_erosion_keeps_positives_off_the_boundary():
    masks = scene()
    sampler = MultiPointSampler(positive_erode_prob=1.0, merge_objects_prob=0.0)
    for seed in range(50):
        result = sampler.sample(masks, np.random.default_rng(seed), candidates=[0])
        region = result.positive_regions[0]
        np.testing.assert_array_equal(np.argwhere(region).min(0), [13, 13])  # 3 px eroded
        np.testing.assert_array_equal(np.argwhere(region).max(0), [36, 36])
        assert all(13 <= c.x <= 36 and 13 <= c.y <= 36 for c in result.positive_clicks)
    # An object that erosion would wipe out (<= 10 px left) keeps its full mask.
    tiny = np.zeros((30, 30, 1), bool)
    tiny[10:15, 10:15] = True
    result = sampler.sample(tiny, np.random.default_rng(0))
    assert np.array_equal(result.positive_regions[0], tiny[:, :, 0])


def test_border_ring_width():
    sampler = MultiPointSampler()
    gt = np.zeros((60, 60), bool)
    gt[20:40, 20:40] = True  # area 400 -> ring of ceil(0.1 * 20) = 2 pixels
    ring = sampler.border_mask(gt)
    expected = np.zeros_like(gt)
    expected[18:42, 18:42] = True
    expected[gt] = False
    np.testing.assert_array_equal(ring, expected)


def test_click_count_distribution_follows_geometric_probabilities():
    masks = scene()
    sampler = MultiPointSampler(merge_objects_prob=0.0)
    rng = np.random.default_rng(7)
    n = 3000
    pos_counts = np.zeros(25)
    neg_counts = np.zeros(25)
    for _ in range(n):
        result = sampler.sample(masks, rng)
        pos_counts[len(result.positive_clicks)] += 1
        neg_counts[len(result.negative_clicks)] += 1
    expected_pos = np.concatenate([[0], click_count_probs(24, 0.8)])  # 1..24 clicks
    expected_neg = click_count_probs(25, 0.8)  # 0..24 clicks
    # Total variation distance of 3000 draws from a 25-bin distribution is ~0.03 at most.
    assert 0.5 * np.abs(pos_counts / n - expected_pos).sum() < 0.05
    assert 0.5 * np.abs(neg_counts / n - expected_neg).sum() < 0.05
    assert pos_counts[0] == 0
    # The distribution is geometric, not uniform: P(1 click) ~ 0.2.
    assert abs(pos_counts[1] / n - expected_pos[1]) < 0.03


def test_negative_strategies_have_their_probabilities():
    masks = scene()
    sampler = MultiPointSampler(merge_objects_prob=0.0)
    rng = np.random.default_rng(11)
    counts = {"other": 0, "border": 0, "rest": 0}
    expected = {"other": 0.0, "border": 0.0, "rest": 0.0}
    total = 0
    for _ in range(600):
        result = sampler.sample(masks, rng, candidates=[0, 1, 2])
        regions = result.negative_regions
        other, border = regions["other"], regions["border"]
        rest = regions["bg"] & ~other & ~border
        assert not (other & border).any()  # the objects are far apart in this scene
        bg_size = regions["bg"].sum()
        for click in result.negative_clicks:
            total += 1
            key = "other" if at(other, click) else "border" if at(border, click) else "rest"
            assert key != "rest" or at(rest, click)
            counts[key] += 1
            expected["other"] += 0.4 + 0.1 * other.sum() / bg_size
            expected["border"] += 0.5 + 0.1 * border.sum() / bg_size
            expected["rest"] += 0.1 * rest.sum() / bg_size
    assert total > 1000
    for key, count in counts.items():
        assert abs(count / total - expected[key] / total) < 0.03, key


def test_other_objects_fall_back_to_background_without_other_candidates():
    masks = scene()
    result = MultiPointSampler().sample(masks, np.random.default_rng(0), candidates=[0])
    # Objects 1 and 2 are not candidates (e.g. too small), so "other" is the background.
    assert np.array_equal(result.negative_regions["other"], ~masks[:, :, 0])


def test_merged_object_is_the_union():
    masks = scene()
    sampler = MultiPointSampler(merge_objects_prob=1.0)
    seen = set()
    for seed in range(100):
        result = sampler.sample(masks, np.random.default_rng(seed))
        assert len(result.object_ids) == 2 and len(set(result.object_ids)) == 2  # max 2 merged
        seen.add(tuple(sorted(result.object_ids)))
        union = masks[:, :, result.object_ids[0]] | masks[:, :, result.object_ids[1]]
        assert np.array_equal(result.gt_mask, union)
        positives = result.positive_clicks
        assert 2 <= len(positives) <= 24
        # the first click of each merged object lies on that object
        for obj, click in zip(result.object_ids, positives[:2]):
            assert at(masks[:, :, obj], click)
        assert all(at(union, c) for c in positives)
        assert not any(at(union, c) for c in result.negative_clicks)
    assert seen == {(0, 1), (0, 2), (1, 2)}


def test_merge_frequency():
    masks = scene()
    rng = np.random.default_rng(5)
    merged = sum(len(MultiPointSampler().sample(masks, rng).object_ids) > 1 for _ in range(1000))
    assert abs(merged / 1000 - 0.15) < 0.035  # ~3 standard deviations


def test_background_sample():
    masks = scene()
    result = MultiPointSampler().sample(masks, np.random.default_rng(0), candidates=[])
    assert not result.gt_mask.any() and result.object_ids == ()
    assert result.positive_clicks == []
    background = ~masks.any(axis=2)
    assert all(at(background, c) for c in result.negative_clicks)
    empty = MultiPointSampler().sample(np.zeros((20, 30, 0), bool), np.random.default_rng(0))
    assert empty.gt_mask.shape == (20, 30) and not empty.positive_clicks
    # By default only non-empty channels can be targets (e.g. objects cropped away).
    masks[:, :, 1] = False
    for seed in range(30):
        result = MultiPointSampler().sample(masks, np.random.default_rng(seed))
        assert 1 not in result.object_ids and result.positive_clicks


def test_determinism():
    masks = scene()
    sampler = MultiPointSampler(merge_objects_prob=0.5)
    a = sampler.sample(masks, np.random.default_rng(3))
    b = sampler.sample(masks, np.random.default_rng(3))
    assert a.clicks == b.clicks and a.object_ids == b.object_ids
    others = [sampler.sample(masks, np.random.default_rng(s)).clicks for s in range(4, 8)]
    assert any(c != a.clicks for c in others)


def test_first_click_center_draws_the_first_click_deep_inside():
    masks = scene()
    sampler = MultiPointSampler(first_click_center=True, positive_erode_prob=0.0, merge_objects_prob=0.0)
    # A 30x30 square: depth d = distance to the outside; inner part d > max d / 1.7.
    square = masks[:, :, 0]
    inner = sampler.inner_region(square)
    rows, cols = np.nonzero(inner)
    assert 0 < inner.sum() < square.sum() / 2 and inner[25, 25]
    assert rows.min() >= 10 + 15 / 1.7 - 1 and rows.max() <= 39 - 15 / 1.7 + 1 and cols.min() >= 10 + 15 / 1.7 - 1
    # the image border counts as outside: a mask touching it is deepest away from the border
    edge = np.zeros((20, 40), bool)
    edge[:, :10] = True
    assert not sampler.inner_region(edge)[:, 0].any() and sampler.inner_region(edge)[10, 5]
    firsts_off_centre = 0
    for seed in range(100):
        result = sampler.sample(masks, np.random.default_rng(seed))
        first, *rest = result.positive_clicks
        (obj,) = result.object_ids
        assert first.index == 0 and at(sampler.inner_region(masks[:, :, obj]), first)
        assert all(c.index == SAMPLED_CLICK_INDEX for c in rest + result.negative_clicks)
        assert all(at(masks[:, :, obj], c) for c in rest)
    uniform = MultiPointSampler(positive_erode_prob=0.0, merge_objects_prob=0.0)
    for seed in range(100):  # without the option, the first click is often outside the inner part
        result = uniform.sample(masks, np.random.default_rng(seed))
        first = result.positive_clicks[0]
        firsts_off_centre += not at(uniform.inner_region(masks[:, :, result.object_ids[0]]), first)
    assert firsts_off_centre > 30
    merged = MultiPointSampler(first_click_center=True, merge_objects_prob=1.0, positive_erode_prob=0.0)
    for seed in range(30):  # merged objects: each object's own first click is centred
        result = merged.sample(masks, np.random.default_rng(seed))
        for obj, click in zip(result.object_ids, result.positive_clicks[:2]):
            assert click.index == 0 and at(merged.inner_region(masks[:, :, obj]), click)


def test_bad_input():
    with pytest.raises(ValueError, match="prob_gamma"):
        MultiPointSampler(prob_gamma=0.0)
    with pytest.raises(ValueError, match="sfc_inner_k"):
        MultiPointSampler(sfc_inner_k=0.5)
    with pytest.raises(ValueError, match="sum to 1"):
        MultiPointSampler(negative_bg_prob=0.5)
    with pytest.raises(ValueError, match="stack"):
        MultiPointSampler().sample(np.zeros((10, 10), bool), np.random.default_rng(0))
    with pytest.raises(ValueError, match="candidates"):
        MultiPointSampler().sample(scene(), np.random.default_rng(0), candidates=[3])
    assert dataclasses.is_dataclass(MultiPointSampler)


@pytest.mark.parametrize("change, message", [
    (dict(max_num_points=0), "max_num_points"),
    (dict(max_num_points=10**9), "max_num_points must be in 1..512"),
    (dict(positive_erode_prob=float("nan")), "positive_erode_prob"),
    (dict(merge_objects_prob=1.5), "merge_objects_prob"),
    (dict(positive_erode_iters=10**9), "positive_erode_iters"),
    (dict(positive_erode_iters=-1), "positive_erode_iters"),
    (dict(expand_ratio=float("nan")), "expand_ratio"),
    (dict(negative_bg_prob=float("nan")), "negative_bg_prob"),
])
def test_bad_input_sampler_settings_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        MultiPointSampler(**change)
