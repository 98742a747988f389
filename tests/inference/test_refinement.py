"""Refine: a model wrapper asking the network again, with its own answer as the previous mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_predictor import COORDS, LABELS, TinyClickNet

from ritm_lite.clicks import Click, points_tensor
from ritm_lite.inference import Predictor, ZoomInConfig
from ritm_lite.inference.refinement import MAX_PASSES, Refine


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1"])
def test_a_count_that_is_not_a_positive_integer_is_refused(bad):
    with pytest.raises(ValueError, match="refine must"):
        Refine(TinyClickNet(), bad)


@pytest.mark.parametrize("huge", [MAX_PASSES + 1, 1_000_000])
def test_a_pass_count_in_the_millions_is_refused_with_the_reason(huge):
    with pytest.raises(ValueError, match=f"at most {MAX_PASSES}.*whole network pass"):
        Refine(TinyClickNet(), huge)


@pytest.mark.parametrize("passes", [1, 2])
def test_each_pass_sees_the_last_answer_as_its_mask(passes):
    """p_k = f(I, clicks, sigmoid(p_(k-1))): the mask channel of pass k is pass k - 1's answer."""
    x = torch.rand(2, 4, 24, 32)
    points = points_tensor([[Click(10, 12, True, 0)], [Click(20, 5, True, 0)]])
    net = TinyClickNet()
    with torch.no_grad():
        got = Refine(net, passes)(x, points)["instances"]
        reference, answer, mask = TinyClickNet(), None, x[:, 3:]
        for _ in range(1 + passes):
            answer = reference(torch.cat([x[:, :3], mask], 1), points)["instances"]
            mask = torch.sigmoid(answer)
    torch.testing.assert_close(got, answer)
    assert len(net.calls) == 1 + passes
    torch.testing.assert_close(net.calls[0][0], x)  # the first pass: the given mask
    for k in range(1, 1 + passes):
        torch.testing.assert_close(net.calls[k][0][:, 3:], torch.sigmoid(TinyClickNet()(net.calls[k - 1][0], points)["instances"]).detach())


def test_by_hand_it_is_a_second_predict_call(image):
    """Without ZoomIn and flip, Refine(model, 1) answers a click as a plain predictor asked twice."""
    refined = Predictor(Refine(TinyClickNet(), 1), zoom_in=False, flip=False)
    plain = Predictor(TinyClickNet(), zoom_in=False, flip=False)
    refined.set_image(image)
    plain.set_image(image)
    plain.predict(COORDS[:1], LABELS[:1])
    twice = plain.predict(COORDS[:1], LABELS[:1])
    np.testing.assert_allclose(refined.predict(COORDS[:1], LABELS[:1]), twice, atol=1e-6)


def test_flip_and_zoom_in_apply_to_every_pass(image):
    net = TinyClickNet()
    predictor = Predictor(Refine(net, 1), zoom_in=ZoomInConfig(target_size=40), flip=True)
    predictor.set_image(image)
    predictor.predict(COORDS[:1], LABELS[:1])
    assert len(net.calls) == 2 and all(call[0].shape[0] == 2 for call in net.calls)  # flip pairs
    before = len(net.calls)
    predictor.predict(COORDS[:2], LABELS[:2])
    second = net.calls[before:]
    assert len(second) in (2, 4)  # two passes (twice, when ZoomIn recomputes a new box)
    assert all(max(call[0].shape[2:]) == 40 for call in second)  # both passes on the same crop


def test_an_input_without_a_mask_channel_is_refused():
    with pytest.raises(ValueError, match="previous mask"):
        Refine(TinyClickNet(), 1)(torch.rand(1, 1, 8, 8), points_tensor([[Click(1, 1, True, 0)]]))
