"""The Predictor computes exactly the RITM step, click after click, with a tiny stand-in model.

A stand-in network (a random 3x3 convolution over RGB + previous mask + click disks) keeps the
tests fast; the real HRNet model is checked against the original's trajectory in
test_eval_parity.py. Each test builds the expected output by hand from the model and the
paper's formulas, so a wrong step (mask not fed back, clicks mirrored wrongly, probabilities
averaged instead of logits, ...) changes the numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ritm_lite import build_model
from ritm_lite.clicks import Click, points_tensor
from ritm_lite.inference import Predictor, ZoomIn, ZoomInConfig


class TinyClickNet(nn.Module):
    """Stand-in with the RITM model's signature: ``model(image (B,4,H,W), points (B,2N,3))``."""

    def __init__(self, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.conv = nn.Conv2d(6, 1, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=generator))
            self.conv.bias.fill_(-1.0)
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls.append((image.clone(), points.clone()))
        height, width = image.shape[2:]
        rows = torch.arange(height, dtype=torch.float32).view(1, 1, height, 1)
        cols = torch.arange(width, dtype=torch.float32).view(1, 1, 1, width)
        r = points[:, :, 0].view(*points.shape[:2], 1, 1)
        c = points[:, :, 1].view(*points.shape[:2], 1, 1)
        near = ((rows - r) ** 2 + (cols - c) ** 2 <= 25) & (r >= 0)
        half = points.shape[1] // 2
        disks = torch.stack([near[:, :half].any(1), near[:, half:].any(1)], 1).float()
        logits = 3 * self.conv(torch.cat([image, disks], 1))
        return {"instances": logits, "instances_aux": logits}


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def _as_input(image: np.ndarray, prev: torch.Tensor) -> torch.Tensor:
    rgb = torch.from_numpy(image.transpose(2, 0, 1).copy()).float().div(255)[None]
    return torch.cat([rgb, prev], dim=1)


CLICKS = [
    Click(x=20, y=30, is_positive=True, index=0),
    Click(x=50, y=5, is_positive=False, index=1),
]
COORDS = np.array([[20, 30], [50, 5]])
LABELS = np.array([1, 0])


def test_plain_predictor_feeds_its_prediction_back(image):
    model = TinyClickNet()
    predictor = Predictor(model, zoom_in=False, flip=False)
    predictor.set_image(image)
    first = predictor.predict(COORDS[:1], LABELS[:1])
    second = predictor.predict(COORDS, LABELS)

    reference = TinyClickNet()
    with torch.no_grad():
        prev = torch.zeros(1, 1, 48, 64)
        expected1 = torch.sigmoid(
            reference(_as_input(image, prev), points_tensor([CLICKS[:1]]))["instances"]
        )
        expected2 = torch.sigmoid(
            reference(_as_input(image, expected1), points_tensor([CLICKS]))["instances"]
        )
    assert first.shape == (48, 64) and first.dtype == np.float32
    np.testing.assert_allclose(first, expected1[0, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(second, expected2[0, 0].numpy(), atol=1e-6)
    assert len(model.calls) == 2  # one model call per predict
    np.testing.assert_array_equal(model.calls[1][1].numpy(), points_tensor([CLICKS]).numpy())


def test_flip_averages_logits_in_one_batch(image):
    model = TinyClickNet()
    predictor = Predictor(model, zoom_in=False, flip=True)
    predictor.set_image(image)
    probs = predictor.predict(COORDS, LABELS)

    assert len(model.calls) == 1 and model.calls[0][0].shape[0] == 2  # batched, not two calls
    reference = TinyClickNet()
    mirrored = [c.moved(x=64 - c.x - 1, y=c.y) for c in CLICKS]
    net_input = _as_input(image, torch.zeros(1, 1, 48, 64))
    with torch.no_grad():
        direct = reference(net_input, points_tensor([CLICKS]))["instances"]
        through_mirror = reference(torch.flip(net_input, dims=[3]), points_tensor([mirrored]))[
            "instances"
        ]
    expected = torch.sigmoid(0.5 * (direct + torch.flip(through_mirror, dims=[3])))
    np.testing.assert_allclose(probs, expected[0, 0].numpy(), atol=1e-6)
    averaged_probs = 0.5 * (
        torch.sigmoid(direct) + torch.flip(torch.sigmoid(through_mirror), dims=[3])
    )
    # logits are averaged, not probabilities
    assert not np.allclose(probs, averaged_probs[0, 0].numpy(), atol=1e-4)


def test_mask_input_replaces_the_previous_prediction(image):
    mask = np.zeros((48, 64), dtype=bool)
    mask[10:30, 5:40] = True
    predictor = Predictor(TinyClickNet(), zoom_in=False, flip=False)
    predictor.set_image(image)
    probs = predictor.predict(COORDS[:1], LABELS[:1], mask_input=mask)
    with torch.no_grad():
        prev = torch.from_numpy(mask.astype(np.float32))[None, None]
        expected = torch.sigmoid(
            TinyClickNet()(_as_input(image, prev), points_tensor([CLICKS[:1]]))["instances"]
        )
    np.testing.assert_allclose(probs, expected[0, 0].numpy(), atol=1e-6)


def test_zoom_in_crops_the_input_from_the_second_click(image):
    model = TinyClickNet()
    zoom = ZoomIn(ZoomInConfig(target_size=100, min_crop_size=10))
    predictor = Predictor(model, zoom_in=zoom, flip=False)
    predictor.set_image(image)
    mask = np.zeros((48, 64), dtype=np.float32)
    mask[20:36, 10:30] = 1.0
    predictor.predict(COORDS[:1], LABELS[:1], mask_input=mask)  # first click: whole image
    assert model.calls[0][0].shape[2:] == (48, 64)
    predictor.predict(COORDS, LABELS)
    assert predictor.zoom_view.roi is not None and max(model.calls[1][0].shape[2:]) == 100


def test_state_round_trip_is_an_exact_undo(image):
    predictor = Predictor(
        TinyClickNet(), zoom_in=ZoomInConfig(target_size=80, min_crop_size=20), flip=True
    )
    predictor.set_image(image)
    predictor.predict(COORDS[:1], LABELS[:1])
    state = predictor.get_state()
    after_undo_target = predictor.predict(COORDS, LABELS)
    predictor.predict(np.array([[20, 30], [50, 5], [3, 40]]), np.array([1, 0, 1]))  # to undo
    predictor.set_state(state)
    np.testing.assert_array_equal(predictor.predict(COORDS, LABELS), after_undo_target)


def test_reset_forgets_clicks_but_keeps_the_image(image):
    predictor = Predictor(TinyClickNet(), zoom_in=True, flip=True)
    predictor.set_image(image)
    first = predictor.predict(COORDS[:1], LABELS[:1])
    predictor.predict(COORDS, LABELS)
    predictor.reset()
    np.testing.assert_array_equal(predictor.prev_prediction, np.zeros((48, 64), np.float32))
    np.testing.assert_array_equal(predictor.predict(COORDS[:1], LABELS[:1]), first)


def test_bad_input_is_refused_clearly(image):
    predictor = Predictor(TinyClickNet())
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.predict(COORDS, LABELS)
    with pytest.raises(ValueError, match="uint8"):
        predictor.set_image(image.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        predictor.set_image(image[:, :, 0])
    predictor.set_image(image)
    with pytest.raises(ValueError, match="outside"):
        predictor.predict(np.array([[64, 0]]), np.array([1]))  # x = W is outside
    with pytest.raises(ValueError, match="labels"):
        predictor.predict(COORDS, np.array([1, 2]))
    with pytest.raises(ValueError, match="shape"):
        predictor.predict(COORDS, LABELS, mask_input=np.zeros((10, 10)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        predictor.predict(COORDS, LABELS, mask_input=np.full((48, 64), 2.0))


def test_with_zoom_in_is_a_new_predictor_and_leaves_this_one_as_it_is(image):
    model = TinyClickNet()
    predictor = Predictor(model, zoom_in=False, flip=False, max_size=200)
    predictor.set_image(image)
    mask = np.zeros((48, 64), dtype=np.float32)
    mask[20:36, 10:30] = 1.0
    first = predictor.predict(COORDS[:1], LABELS[:1], mask_input=mask)
    zoom = ZoomIn(ZoomInConfig(target_size=100, min_crop_size=10))
    zoomed = predictor.with_zoom_in(zoom)
    assert not hasattr(Predictor, "set_zoom_in")  # no mode switch on the predictor
    assert zoomed is not predictor and zoomed.model is model and zoomed.zoom_in is zoom
    assert zoomed.flip is None and zoomed.limit.max_size == 200  # the other options kept
    assert predictor.zoom_in is None  # this one unchanged, its clicks too
    np.testing.assert_array_equal(predictor.prev_prediction, first)
    with pytest.raises(RuntimeError, match="set_image"):
        zoomed.predict(COORDS[:1], LABELS[:1])  # a new predictor: no image yet
    zoomed.set_image(image)
    zoomed.predict(COORDS[:1], LABELS[:1], mask_input=mask)
    zoomed.predict(COORDS, LABELS)
    assert max(model.calls[-1][0].shape[2:]) == 100  # zoomed from the second click
    assert predictor.with_zoom_in(None).zoom_in is None
    assert predictor.with_zoom_in(False).zoom_in is None
    assert predictor.with_zoom_in(True).zoom_in.config == ZoomInConfig()
    with pytest.raises(ValueError, match="zoom_in"):
        predictor.with_zoom_in("yes")


def test_the_transforms_share_one_interface_applied_in_order(image):
    """ZoomIn, LimitLongestSide, the sigmoid and flip, in the original's order; each undone in reverse."""
    from ritm_lite.inference.flip import HorizontalFlip
    from ritm_lite.inference.limit_longest_side import LimitLongestSide
    from ritm_lite.inference.transforms import Sigmoid
    from ritm_lite.inference.zoom_in import ZoomInClick

    predictor = Predictor(TinyClickNet(), zoom_in=True, flip=True, max_size=40)
    kinds = [type(t) for t in predictor._transforms(None, None)]
    assert kinds == [ZoomInClick, LimitLongestSide, Sigmoid, HorizontalFlip]
    x, clicks = torch.rand(1, 4, 48, 64), [[CLICKS[0]]]
    for transform in predictor._transforms(None, None):
        y, lists, view = transform.transform(x, clicks)
        back = transform.inv_transform(y[:, 3:] if y.shape[0] == 1 else y[:, 3:], view)
        assert back.shape[2:] == x.shape[2:] and back.shape[0] == 1


def test_the_constructor_takes_the_papers_options_only():
    import inspect

    assert list(inspect.signature(Predictor.__init__).parameters) == ["self", "model", "zoom_in", "flip", "max_size"]


# ------------------------------------------------------------------------------------------------
# Bad input (`python -m pytest -k bad_input`) to the Predictor: a clear error naming the problem, or
# a correct result.


def _predictor(**kwargs) -> Predictor:
    return Predictor(TinyClickNet(), **{"zoom_in": False, "flip": False, **kwargs})


def test_bad_input_the_returned_probabilities_are_the_callers_own_array(image):
    clean, edited = _predictor(), _predictor()
    for predictor in (clean, edited):
        predictor.set_image(image)
    first = clean.predict(COORDS[:1], LABELS[:1])
    returned = edited.predict(COORDS[:1], LABELS[:1])
    returned[returned < 0.5] = 0.0  # in-place post-processing by the caller
    returned *= 0.0
    np.testing.assert_array_equal(edited.prev_prediction, first)
    np.testing.assert_array_equal(edited.predict(COORDS, LABELS), clean.predict(COORDS, LABELS))


@pytest.mark.parametrize("shape", [(0, 0, 3), (0, 5, 3), (4, 0, 3)])
def test_bad_input_an_image_without_pixels_is_refused(shape):
    with pytest.raises(ValueError, match="no pixels"):
        _predictor().set_image(np.zeros(shape, np.uint8))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((8, 8, 3), np.float32), "uint8"),
        (np.zeros((8, 8, 4), np.uint8), "RGB"),
        (np.zeros((8, 8), np.uint8), "RGB"),
    ],
)
def test_bad_input_images_of_the_wrong_kind_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        _predictor().set_image(bad)


def test_bad_input_predicting_before_an_image_is_set_says_so():
    with pytest.raises(RuntimeError, match="set_image"):
        _predictor().predict(COORDS, LABELS)


@pytest.mark.parametrize("preset", ["efficientnet_lite0", "hrnet18s"])
def test_bad_input_a_one_pixel_image_gives_a_one_pixel_answer(preset):
    predictor = Predictor(build_model(preset).eval(), zoom_in=True, flip=True)
    predictor.set_image(np.full((1, 1, 3), 90, np.uint8))
    probs = predictor.predict(np.array([[0.0, 0.0]]), np.array([1]))
    assert probs.shape == (1, 1) and np.isfinite(probs).all() and 0 <= probs[0, 0] <= 1


def test_bad_input_a_click_on_the_outer_half_of_an_edge_pixel_is_on_the_image(image):
    predictor = _predictor()
    predictor.set_image(image)
    on_edge = predictor.predict(np.array([[-0.3, 47.4]]), np.array([1]))
    predictor.reset()
    np.testing.assert_array_equal(on_edge, predictor.predict(np.array([[0, 47]]), np.array([1])))
    with pytest.raises(ValueError, match="outside"):
        predictor.predict(np.array([[-0.6, 10]]), np.array([1]))


def test_bad_input_a_state_from_another_image_of_the_same_size_is_refused(image):
    predictor = _predictor(zoom_in=True)
    predictor.set_image(image)
    predictor.predict(COORDS[:1], LABELS[:1])
    state = predictor.get_state()
    predictor.set_image(255 - image)  # same size, other pixels
    with pytest.raises(ValueError, match="another image"):
        predictor.set_state(state)
    predictor.set_image(image.copy())  # the same pixels again: the state fits
    predictor.set_state(state)


@pytest.mark.parametrize("size", [0, -5])
def test_bad_input_a_zoom_in_size_that_is_not_positive_fails_at_once(size):
    with pytest.raises(ValueError, match="target_size"):
        Predictor(TinyClickNet(), zoom_in=ZoomInConfig(target_size=size))


def test_bad_input_the_zoom_in_size_has_one_way_in():
    """The crop size is ZoomInConfig's: the Predictor has no second argument for it."""
    with pytest.raises(TypeError):
        Predictor(TinyClickNet(), zoom_in=True, zoom_in_target_size=600)
    assert Predictor(TinyClickNet(), zoom_in=ZoomInConfig(target_size=600)).zoom_in.config.target_size == 600


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"target_size": (400,)}, "pair"),
        ({"target_size": (0, 400)}, "target_size"),
        ({"target_size": 2.5}, "target_size"),
        ({"skip_clicks": -2}, "skip_clicks"),
        ({"expansion_ratio": 0.5}, "expansion_ratio"),
        ({"min_crop_size": 0}, "min_crop_size"),
        ({"recompute_thresh_iou": 1.5}, "recompute_thresh_iou"),
        ({"prob_thresh": -0.1}, "prob_thresh"),
    ],
)
def test_bad_input_zoom_in_settings_out_of_range_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        ZoomInConfig(**settings)


@pytest.mark.parametrize("max_size", [0, -1, 1, 15])
def test_bad_input_a_max_size_that_is_not_positive_is_refused(max_size):
    with pytest.raises(ValueError, match="max_size"):
        Predictor(TinyClickNet(), max_size=max_size)


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.full((48, 64), np.nan, np.float32), r"\[0, 1\]"),
        (np.full((48, 64), 2.0, np.float32), r"\[0, 1\]"),
        (np.ones((48, 64), np.uint8), "float probabilities or bool"),
        (np.ones((24, 32), np.float32), "shape"),
    ],
)
def test_bad_input_bad_mask_inputs_are_refused(image, mask, message):
    predictor = _predictor()
    predictor.set_image(image)
    with pytest.raises(ValueError, match=message):
        predictor.predict(COORDS[:1], LABELS[:1], mask_input=mask)


@pytest.mark.parametrize(
    "labels, message", [(np.array(["yes"]), "1 \\(positive\\) or 0"), (np.array([2]), "1 \\(positive\\) or 0")]
)
def test_bad_input_click_labels_other_than_0_and_1_are_refused(image, labels, message):
    predictor = _predictor()
    predictor.set_image(image)
    with pytest.raises(ValueError, match=message):
        predictor.predict(COORDS[:1], labels)


def test_bad_input_prev_prediction_is_a_copy_not_a_view_of_the_state(image):
    """Thresholding ``prev_prediction`` for display must not change the next click's answer."""
    clean, edited = _predictor(), _predictor()
    for predictor in (clean, edited):
        predictor.set_image(image)
        predictor.predict(COORDS[:1], LABELS[:1])
    shown = edited.prev_prediction
    shown[shown < 0.5] = 0.0  # in place, as a display would
    shown[:] = 1.0
    np.testing.assert_array_equal(edited.prev_prediction, clean.prev_prediction)
    np.testing.assert_array_equal(edited.predict(COORDS, LABELS), clean.predict(COORDS, LABELS))


@pytest.mark.parametrize("state", [None, {"prev_prediction": None}, "state"])
def test_bad_input_set_state_without_a_state_says_what_it_needs(image, state):
    predictor = _predictor()
    predictor.set_image(image)
    with pytest.raises(TypeError, match="PredictorState from get_state"):
        predictor.set_state(state)


class _NeverCalled(TinyClickNet):
    def forward(self, image, points):  # pragma: no cover - the budget check comes first
        raise AssertionError("the network must not run on an image over the budget")


def test_bad_input_an_image_over_the_memory_budget_is_refused_naming_max_size(monkeypatch):
    """A 100-megapixel photo would need ~80 GB of activations at the first click: refused with
    the budget and the way on (max_size), before any memory is taken; with max_size it runs."""
    from ritm_lite.inference import predictor as predictor_module

    monkeypatch.setattr(predictor_module, "MAX_NETWORK_PIXELS", 48 * 64 - 1)  # the same rule, on a small image
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"budget.*max_size"):
        Predictor(_NeverCalled(), zoom_in=False, flip=False).set_image(image)
    shrunk = Predictor(TinyClickNet(), zoom_in=False, flip=False, max_size=32)
    shrunk.set_image(image)
    assert shrunk.predict(COORDS[:1], LABELS[:1]).shape == (48, 64)


def test_bad_input_the_memory_budget_refuses_a_100_megapixel_photo():
    from ritm_lite.inference import MAX_NETWORK_PIXELS

    huge = np.broadcast_to(np.zeros((1, 1, 3), dtype=np.uint8), (10_000, 10_000, 3))  # no 300 MB allocated
    assert 10_000 * 10_000 > MAX_NETWORK_PIXELS >= 4000 * 3000  # a 12-megapixel photo still runs
    with pytest.raises(ValueError, match=r"100 megapixels.*max_size"):
        Predictor(_NeverCalled(), zoom_in=False, flip=False).set_image(huge)
