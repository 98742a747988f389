"""Copy-paste (ritm_lite.data.copy_paste): pixels, masks and occlusion, and its place in the datasets."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from ritm_lite.clicks import clicks_from_points
from ritm_lite.data.copy_paste import CopyPaste, paste_object
from ritm_lite.data.datasets import CocoLvisDataset, DatasetConfig, InMemorySource
from ritm_lite.train import dataset_config
from ritm_lite.training.config import get_preset


def host_and_donor():
    """A grey 100x160 host with one 40x60 box instance; a 50x50 donor whose object is a green disk."""
    host = np.full((100, 160, 3), 90, np.uint8)
    host_masks = np.zeros((100, 160, 1), bool)
    host_masks[30:70, 50:110, 0] = True
    host[host_masks[:, :, 0]] = (200, 0, 0)
    donor = np.full((50, 50, 3), 10, np.uint8)
    yy, xx = np.mgrid[:50, :50]
    disk = (yy - 25) ** 2 + (xx - 25) ** 2 <= 15 ** 2
    donor[disk] = (0, 255, 0)
    return host, host_masks, donor, disk


def test_paste_puts_the_donor_object_and_its_mask_in_place():
    host, masks, donor, disk = host_and_donor()
    for seed in range(20):
        image, out_masks, ignore = paste_object(host, masks, None, donor, disk, CopyPaste(), np.random.default_rng(seed))
        assert ignore is None and image.shape == host.shape and out_masks.shape == (100, 160, 2)
        pasted = out_masks[:, :, 1]
        assert pasted.any()
        # the pasted object's pixels are the donor's green (inside, up to the bilinear resize; its rim
        # is resampled against the donor's own background), everything else is the host's
        inside = cv2.erode(pasted.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        assert inside.any() and (np.abs(image[inside].astype(int) - (0, 255, 0)) <= 20).all()
        assert (image[pasted][:, 1] > 100).mean() > 0.8
        assert (image[~pasted] == host[~pasted]).all()
        # the host instance loses exactly what the paste covers
        assert (out_masks[:, :, 0] == (masks[:, :, 0] & ~pasted)).all()
        # size: the box's longer side f * min(H, W) with f in (0.2, 0.9); the disk's box is 31 px,
        # so the factor is clipped to [0.5, 2] -> 16..62 px
        rows, cols = np.nonzero(pasted)
        side = max(np.ptp(rows), np.ptp(cols)) + 1
        assert 14 <= side <= 63
    assert not (host == image).all()  # the inputs were copied, and the host changed
    assert masks.shape == (100, 160, 1)


def test_paste_sizes_follow_the_range_and_always_fit():
    host, masks, donor, disk = host_and_donor()
    config = CopyPaste(size_range=(0.8, 0.8), max_scale=10.0)
    _, out, _ = paste_object(host, masks, None, donor, disk, config, np.random.default_rng(0))
    rows, cols = np.nonzero(out[:, :, 1])
    assert abs(max(np.ptp(rows), np.ptp(cols)) + 1 - 80) <= 2  # 0.8 * min(100, 160)
    # a donor object larger than the host is shrunk until its whole box fits
    big_donor = np.zeros((400, 400, 3), np.uint8)
    big_mask = np.ones((400, 400), bool)
    _, out, _ = paste_object(host, masks, None, big_donor, big_mask, CopyPaste(size_range=(1.0, 1.0), max_scale=100.0),
                             np.random.default_rng(1))
    assert out[:, :, 1].sum() == 100 * 100  # min(H, W) square
    assert not out[:, :, 0].any()  # fully covered


def test_paste_clears_the_ignore_region_under_the_object():
    host, masks, donor, disk = host_and_donor()
    ignore = np.ones((100, 160), bool)
    _, out, out_ignore = paste_object(host, masks, ignore, donor, disk, CopyPaste(), np.random.default_rng(3))
    assert (out_ignore == ~out[:, :, 1]).all()


def test_paste_rejects_bad_input():
    host, masks, donor, disk = host_and_donor()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="no object pixel"):
        paste_object(host, masks, None, donor, np.zeros_like(disk), CopyPaste(), rng)
    with pytest.raises(ValueError, match="donor mask"):
        paste_object(host, masks, None, donor, disk[:40], CopyPaste(), rng)
    with pytest.raises(ValueError, match="host image"):
        paste_object(host.astype(np.float32), masks, None, donor, disk, CopyPaste(), rng)
    with pytest.raises(ValueError, match="host masks"):
        paste_object(host, masks[:50], None, donor, disk, CopyPaste(), rng)
    for bad in [dict(prob=1.5), dict(size_range=(0.5, 0.2)), dict(size_range=(0.0, 0.5)), dict(max_scale=0.5)]:
        with pytest.raises(ValueError, match="copy-paste"):
            CopyPaste(**bad)


def two_photos() -> InMemorySource:
    """A red box on grey, and a green disk on black."""
    host, masks, donor, disk = host_and_donor()
    return InMemorySource([(host, [masks[:, :, 0]]),
                           (np.pad(donor, ((25, 25), (55, 55), (0, 0))), [np.pad(disk, ((25, 25), (55, 55)))])])


def test_dataset_pastes_with_its_probability_and_stays_deterministic():
    base = DatasetConfig(augmentation=None, min_object_area=1, epoch_len=200)
    plain = CocoLvisDataset(two_photos(), base, seed=0)
    pasting = CocoLvisDataset(two_photos(), dataclasses.replace(base, copy_paste=CopyPaste(prob=0.5)), seed=0)

    def foreign_colour(sample) -> bool:  # green on the red-box photo, or red on the disk photo
        image = (sample["images"].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
        red = (image == (200, 0, 0)).all(axis=2).any()
        green = (image == (0, 255, 0)).all(axis=2).any()
        return red and green

    assert not any(foreign_colour(plain[i]) for i in range(200))
    pasted = [foreign_colour(pasting[i]) for i in range(200)]
    assert 0.35 < np.mean(pasted) < 0.65  # prob 0.5 (a donor is always the other photo)
    again = CocoLvisDataset(two_photos(), dataclasses.replace(base, copy_paste=CopyPaste(prob=0.5)), seed=0)
    for i in range(10):
        assert (again[i]["images"] == pasting[i]["images"]).all() and (again[i]["points"] == pasting[i]["points"]).all()
    # the target is an instance of the composite, and the sampled clicks agree with it
    for i in range(200):
        sample = pasting[i]
        target = sample["instances"][0].numpy() == 1
        assert target.any()
        for click in clicks_from_points(sample["points"]):
            assert target[int(click.y), int(click.x)] == click.is_positive


def test_training_config_turns_copy_paste_on_for_training_only():
    config = get_preset("efficientnet_lite0_cpu").replace(copy_paste_prob=0.3)
    assert dataset_config(config, train=True).copy_paste == CopyPaste(prob=0.3)
    assert dataset_config(config, train=False).copy_paste is None
    assert dataset_config(config.replace(copy_paste_prob=0.0), train=True).copy_paste is None
    with pytest.raises(ValueError, match="copy_paste_prob"):
        config.replace(copy_paste_prob=-0.1)


@pytest.mark.parametrize("low, high", [(0, 128), (0, 255), (0, 1), (0, 200)])
def test_integer_host_masks_follow_the_one_mask_rule(low, high):
    """A 0/128 uint8 host mask is an object (>= 128), not erased by ``mask & ~pasted``."""
    host, masks, donor, disk = host_and_donor()
    stored = np.where(masks, high, low).astype(np.uint8)
    ignore = np.zeros(masks.shape[:2], np.uint8)
    ignore[:5] = high
    for seed in range(5):
        _, want, want_ignore = paste_object(host, masks, ignore > 0, donor, disk, CopyPaste(), np.random.default_rng(seed))
        _, got, got_ignore = paste_object(host, stored, ignore, donor, np.where(disk, high, low).astype(np.uint8),
                                          CopyPaste(), np.random.default_rng(seed))
        assert got.dtype == bool and got[:, :, 0].any()
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got_ignore, want_ignore)


def test_bad_input_copy_paste_masks_that_are_not_masks():
    host, masks, donor, disk = host_and_donor()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="host masks: a mask must be bool or unsigned"):
        paste_object(host, masks.astype(np.float32), None, donor, disk, CopyPaste(), rng)
    with pytest.raises(ValueError, match="host masks: a mask must be bool or unsigned"):
        paste_object(host, masks.astype(np.int8), None, donor, disk, CopyPaste(), rng)
    with pytest.raises(ValueError, match="ignore region must be"):
        paste_object(host, masks, np.zeros((3, 3), bool), donor, disk, CopyPaste(), rng)
    with pytest.raises(ValueError, match="host image"):
        paste_object(host[:, :, 0].tolist(), masks, None, donor, disk, CopyPaste(), rng)
    with pytest.raises(ValueError, match="donor mask has no object pixel"):
        paste_object(host, masks, None, np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0), bool), CopyPaste(), rng)
    with pytest.raises(ValueError, match="host image must be a non-empty"):
        paste_object(host[:0], masks[:0], None, donor, disk, CopyPaste(), rng)
    for bad in [dict(prob=float("nan")), dict(size_range=(float("nan"), 0.5)), dict(max_scale=float("inf")),
                dict(max_scale=float("nan")), dict(prob=-0.1)]:
        with pytest.raises(ValueError, match="copy-paste"):
            CopyPaste(**bad)
