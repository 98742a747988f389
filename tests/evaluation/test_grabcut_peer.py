"""The OpenCV GrabCut peer: its label mask, its result on an easy image, and the NoC loop."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ritm_lite.clicks import Click
from ritm_lite.evaluation import GrabCutConfig, GrabCutPeer, evaluate_sample, iou
from ritm_lite.evaluation.grabcut_peer import grabcut_labels


def easy_image(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy red disk on a noisy blue-green background: easy for colour models."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:60, :80]
    gt = ((rows - 30) ** 2 + (cols - 35) ** 2 <= 15**2).astype(np.int32)
    image = np.where(gt[..., None] == 1, [200, 40, 40], [40, 160, 120]).astype(np.float64)
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), gt


def test_label_mask_marks_click_disks_over_the_previous_result():
    clicks = [
        Click(x=10, y=20, is_positive=True, index=0),
        Click(x=70, y=5, is_positive=False, index=1),
    ]
    config = GrabCutConfig(click_radius=2, prior_radius=0.1)
    labels = grabcut_labels(clicks, np.zeros((60, 80), bool), config)
    assert labels[20, 10] == cv2.GC_FGD and labels[20, 12] == cv2.GC_FGD
    assert labels[5, 70] == cv2.GC_BGD
    assert np.count_nonzero(labels == cv2.GC_FGD) == 13  # a disk of radius 2
    # no previous object yet: a probable-FG disk of 0.1 * 60 = 6 px around the positive click
    assert labels[20, 16] == cv2.GC_PR_FGD and labels[20, 17] == cv2.GC_PR_BGD
    assert np.count_nonzero(labels == cv2.GC_PR_FGD) == 113 - 13  # radius-6 disk minus the click

    previous = np.zeros((60, 80), bool)
    previous[40:50, 40:60] = True
    labels = grabcut_labels(clicks, previous, config)
    assert np.count_nonzero(labels == cv2.GC_PR_FGD) == 200  # the previous object, no prior disk
    assert set(np.unique(labels)) == {cv2.GC_BGD, cv2.GC_FGD, cv2.GC_PR_BGD, cv2.GC_PR_FGD}


def test_one_click_segments_an_easy_object_and_is_repeatable():
    image, gt = easy_image()
    peer = GrabCutPeer()
    peer.set_image(image)
    first = peer.predict(np.array([[35, 30]]), np.array([1]))
    assert first.dtype == np.float32 and set(np.unique(first)) <= {0.0, 1.0}
    assert iou(gt, first > 0.49) > 0.9
    assert peer.last_model_seconds > 0
    peer.reset()
    np.testing.assert_array_equal(peer.predict(np.array([[35, 30]]), np.array([1])), first)


def test_without_any_foreground_the_result_is_empty():
    image, _ = easy_image()
    peer = GrabCutPeer()
    peer.set_image(image)
    assert not peer.predict(np.array([[5, 5]]), np.array([0])).any()
    assert peer.last_model_seconds == 0.0


def test_peer_runs_in_the_noc_loop():
    image, gt = easy_image(1)
    result = evaluate_sample(image, gt, GrabCutPeer(), target_iou=0.9, max_clicks=5)
    assert result.ious[-1] >= 0.9 and len(result.ious) <= 5


def test_peer_refuses_bad_input():
    peer = GrabCutPeer()
    with pytest.raises(RuntimeError):
        peer.predict(np.array([[1, 1]]), np.array([1]))
    with pytest.raises(ValueError):
        peer.set_image(np.zeros((4, 4), np.uint8))
    peer.set_image(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError):
        peer.predict(np.array([[9, 1]]), np.array([1]))
