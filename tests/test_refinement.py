"""MaskRefinement: a click asked again, with the model's own answer as the previous mask."""

from __future__ import annotations

import numpy as np
import pytest
from test_predictor import COORDS, LABELS, TinyClickNet

from ritm_lite.inference import Predictor, ZoomInConfig
from ritm_lite.inference.refinement import MaskRefinement


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1"])
def test_a_count_that_is_not_a_positive_integer_is_refused(bad):
    with pytest.raises(ValueError, match="refine must"):
        MaskRefinement(bad)
    with pytest.raises(ValueError, match="refine must"):
        Predictor(TinyClickNet(), refine=bad)
    with pytest.raises(ValueError, match="refine_clicks"):
        MaskRefinement(1, clicks=bad)
    with pytest.raises(ValueError, match="refine_clicks"):
        Predictor(TinyClickNet(), refine=1, refine_clicks=bad)


def test_refine_clicks_without_refine_is_refused():
    with pytest.raises(ValueError, match="needs refine"):
        Predictor(TinyClickNet(), refine_clicks=1)


def test_which_clicks_get_extra_passes():
    assert [MaskRefinement(2).extra_passes(n) for n in (1, 2, 20)] == [2, 2, 2]
    assert [MaskRefinement(1, clicks=2).extra_passes(n) for n in (1, 2, 3, 20)] == [1, 1, 0, 0]


@pytest.mark.parametrize("passes", [1, 2])
def test_each_pass_sees_the_last_answer_as_its_mask(image, passes):
    """p_k = f(I, clicks, p_(k-1)): the same as asking a plain predictor each click
    ``1 + passes`` times, and the mask channel of pass k is the answer of pass k - 1."""
    net = TinyClickNet()
    refined = Predictor(net, zoom_in=False, flip=False, refine=passes)
    plain = Predictor(TinyClickNet(), zoom_in=False, flip=False)
    refined.set_image(image)
    plain.set_image(image)
    for n in (1, 2):  # the first click, then the second
        before = len(net.calls)
        answers = [plain.predict(COORDS[:n], LABELS[:n]) for _ in range(1 + passes)]
        got = refined.predict(COORDS[:n], LABELS[:n])
        np.testing.assert_allclose(got, answers[-1], atol=1e-6)
        assert not np.allclose(answers[0], answers[-1], atol=1e-3)  # the feedback changed the answer
        calls = net.calls[before:]
        assert len(calls) == 1 + passes
        for k in range(1, 1 + passes):
            np.testing.assert_allclose(calls[k][0][0, 3].numpy(), answers[k - 1], atol=1e-6)
        np.testing.assert_allclose(refined.prev_prediction, got)  # what the next click sees
    assert float(net.calls[0][0][0, 3].abs().max()) == 0.0  # the very first pass: no previous mask


def test_refine_clicks_stops_refining_after_those_clicks(image):
    net = TinyClickNet()
    predictor = Predictor(net, zoom_in=False, flip=False, refine=1, refine_clicks=1)
    predictor.set_image(image)
    passes = []
    for n in (1, 2):
        before = len(net.calls)
        predictor.predict(COORDS[:n], LABELS[:n])
        passes.append(len(net.calls) - before)
    assert passes == [2, 1]


def test_flip_and_zoom_in_apply_to_every_pass(image):
    net = TinyClickNet()
    predictor = Predictor(net, zoom_in=ZoomInConfig(target_size=40), flip=True, refine=1)
    predictor.set_image(image)
    predictor.predict(COORDS[:1], LABELS[:1])
    assert len(net.calls) == 2 and all(call[0].shape[0] == 2 for call in net.calls)  # flip pairs
    before = len(net.calls)
    predictor.predict(COORDS[:2], LABELS[:2])
    second = net.calls[before:]
    assert 2 <= len(second) <= 3  # two passes (and ZoomIn's recompute, when its box is new)
    assert all(max(call[0].shape[2:]) == 40 for call in second)  # both passes zoomed in
