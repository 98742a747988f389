"""MultiScale: a model wrapper averaging the prediction with that of a shrunk copy, only where the
input is longer than its size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_predictor import COORDS, LABELS, TinyClickNet

from ritm_lite.clicks import Click, points_tensor
from ritm_lite.inference import Predictor, ZoomInConfig
from ritm_lite.inference.multi_scale import MultiScale


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "320"])
def test_a_size_that_is_not_a_positive_integer_is_refused(bad):
    with pytest.raises(ValueError, match="multi_scale"):
        MultiScale(TinyClickNet(), bad)


def test_the_average_of_the_full_size_and_the_shrunk_probabilities():
    """64 px long, size 32: p = (sigmoid f(I) + resize(sigmoid f(shrink I))) / 2, returned as logits."""
    x = torch.rand(2, 4, 48, 64)
    clicks = [Click(x=20, y=30, is_positive=True, index=0), Click(x=50, y=5, is_positive=False, index=1)]
    points = points_tensor([clicks, clicks[:1]])
    net = TinyClickNet()
    with torch.no_grad():
        got = MultiScale(net, 32)(x, points)["instances"]
        reference = TinyClickNet()
        full = torch.sigmoid(reference(x, points)["instances"])
        small_x = F.interpolate(x, size=(24, 32), mode="bilinear", align_corners=True)
        scaled = [[c.moved(x=32 * c.x / 64, y=24 * c.y / 48) for c in lst] for lst in (clicks, clicks[:1])]
        small = torch.sigmoid(reference(small_x, points_tensor(scaled, num_points=points.shape[1] // 2))["instances"])
        want = 0.5 * (full + F.interpolate(small, size=(48, 64), mode="bilinear", align_corners=True))
    torch.testing.assert_close(torch.sigmoid(got), want, atol=1e-6, rtol=0)
    assert [tuple(call[0].shape) for call in net.calls] == [(2, 4, 48, 64), (2, 4, 24, 32)]
    assert not torch.allclose(want, full, atol=1e-3)  # the second scale changed something


def test_inputs_within_the_size_get_one_pass(image):
    net = TinyClickNet()
    two = Predictor(MultiScale(net, 64), zoom_in=False, flip=False)
    one = Predictor(TinyClickNet(), zoom_in=False, flip=False)
    two.set_image(image)
    one.set_image(image)
    np.testing.assert_array_equal(two.predict(COORDS, LABELS), one.predict(COORDS, LABELS))
    assert len(net.calls) == 1


def test_it_runs_inside_the_predictors_transforms(image):
    """Flip pairs and ZoomIn crops reach the wrapper: each ZoomIn view longer than the size
    gets a second, shrunk pass."""
    net = TinyClickNet()
    predictor = Predictor(MultiScale(net, 24), zoom_in=ZoomInConfig(target_size=40, skip_clicks=-1), flip=True)
    predictor.set_image(image)
    predictor.predict(COORDS[:1], LABELS[:1])
    shapes = [(call[0].shape[0], max(call[0].shape[2:])) for call in net.calls]
    assert shapes[:2] == [(2, 40), (2, 24)], shapes  # the 40-px ZoomIn view (a flip pair), then its 24-px copy
    assert np.isfinite(predictor.prev_prediction).all()


def test_saturated_probabilities_give_finite_logits():
    class Sure(torch.nn.Module):
        def forward(self, image, points):
            return {"instances": torch.full((image.shape[0], 1, *image.shape[2:]), 1e4)}

    out = MultiScale(Sure(), 16)(torch.rand(1, 4, 32, 32), points_tensor([[Click(3, 3, True, 0)]]))["instances"]
    assert torch.isfinite(out).all() and (torch.sigmoid(out) > 0.99).all()
