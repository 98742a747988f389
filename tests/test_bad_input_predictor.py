"""Bad input to the Predictor: a clear error naming the problem, or a correct result."""

from __future__ import annotations

import numpy as np
import pytest

from ritm_lite import build_model
from ritm_lite.inference import Predictor, ZoomInConfig
from tests.test_predictor import TinyClickNet

COORDS = np.array([[20, 30], [50, 5]])
LABELS = np.array([1, 0])


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def _predictor(**kwargs) -> Predictor:
    return Predictor(TinyClickNet(), **{"zoom_in": False, "flip": False, **kwargs})


def test_the_returned_probabilities_are_the_callers_own_array(image):
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
def test_an_image_without_pixels_is_refused(shape):
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
def test_images_of_the_wrong_kind_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        _predictor().set_image(bad)


def test_predicting_before_an_image_is_set_says_so():
    with pytest.raises(RuntimeError, match="set_image"):
        _predictor().predict(COORDS, LABELS)


@pytest.mark.parametrize("preset", ["efficientnet_lite0", "hrnet18s"])
def test_a_one_pixel_image_gives_a_one_pixel_answer(preset):
    predictor = Predictor(build_model(preset).eval(), zoom_in=True, flip=True)
    predictor.set_image(np.full((1, 1, 3), 90, np.uint8))
    probs = predictor.predict(np.array([[0.0, 0.0]]), np.array([1]))
    assert probs.shape == (1, 1) and np.isfinite(probs).all() and 0 <= probs[0, 0] <= 1


def test_a_click_on_the_outer_half_of_an_edge_pixel_is_on_the_image(image):
    predictor = _predictor()
    predictor.set_image(image)
    on_edge = predictor.predict(np.array([[-0.3, 47.4]]), np.array([1]))
    predictor.reset()
    np.testing.assert_array_equal(on_edge, predictor.predict(np.array([[0, 47]]), np.array([1])))
    with pytest.raises(ValueError, match="outside"):
        predictor.predict(np.array([[-0.6, 10]]), np.array([1]))


def test_a_state_from_another_image_of_the_same_size_is_refused(image):
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
def test_a_zoom_in_size_that_is_not_positive_fails_at_once(size):
    with pytest.raises(ValueError, match="target_size"):
        Predictor(TinyClickNet(), zoom_in=ZoomInConfig(target_size=size))


def test_the_zoom_in_size_has_one_way_in():
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
def test_zoom_in_settings_out_of_range_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        ZoomInConfig(**settings)


@pytest.mark.parametrize("max_size", [0, -1, 1, 15])
def test_a_max_size_that_is_not_positive_is_refused(max_size):
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
def test_bad_mask_inputs_are_refused(image, mask, message):
    predictor = _predictor()
    predictor.set_image(image)
    with pytest.raises(ValueError, match=message):
        predictor.predict(COORDS[:1], LABELS[:1], mask_input=mask)


@pytest.mark.parametrize(
    "labels, message", [(np.array(["yes"]), "1 \\(positive\\) or 0"), (np.array([2]), "1 \\(positive\\) or 0")]
)
def test_click_labels_other_than_0_and_1_are_refused(image, labels, message):
    predictor = _predictor()
    predictor.set_image(image)
    with pytest.raises(ValueError, match=message):
        predictor.predict(COORDS[:1], labels)


def test_prev_prediction_is_a_copy_not_a_view_of_the_state(image):
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
def test_set_state_without_a_state_says_what_it_needs(image, state):
    predictor = _predictor()
    predictor.set_image(image)
    with pytest.raises(TypeError, match="PredictorState from get_state"):
        predictor.set_state(state)


class _NeverCalled(TinyClickNet):
    def forward(self, image, points):  # pragma: no cover - the budget check comes first
        raise AssertionError("the network must not run on an image over the budget")


def test_an_image_over_the_memory_budget_is_refused_naming_max_size(monkeypatch):
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


def test_the_memory_budget_refuses_a_100_megapixel_photo():
    from ritm_lite.inference import MAX_NETWORK_PIXELS

    huge = np.broadcast_to(np.zeros((1, 1, 3), dtype=np.uint8), (10_000, 10_000, 3))  # no 300 MB allocated
    assert 10_000 * 10_000 > MAX_NETWORK_PIXELS >= 4000 * 3000  # a 12-megapixel photo still runs
    with pytest.raises(ValueError, match=r"100 megapixels.*max_size"):
        Predictor(_NeverCalled(), zoom_in=False, flip=False).set_image(huge)
