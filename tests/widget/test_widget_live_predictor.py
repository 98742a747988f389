"""The predictor the widget runs by default (``ritm_lite.widget.live_predictor``): the fast
backend, giving the masks the eager network gives; and notebook 09 builds its widget's
predictor with it.

Issue 31: each click took 3-5 s on a busy 2-core CPU because notebook 09 ran the eager network
with the course weights' stored settings (two scales, one refinement pass).
"""

from __future__ import annotations

import ast

import cv2
import numpy as np
import pytest

from ritm_lite.evaluation import Clicker
from ritm_lite.inference import Predictor, unwrap
from ritm_lite.inference.fast import FastRITM
from ritm_lite.utils import PROJECT_ROOT
from ritm_lite.widget import live_predictor
from ritm_lite.widget.live import LIVE_BACKEND

NOTEBOOK = PROJECT_ROOT / "notebooks" / "09_live_widget.py"

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def course_model():
    from ritm_lite.weights import load_course_model

    # weights whose file stores click-time settings (two scales, a refinement pass), loaded as
    # notebook 09 loads its model: the tests show the fast backend keeps them
    return load_course_model("efficientnet_lite0_stage7")


def test_by_default_the_network_runs_fast_in_the_checkpoint_settings(course_model):
    predictor = live_predictor(course_model)
    network, settings = unwrap(predictor.model)
    assert isinstance(network, FastRITM)  # BN folded, channels_last, image features cached
    assert settings == unwrap(course_model)[1] and settings.to_meta()  # the stored settings stay
    assert predictor.zoom_in is not None and predictor.flip is not None  # the paper's inference
    assert unwrap(live_predictor(course_model, backend="eager").model)[0] is unwrap(course_model)[0]


def test_the_fast_default_gives_the_eager_masks_on_a_real_photo(course_model, grabcut_dir):
    """Course weights with their stored settings, ZoomIn and flip, four automatic clicks on a
    GrabCut photo (shrunk so that the eager reference is quick): probabilities within 1e-4 of
    the eager network, click by click, and the same masks."""
    from ritm_lite.data.benchmarks import grabcut

    sample = grabcut(grabcut_dir)[0]
    scale = 240 / max(sample.image.shape[:2])
    size = (round(sample.image.shape[1] * scale), round(sample.image.shape[0] * scale))
    image = cv2.resize(sample.image, size, interpolation=cv2.INTER_AREA)
    gt = cv2.resize(sample.gt_mask.astype(np.float32), size, interpolation=cv2.INTER_NEAREST) == 1

    fast, eager = live_predictor(course_model), Predictor(course_model)
    fast.set_image(image)
    eager.set_image(image)
    clicker = Clicker(gt.astype(np.int32))
    mask = np.zeros(gt.shape, bool)
    for k in range(4):
        clicker.make_next_click(mask)
        coords = np.array([(c.x, c.y) for c in clicker.clicks], np.float64)
        labels = np.array([int(c.is_positive) for c in clicker.clicks])
        expected, got = eager.predict(coords, labels), fast.predict(coords, labels)
        assert np.abs(got - expected).max() <= 1e-4, f"click {k + 1}"
        sure = np.abs(expected - 0.5) > 1e-4  # pixels rounding cannot flip
        np.testing.assert_array_equal((got > 0.5)[sure], (expected > 0.5)[sure])
        mask = expected > 0.5
    assert mask.any()


def test_a_backend_the_widget_cannot_build_is_named(course_model):
    with pytest.raises(ValueError, match="backend must be one of"):
        live_predictor(course_model, backend="tensorrt")
    with pytest.raises(ValueError, match="int8 needs calibration"):
        live_predictor(course_model, backend="int8")


def test_notebook_09_builds_its_predictors_with_the_fast_default():
    """The notebook's BACKEND is a visible variable, "fast", and both its predictors (the
    widget's and the one without widgets) are built by live_predictor with it."""
    tree = ast.parse(NOTEBOOK.read_text())
    backend = [node.value.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
               and [getattr(t, "id", None) for t in node.targets] == ["BACKEND"]]
    assert backend == [LIVE_BACKEND] == ["fast"]
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    built = [ast.unparse(c) for c in calls if getattr(c.func, "id", None) == "live_predictor"]
    assert built == ["live_predictor(model, BACKEND)"] * 2, built
    assert not [c for c in calls if getattr(c.func, "id", None) == "Predictor"], "a predictor built past the backend"
