"""LimitLongestSide: a large input is shrunk before the network and the result resized back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ritm_lite.clicks import Click, points_tensor
from ritm_lite.inference import LimitLongestSide, MaxSize, Predictor, ZoomIn, ZoomInConfig
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


def test_max_size_as_a_model_shows_the_network_what_the_predictor_option_does():
    """MaxSize (the stored form) feeds the network the same shrunk image and moved clicks as
    Predictor(max_size=...); it returns logits at that size, which the predictor resizes."""
    image = np.random.default_rng(3).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    as_option, as_model = TinyClickNet(), TinyClickNet()
    by_option = Predictor(as_option, zoom_in=False, flip=False, max_size=40)
    by_model = Predictor(MaxSize(as_model, 40), zoom_in=False, flip=False)
    for predictor in (by_option, by_model):
        predictor.set_image(image)
    coords, labels = np.array([[20, 30], [50, 5]]), np.array([1, 0])
    want, got = by_option.predict(coords, labels), by_model.predict(coords, labels)
    (seen_option, points_option), = as_option.calls
    (seen_model, points_model), = as_model.calls
    assert seen_model.shape[2:] == (30, 40)
    torch.testing.assert_close(seen_model, seen_option, atol=1e-6, rtol=0)
    torch.testing.assert_close(points_model, points_option, atol=1e-5, rtol=0)
    # the one difference: the logits are resized before the sigmoid, not the probabilities after
    # (with flip, the mirror image's clicks also move by 1 - w / W of a pixel: MaxSize sits after
    # flip, and x -> W - 1 - x does not commute with x -> w x / W)
    assert got.shape == want.shape == (48, 64) and np.abs(got - want).mean() < 0.05  # (a random image: sharp logits)
    with torch.no_grad():
        logits = as_model(seen_model, points_model)["instances"]
    expected = torch.sigmoid(F.interpolate(logits, size=(48, 64), mode="bilinear", align_corners=True))
    np.testing.assert_allclose(got, expected[0, 0].numpy(), atol=1e-6)


def test_max_size_as_a_model_leaves_inputs_within_the_limit_alone():
    net = TinyClickNet()
    x = torch.rand(1, 4, 30, 40)
    points = points_tensor([[Click(x=10, y=12, is_positive=True, index=0)]])
    with torch.no_grad():
        out = MaxSize(net, 40)(x, points)["instances"]
    assert torch.equal(net.calls[0][0], x) and torch.equal(net.calls[0][1], points)
    torch.testing.assert_close(out, TinyClickNet()(x, points)["instances"], atol=0, rtol=0)


@pytest.mark.parametrize("bad", [0, 8, 2.5, True, "320"])
def test_bad_input_max_size_as_a_model_is_refused(bad):
    with pytest.raises(ValueError, match="max_size"):
        MaxSize(TinyClickNet(), bad)
