"""MultiScale: the prediction averaged with that of a shrunk copy, only where the input is longer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_predictor import COORDS, LABELS, TinyClickNet

from ritm_lite.inference import Predictor, ZoomInConfig
from ritm_lite.inference.multi_scale import MultiScale


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "320"])
def test_a_size_that_is_not_a_positive_integer_is_refused(bad):
    with pytest.raises(ValueError, match="multi_scale"):
        MultiScale(bad)
    with pytest.raises(ValueError, match="multi_scale"):
        Predictor(TinyClickNet(), multi_scale=bad)


def test_the_average_of_the_full_size_and_the_shrunk_prediction(image):
    """No ZoomIn, 64 px long: p = (p(I) + p(shrink to 32 px)) / 2, two network calls."""
    net = TinyClickNet()
    two = Predictor(net, zoom_in=False, flip=True, multi_scale=32)
    full = Predictor(TinyClickNet(), zoom_in=False, flip=True)
    small = Predictor(TinyClickNet(), zoom_in=False, flip=True, max_size=32)
    for p in (two, full, small):
        p.set_image(image)
    got = two.predict(COORDS, LABELS)
    want = 0.5 * (full.predict(COORDS, LABELS) + small.predict(COORDS, LABELS))
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert [tuple(call[0].shape) for call in net.calls] == [(2, 4, 48, 64), (2, 4, 24, 32)]
    assert not np.allclose(got, full.prev_prediction, atol=1e-3)  # the second scale changed something
    # the averaged map is what the next click sees
    np.testing.assert_allclose(two.prev_prediction, got)


def test_inputs_within_the_size_get_one_pass(image):
    net = TinyClickNet()
    two = Predictor(net, zoom_in=False, flip=False, multi_scale=64)
    one = Predictor(TinyClickNet(), zoom_in=False, flip=False)
    two.set_image(image)
    one.set_image(image)
    np.testing.assert_array_equal(two.predict(COORDS, LABELS), one.predict(COORDS, LABELS))
    assert len(net.calls) == 1


def test_zoom_in_crops_longer_than_the_size_get_the_second_pass_too(image):
    net = TinyClickNet()
    predictor = Predictor(net, zoom_in=ZoomInConfig(target_size=40, skip_clicks=-1), flip=False, multi_scale=24)
    predictor.set_image(image)
    predictor.predict(COORDS[:1], LABELS[:1])
    shapes = [max(call[0].shape[2:]) for call in net.calls]
    assert shapes[:2] == [40, 24], shapes  # the 40-px ZoomIn view, then its 24-px copy
    assert torch.isfinite(torch.from_numpy(predictor.prev_prediction)).all()
