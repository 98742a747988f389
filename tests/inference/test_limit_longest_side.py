"""LimitLongestSide: a large input is shrunk before the network and the result resized back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ritm_lite.clicks import Click, points_tensor
from ritm_lite.inference import LimitLongestSide, Predictor, ZoomIn, ZoomInConfig
from tests.inference.test_predictor import TinyClickNet, _as_input


def test_output_size_keeps_the_aspect_ratio_and_leaves_small_inputs_alone():
    limit = LimitLongestSide(40)
    assert limit.output_size(48, 64) == (30, 40)  # 48 * 40 / 64 = 30
    assert limit.output_size(64, 33) == (40, round(33 * 40 / 64))
    assert limit.output_size(40, 20) == (40, 20)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, None])
def test_max_size_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="max_size"):
        LimitLongestSide(bad)


def test_predictor_runs_the_first_click_on_the_shrunk_image():
    image = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    model = TinyClickNet()
    predictor = Predictor(model, zoom_in=False, flip=False, max_size=40)
    predictor.set_image(image)
    probs = predictor.predict(np.array([[20, 30]]), np.array([1]))

    assert model.calls[0][0].shape[2:] == (30, 40)
    full = _as_input(image, torch.zeros(1, 1, 48, 64))
    small = F.interpolate(full, size=(30, 40), mode="bilinear", align_corners=True)
    click = Click(x=40 * 20 / 64, y=30 * 30 / 48, is_positive=True)  # x' = w x / W, y' = h y / H
    with torch.no_grad():
        logits = TinyClickNet()(small, points_tensor([[click]]))["instances"]
    expected = F.interpolate(torch.sigmoid(logits), size=(48, 64), mode="bilinear", align_corners=True)
    assert probs.shape == (48, 64)
    np.testing.assert_allclose(probs, expected[0, 0].numpy(), atol=1e-6)


def test_a_zoom_in_crop_within_the_limit_is_not_shrunk_again():
    image = np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    model = TinyClickNet()
    zoom = ZoomIn(ZoomInConfig(target_size=36, min_crop_size=10))
    predictor = Predictor(model, zoom_in=zoom, flip=True, max_size=40)
    predictor.set_image(image)
    mask = np.zeros((48, 64), dtype=np.float32)
    mask[20:36, 10:30] = 1.0
    predictor.predict(np.array([[20, 30]]), np.array([1]), mask_input=mask)
    predictor.predict(np.array([[20, 30], [50, 5]]), np.array([1, 0]))
    assert model.calls[0][0].shape[2:] == (30, 40)  # first click: the whole image, shrunk
    assert max(model.calls[1][0].shape[2:]) == 36  # the zoomed crop: ZoomIn's size
    assert predictor.prev_prediction.shape == (48, 64)
