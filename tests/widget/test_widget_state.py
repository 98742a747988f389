"""The widget's plain-Python parts: SegmentationState (clicks, undo, objects) and io.py.

The stand-in predictor (tests/widget_support.py) feeds its previous result back, like RITM,
so every expectation below is computed independently by ``expected_probability``: if undo
did not restore the predictor's state, or a loaded mask were not passed as ``mask_input``,
the masks after it would differ.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from widget_support import BlockingPredictor, DiskPredictor, disk, expected_probability

from ritm_lite.utils import PROJECT_ROOT
from ritm_lite.widget import (
    BusyError,
    SegmentationState,
    coco_to_label_map,
    label_map_to_coco,
    load_image,
    load_mask,
    result_paths,
    save_coco_rle_json,
    save_label_map_png,
)
from ritm_lite.widget.io import to_uint8
from ritm_lite.widget.overlay import overlay_png, overlay_rgba

SIZE = (40, 60)  # (height, width)
R = 6.0


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)


@pytest.fixture
def state(image) -> SegmentationState:
    return SegmentationState(DiskPredictor(radius=R), image)


def test_each_click_predicts_with_all_clicks_so_far(state):
    clicks = [(10, 10, True), (30, 20, True), (12, 10, False)]
    for x, y, positive in clicks:
        state.add_click(x, y, positive)
    np.testing.assert_array_equal(state.probability, expected_probability(SIZE, clicks, R))
    assert [c["n"] for c in state.predictor.calls] == [1, 2, 3]
    assert [(c.x, c.y, c.is_positive, c.index) for c in state.clicks] == [
        (10, 10, True, 0),
        (30, 20, True, 1),
        (12, 10, False, 2),
    ]


def test_undo_restores_the_predictor_state(state):
    state.add_click(10, 10, True)
    state.add_click(14, 10, False)
    state.add_click(40, 25, True)
    assert state.undo()
    np.testing.assert_array_equal(
        state.probability, expected_probability(SIZE, [(10, 10, True), (14, 10, False)], R)
    )
    # The next click builds on the restored previous mask, not on the undone one.
    state.add_click(45, 30, True)
    np.testing.assert_array_equal(
        state.probability,
        expected_probability(SIZE, [(10, 10, True), (14, 10, False), (45, 30, True)], R),
    )
    assert len(state.clicks) == 3 and state.summary()["undo_depth"] == 3


def test_undo_past_the_first_click_is_a_no_op(state):
    assert not state.undo()
    state.add_click(10, 10, True)
    assert state.undo()
    assert state.probability is None and state.clicks == []
    assert not state.undo() and not state.current_mask().any()
    state.add_click(50, 30, True)  # still usable, and starts from an empty mask
    np.testing.assert_array_equal(
        state.probability, expected_probability(SIZE, [(50, 30, True)], R)
    )


def test_reset_starts_the_object_afresh(state):
    state.add_click(10, 10, True)
    state.add_click(20, 10, True)
    state.reset_clicks()
    assert state.clicks == [] and not state.current_mask().any()
    state.add_click(50, 30, True)
    np.testing.assert_array_equal(
        state.probability, expected_probability(SIZE, [(50, 30, True)], R)
    )


def test_clicks_outside_the_image_change_nothing(state):
    state.add_click(10, 10, True)
    before = state.probability.copy()
    for x, y in [(-1, 5), (60, 5), (5, 40), (np.nan, 3)]:
        with pytest.raises(ValueError):
            state.add_click(x, y, True)
    assert len(state.clicks) == 1 and len(state.predictor.calls) == 1
    np.testing.assert_array_equal(state.probability, before)
    state.add_click(59, 39, True)  # the last pixel is inside


def test_finish_object_builds_a_multi_object_label_map(state):
    state.add_click(10, 10, True)
    assert state.finish_object() == 1
    assert state.object_id == 2 and state.clicks == [] and state.probability is None
    state.add_click(14, 10, True)  # overlaps object 1: the later object takes only free pixels
    first, second = disk(SIZE, 10, 10, R), disk(SIZE, 14, 10, R)
    expected = np.where(first, 1, np.where(second, 2, 0))
    np.testing.assert_array_equal(state.result_label_map(), expected)
    # The new object starts from a fresh predictor, not from object 1's mask.
    np.testing.assert_array_equal(state.probability, second.astype(np.float32))
    state.finish_object()
    np.testing.assert_array_equal(state.label_map, expected)
    assert [(o.object_id, len(o.clicks), o.area, o.overlap) for o in state.objects] == [
        (1, 1, int(first.sum()), 0),
        (2, 1, int((second & ~first).sum()), int((second & first).sum())),
    ]


def test_a_later_object_covering_an_earlier_one_does_not_erase_it(tmp_path):
    """Object 1 (a small disk) lies inside object 2 (a big one): it stays in the map and the COCO file."""
    state = SegmentationState(DiskPredictor(radius=4), np.zeros((*SIZE, 3), np.uint8))
    state.add_click(20, 20, True)
    state.finish_object()
    state.predictor.radius = 15
    state.add_click(20, 20, True)
    state.finish_object()
    small, big = disk(SIZE, 20, 20, 4), disk(SIZE, 20, 20, 15)
    labels = state.result_label_map()
    np.testing.assert_array_equal(labels, np.where(small, 1, np.where(big, 2, 0)))
    coco = json.loads(save_coco_rle_json(labels, tmp_path / "labels.json").read_text())
    assert sorted(a["id"] for a in coco["annotations"]) == [o.object_id for o in state.objects] == [1, 2]
    assert {a["id"]: a["area"] for a in coco["annotations"]} == {o.object_id: o.area for o in state.objects}
    assert state.summary()["label_ids"] == [1, 2]


def test_an_object_entirely_on_finished_ones_is_refused(state):
    state.predictor.radius = 15
    state.add_click(20, 20, True)
    state.finish_object()
    state.predictor.radius = 4
    state.add_click(20, 20, True)
    before = state.label_map.copy()
    with pytest.raises(ValueError, match=r"object 2 lies entirely on finished object\(s\) \[1\]"):
        state.finish_object()
    np.testing.assert_array_equal(state.label_map, before)
    assert state.object_id == 2 and len(state.objects) == 1 and len(state.clicks) == 1


def test_undo_history_is_bounded_by_its_memory_budget():
    """Each snapshot here is 2 x 100 x 100 float32 (80 kB); a 0.25 MiB budget keeps 3 of them."""
    state = SegmentationState(DiskPredictor(radius=3), np.zeros((100, 100, 3), np.uint8), undo_memory_mb=0.25)
    for i in range(10):
        state.add_click(5 + 9 * i, 50, True)
    assert state.undo_nbytes <= 0.25 * 2**20
    assert state.summary()["undo_depth"] == 3 and state.undo_dropped == 7
    assert state.undo() and state.undo() and state.undo()
    np.testing.assert_array_equal(state.probability, expected_probability((100, 100), [(5 + 9 * i, 50, True) for i in range(7)], 3))
    assert not state.undo() and len(state.clicks) == 7
    state.finish_object()  # a new object starts with a full budget and nothing dropped
    assert state.undo_dropped == 0 and state.summary()["undo_depth"] == 0


def test_undo_on_a_12_megapixel_photo_stays_within_the_default_budget():
    """The issue's case: ~96 MB per click (two float32 maps) must not grow without bound."""
    from ritm_lite.widget.state import UNDO_MEMORY_MB

    state = SegmentationState(DiskPredictor(radius=50), np.zeros((3000, 4000, 3), np.uint8))
    for i in range(8):
        state.add_click(100 + 400 * i, 1500, True)
    assert state.undo_nbytes <= UNDO_MEMORY_MB * 2**20 and state.undo_dropped > 0
    assert state.undo()  # the newest clicks can still be undone


def test_finishing_an_empty_object_is_refused(state):
    with pytest.raises(ValueError, match="empty"):
        state.finish_object()
    state.add_click(10, 10, True)
    state.threshold = 1.0  # nothing is above it
    with pytest.raises(ValueError, match="empty"):
        state.finish_object()
    assert state.object_id == 1 and len(state.clicks) == 1


def test_threshold_decides_the_mask(image):
    class Ramp(DiskPredictor):
        def predict(self, point_coords, point_labels, mask_input=None):
            super().predict(point_coords, point_labels, mask_input)
            return np.tile(np.linspace(0, 1, SIZE[1], dtype=np.float32), (SIZE[0], 1))

    state = SegmentationState(Ramp(), image, threshold=0.5)
    state.add_click(1, 1, True)
    half = int(state.current_mask().sum())
    state.threshold = 0.9
    assert int(state.current_mask().sum()) < half
    assert (state.current_mask() == (state.probability > 0.9)).all()


def test_a_loaded_mask_guides_the_first_click_only(state):
    prior = np.zeros(SIZE, np.uint8)
    prior[5:20, 5:30] = 255
    state.load_mask(prior)
    assert state.current_mask().sum() == 15 * 25
    state.add_click(25, 10, False)
    state.add_click(50, 30, True)
    assert [c["mask_input"] for c in state.predictor.calls] == [True, False]
    np.testing.assert_array_equal(
        state.probability,
        expected_probability(SIZE, [(25, 10, False), (50, 30, True)], R, start=prior > 0),
    )
    state.reset_clicks()  # back to the loaded mask
    np.testing.assert_array_equal(state.probability, (prior > 0).astype(np.float32))


def test_a_mask_of_the_wrong_size_is_refused(state):
    state.add_click(10, 10, True)
    with pytest.raises(ValueError, match="shape"):
        state.load_mask(np.ones((SIZE[1], SIZE[0])))
    assert len(state.clicks) == 1 and state.prior_mask is None


def test_a_click_during_a_running_prediction_is_refused(image):
    predictor = BlockingPredictor(radius=R)
    state = SegmentationState(predictor, image)
    worker = threading.Thread(target=state.add_click, args=(10, 10, True))
    worker.start()
    try:
        assert predictor.running.wait(5) and state.busy
        for request in (lambda: state.add_click(30, 30, True), state.undo, state.reset_clicks):
            with pytest.raises(BusyError):
                request()
        assert predictor.started == 1 and state.clicks == []
    finally:
        predictor.release.set()
        worker.join(10)
    assert not state.busy and len(state.clicks) == 1 and len(state.predictor.calls) == 1
    state.add_click(30, 30, True)  # usable again
    assert len(state.clicks) == 2


def test_a_failing_prediction_leaves_the_state_as_it_was(image):
    class Flaky(DiskPredictor):
        fail = False

        def predict(self, point_coords, point_labels, mask_input=None):
            if self.fail:
                self._prev = None  # corrupt the internal state, then fail
                raise RuntimeError("out of memory")
            return super().predict(point_coords, point_labels, mask_input)

    state = SegmentationState(Flaky(radius=R), image)
    state.add_click(10, 10, True)
    state.predictor.fail = True
    with pytest.raises(RuntimeError):
        state.add_click(30, 20, True)
    assert len(state.clicks) == 1 and not state.busy
    state.predictor.fail = False
    state.add_click(30, 20, True)
    np.testing.assert_array_equal(
        state.probability, expected_probability(SIZE, [(10, 10, True), (30, 20, True)], R)
    )


def test_replace_predictor_replays_the_current_object(state):
    state.add_click(10, 10, True)
    state.finish_object()
    state.add_click(40, 20, True)
    state.add_click(44, 20, False)
    old = state.predictor
    state.replace_predictor(DiskPredictor(radius=3.0))
    assert state.predictor is not old
    clicks = [(40, 20, True), (44, 20, False)]
    np.testing.assert_array_equal(state.probability, expected_probability(SIZE, clicks, 3.0))
    assert [c["n"] for c in state.predictor.calls] == [1, 2]
    assert state.object_id == 2 and state.label_map.max() == 1  # finished objects kept
    assert state.undo()
    np.testing.assert_array_equal(state.probability, expected_probability(SIZE, clicks[:1], 3.0))


def test_a_failing_replacement_predictor_leaves_the_state_as_it_was(state):
    class FailsOnSecondClick(DiskPredictor):
        def predict(self, point_coords, point_labels, mask_input=None):
            if len(point_coords) == 2:
                raise RuntimeError("out of memory")
            return super().predict(point_coords, point_labels, mask_input)

    state.add_click(40, 20, True)
    state.add_click(44, 20, False)
    old, before = state.predictor, state.probability.copy()
    with pytest.raises(RuntimeError, match="out of memory"):
        state.replace_predictor(FailsOnSecondClick(radius=3.0))
    assert state.predictor is old and len(state.clicks) == 2 and not state.busy
    np.testing.assert_array_equal(state.probability, before)
    assert state.undo()  # the old undo stack came back with the old predictor
    np.testing.assert_array_equal(state.probability, expected_probability(SIZE, [(40, 20, True)], R))
    with pytest.raises(TypeError, match="set_state"):
        state.replace_predictor(object())


def test_summary_is_json(state):
    state.add_click(10, 10, True)
    state.finish_object()
    state.add_click(40, 20, True)
    summary = json.loads(json.dumps(state.summary()))
    assert summary["object_id"] == 2 and summary["label_ids"] == [1, 2]
    assert summary["clicks"] == [[40.0, 20.0, True]]


@pytest.mark.parametrize(
    "raw",
    [
        np.full(SIZE, 7, np.uint8),  # grayscale
        np.dstack([np.full(SIZE, 7, np.uint8)] * 3 + [np.zeros(SIZE, np.uint8)]),  # RGBA
        np.full((*SIZE, 1), 7, np.uint8),  # one channel
    ],
    ids=["gray", "rgba", "one-channel"],
)
def test_state_accepts_any_layout(raw):
    state = SegmentationState(DiskPredictor(), raw)
    assert state.image.shape == (*SIZE, 3) and state.image.dtype == np.uint8
    assert (state.image == 7).all()


# --------------------------------------------------------------------------- io.py
def _png(array: np.ndarray) -> bytes:
    """Encode an RGB(A)/gray array as PNG bytes (OpenCV wants BGR(A))."""
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA)
    ok, buffer = cv2.imencode(".png", array)
    assert ok
    return buffer.tobytes()


def test_load_image_keeps_rgb_order_and_drops_alpha():
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 50  # red, mostly transparent
    loaded = load_image(_png(rgba))
    assert (
        loaded.shape == (4, 5, 3) and (loaded[..., 0] == 200).all() and (loaded[..., 1:] == 0).all()
    )


def test_load_image_grayscale_and_16_bit(tmp_path):
    """Files follow the package's one reader: a 16-bit PNG is scaled by its sBIT depth, else refused."""
    from image_support import png_with_sbit

    gray16 = np.array([[1000, 2000], [3000, 4095]], np.uint16)  # a 12-bit image in 16 bits
    path = tmp_path / "gray16.png"
    path.write_bytes(png_with_sbit(gray16, 12))
    loaded = load_image(path)
    assert loaded.shape == (2, 2, 3) and loaded.dtype == np.uint8
    expected = np.round(gray16 * (255 / 4095)).astype(np.uint8)  # v * 255 / (2^12 - 1)
    np.testing.assert_array_equal(loaded[..., 0], expected)
    assert (loaded[..., 0] == loaded[..., 2]).all()
    rgb16 = np.stack([gray16, gray16 // 2, np.zeros_like(gray16)], axis=2)
    loaded_rgb = load_image(png_with_sbit(rgb16, 12))
    assert loaded_rgb[1, 1, 0] == 255 and loaded_rgb[0, 0, 0] > loaded_rgb[0, 0, 2] == 0
    with pytest.raises(ValueError, match="does not state its real bit depth"):
        load_image(_png(gray16))  # no sBIT: 12- and 16-bit data cannot be told apart
    # an array in memory states no depth either: it is stretched from its minimum to its maximum
    np.testing.assert_array_equal(load_image(gray16)[..., 0], np.round((gray16 - 1000.0) * 255 / 3095).astype(np.uint8))


def test_to_uint8_rules():
    np.testing.assert_array_equal(to_uint8(np.array([0.0, 0.5, 1.0])), [0, 128, 255])
    np.testing.assert_array_equal(to_uint8(np.array([True, False])), [255, 0])
    np.testing.assert_array_equal(to_uint8(np.full(3, 9, np.uint16)), [0, 0, 0])
    with pytest.raises(ValueError, match="NaN"):
        to_uint8(np.array([np.nan, 1.0]))


def test_bad_uploads_raise_clear_errors():
    with pytest.raises(ValueError, match="decode"):
        load_image(b"this is not an image")
    with pytest.raises(ValueError, match="shape"):
        load_image(np.zeros((2, 2, 2)))


def test_load_mask_from_a_colour_png_and_wrong_size():
    mask = np.zeros((*SIZE, 3), np.uint8)
    mask[3:9, 4:7, 1] = 255
    loaded = load_mask(_png(mask), SIZE)
    assert loaded.dtype == np.float32 and loaded.sum() == 18 and loaded[3, 4] == 1.0
    with pytest.raises(ValueError, match="40x60"):
        load_mask(_png(mask), (SIZE[1], SIZE[0]))


@pytest.mark.parametrize("top_id", [3, 300], ids=["uint8", "uint16"])
def test_label_map_png_round_trip(tmp_path, top_id):
    labels = np.zeros(SIZE, np.int32)
    labels[2:10, 3:20] = 1
    labels[20:30, 30:50] = top_id
    path = save_label_map_png(labels, tmp_path / "labels.png")
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert back.dtype == (np.uint8 if top_id <= 255 else np.uint16)
    np.testing.assert_array_equal(back, labels)


def test_coco_rle_json_round_trip(tmp_path):
    labels = np.zeros(SIZE, np.int32)
    labels[2:10, 3:20] = 1
    labels[20:30, 30:50] = 2
    labels[25, 35] = 0  # a hole
    path = save_coco_rle_json(labels, tmp_path / "labels.json", file_name="photo.png")
    coco = json.loads(path.read_text())
    assert coco["images"][0] == {"id": 1, "file_name": "photo.png", "height": 40, "width": 60}
    by_id = {a["id"]: a for a in coco["annotations"]}
    assert sorted(by_id) == [1, 2]
    assert by_id[1]["bbox"] == [3.0, 2.0, 17.0, 8.0] and by_id[1]["area"] == 8 * 17
    assert by_id[2]["area"] == 10 * 20 - 1
    rle = dict(by_id[2]["segmentation"], counts=by_id[2]["segmentation"]["counts"].encode())
    np.testing.assert_array_equal(mask_utils.decode(rle), labels == 2)
    np.testing.assert_array_equal(coco_to_label_map(coco), labels)
    assert label_map_to_coco(np.zeros(SIZE, np.int32))["annotations"] == []


# ----------------------------------------------------------------------- overlay.py
def test_overlay_png_is_lossless_rgba():
    labels = np.zeros(SIZE, np.int32)
    labels[5:10, 5:30], labels[20:40, 10:20] = 1, 12  # 12 wraps to colour 2
    png = overlay_png(labels, 0.6)
    assert png.startswith(b"\x89PNG")
    rgba = overlay_rgba(labels, 0.6)
    assert rgba.shape == (*SIZE, 4) and rgba.dtype == np.uint8
    assert (rgba[labels == 0, 3] == 0).all() and (rgba[labels > 0, 3] == 153).all()
    np.testing.assert_array_equal(rgba[6, 6, :3], (31, 119, 180))
    np.testing.assert_array_equal(rgba[30, 15, :3], (255, 127, 14))
    with pytest.raises(ValueError):
        overlay_png(labels, 1.5)


def test_the_widget_free_parts_import_without_ipycanvas():
    """The notebooks' fallback runs where ipycanvas / ipywidgets are missing."""
    code = (
        "import sys\n"
        "sys.modules['ipycanvas'] = sys.modules['ipywidgets'] = None  # import fails\n"
        "import numpy as np\n"
        "import ritm_lite.widget as w\n"
        "from ritm_lite.widget.state import SegmentationState\n"
        "from ritm_lite.widget.overlay import overlay_rgba\n"
        "assert overlay_rgba(np.ones((4, 5), np.int32), 0.5).shape == (4, 5, 4)\n"
        "try:\n"
        "    w.ClickSegmenter\n"
        "except ImportError:\n"
        "    print('ClickSegmenter: ImportError')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ClickSegmenter: ImportError"


def test_undo_forgets_the_undone_clicks_latency(state):
    state.add_click(10, 10, True)
    assert state.timing.forward_s > 0
    state.undo()
    assert state.timing.forward_s == 0 and state.timing.total_s == 0


def test_mirror_state_writes_the_label_map_and_summary_after_each_change(state, tmp_path, monkeypatch):
    import json

    from ritm_lite.widget.state_file import STATE_FILE_ENV, mirror_state

    class Widget:  # what mirror_state needs from a ClickSegmenter
        def __init__(self, state):
            self.state, self.callbacks = state, []

        def on_update(self, callback):
            self.callbacks.append(callback)

    monkeypatch.delenv(STATE_FILE_ENV, raising=False)
    quiet = Widget(state)
    assert mirror_state(quiet) is None and quiet.callbacks == []  # no path: nothing attached
    monkeypatch.setenv(STATE_FILE_ENV, str(tmp_path / "state.json"))
    widget = Widget(state)
    target = mirror_state(widget)
    state.add_click(10, 10, True)
    for callback in widget.callbacks:
        callback(widget)
    assert target == tmp_path / "state.json"
    assert json.loads(target.read_text())["clicks"] == [[10.0, 10.0, True]]
    np.testing.assert_array_equal(np.load(target.with_suffix(".npy")), state.result_label_map())

# ------------------------------------------------------------------------------------------------
# Bad input (`python -m pytest -k bad_input`) to the session state and to saving results: clear
# errors or correct files, on a small black image.


@pytest.fixture
def small_state() -> SegmentationState:
    return SegmentationState(DiskPredictor(radius=4), np.zeros((32, 40, 3), np.uint8))


@pytest.mark.parametrize("sign", ["no", "yes", 2, None, [1]])
def test_bad_input_a_click_sign_that_is_not_a_bool_is_refused(small_state, sign):
    with pytest.raises(ValueError, match="is_positive"):
        small_state.add_click(10, 10, sign)
    assert small_state.clicks == []


@pytest.mark.parametrize("sign, positive", [(True, True), (False, False), (1, True), (0, False), (np.bool_(False), False)])
def test_bad_input_bools_and_0_1_are_click_signs(small_state, sign, positive):
    assert small_state.add_click(10, 10, sign).is_positive is positive


def test_bad_input_clicks_outside_the_image_change_nothing(small_state):
    with pytest.raises(ValueError, match="outside"):
        small_state.add_click(40, 5)  # x == width
    with pytest.raises(ValueError, match="finite"):
        small_state.add_click(float("nan"), 5)
    assert small_state.clicks == []


@pytest.mark.parametrize("name", ["labels.jpg", "labels.JPEG", "labels.bmp", "labels"])
def test_bad_input_a_label_map_is_only_saved_as_png(tmp_path, name):
    with pytest.raises(ValueError, match="png"):
        save_label_map_png(np.ones((4, 4), np.int32), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_bad_input_a_label_map_without_pixels_or_ids_out_of_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no pixels"):
        save_label_map_png(np.zeros((0, 4), np.int32), tmp_path / "a.png")
    with pytest.raises(ValueError, match="0..65535"):
        save_label_map_png(np.full((2, 2), -1, np.int32), tmp_path / "a.png")
    with pytest.raises(ValueError, match="integer"):
        save_label_map_png(np.ones((2, 2), np.float32), tmp_path / "a.png")


def test_bad_input_a_label_map_png_named_like_a_folder_is_refused(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(IsADirectoryError):
        save_label_map_png(np.ones((2, 2), np.int32), tmp_path / "out.png")


def test_bad_input_a_dot_in_the_save_name_is_kept(tmp_path):
    png, coco = result_paths(tmp_path / "scan_1.2")
    assert (png.name, coco.name) == ("scan_1.2.png", "scan_1.2.json")
    assert result_paths(tmp_path / "scan.png") == (tmp_path / "scan.png", tmp_path / "scan.json")
    assert result_paths("result.JSON")[0].name == "result.png"
    labels = np.zeros((6, 8), np.int32)
    labels[1:4, 2:6] = 1
    save_label_map_png(labels, png)
    save_coco_rle_json(labels, coco, file_name=png.name)
    np.testing.assert_array_equal(cv2.imread(str(png), cv2.IMREAD_UNCHANGED), labels)
    np.testing.assert_array_equal(coco_to_label_map(json.loads(coco.read_text())), labels)
    assert not (tmp_path / "scan_1.png").exists()


@pytest.mark.parametrize("name", ["", ".", "folder"])
def test_bad_input_a_save_name_that_is_a_folder_is_refused(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="folder"):
        result_paths(name)
    with pytest.raises(ValueError, match="folder"):
        result_paths(str(tmp_path) + "/")


@pytest.mark.parametrize("threshold", [2.0, -0.1, float("nan")])
def test_bad_input_a_threshold_that_is_not_a_probability_is_refused(small_state, threshold):
    with pytest.raises(ValueError, match="threshold"):
        small_state.threshold = threshold
    with pytest.raises(ValueError, match="threshold"):
        SegmentationState(DiskPredictor(), np.zeros((8, 8, 3), np.uint8), threshold=threshold)
    assert small_state.threshold == 0.5


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.full((32, 40), np.nan), "no NaN"),
        (np.full((32, 40), 3.0), r"\[0, 1\]"),
        (np.zeros((32, 40), np.uint8), "no object pixel"),
        (np.full((32, 40), -1, np.int64), "0..65535"),
    ],
)
def test_bad_input_a_loaded_mask_that_is_not_a_mask_is_refused(small_state, mask, message):
    with pytest.raises(ValueError, match=message):
        small_state.load_mask(mask)
    assert small_state.prior_mask is None


def test_bad_input_a_loaded_mask_follows_the_one_mask_rule(small_state, tmp_path):
    from ritm_lite.widget import load_mask

    square = np.zeros((32, 40), np.uint8)
    square[8:20, 10:30] = 255
    noisy = square.copy()
    noisy[0, :5] = 3  # JPEG-like noise in the background
    expected = (square > 0).astype(np.float32)
    for mask in (noisy, square // 255, (square > 0).astype(np.int64), square.astype(np.float32) / 255):
        np.testing.assert_array_equal(load_mask(mask, (32, 40)), expected)
    assert cv2.imwrite(str(tmp_path / "mask.png"), noisy)
    np.testing.assert_array_equal(load_mask(tmp_path / "mask.png", (32, 40)), expected)
    small_state.load_mask(noisy)
    np.testing.assert_array_equal(small_state.prior_mask, expected)


# ------------------------------------------------------------ bad state inputs (widget/small_state.py)
@pytest.mark.parametrize("predictor", [None, "model", object(), np.zeros(3)])
def test_bad_input_a_predictor_without_the_predictor_methods_is_refused(predictor):
    with pytest.raises(TypeError, match="predictor must have set_image, predict, get_state, set_state, reset"):
        SegmentationState(predictor, np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("image, message", [
    (None, "got shape"), ("not an image", "got shape"), (np.zeros((0, 5, 3), np.uint8), "got shape"),
    (np.zeros((4, 4, 2), np.uint8), "got shape"), (np.zeros((2, 3, 4, 3), np.uint8), "got shape"),
    (np.full((4, 4), np.nan), "NaN"), (np.full((4, 4, 3), np.inf, np.float32), "NaN"),
])
def test_bad_input_an_image_that_is_not_an_image_is_refused(small_state, image, message):
    with pytest.raises(ValueError, match=message):
        small_state.set_image(image)
    assert small_state.size == (32, 40)  # the old image is kept
    with pytest.raises(ValueError, match=message):
        SegmentationState(DiskPredictor(), image)


@pytest.mark.parametrize("threshold", [None, "0.5", [0.5], True])
def test_bad_input_a_threshold_of_the_wrong_type_is_refused(small_state, threshold):
    with pytest.raises(ValueError, match="threshold must be a probability"):
        small_state.threshold = threshold
    assert small_state.threshold == 0.5


@pytest.mark.parametrize("budget", [-1, float("nan"), float("inf"), None, "512", True])
def test_bad_input_an_undo_budget_that_is_not_a_size_is_refused(budget):
    with pytest.raises(ValueError, match="undo_memory_mb must be a finite number"):
        SegmentationState(DiskPredictor(), np.zeros((8, 8, 3), np.uint8), undo_memory_mb=budget)


def test_bad_input_a_zero_undo_budget_still_undoes_the_last_click():
    local = SegmentationState(DiskPredictor(radius=2), np.zeros((16, 16, 3), np.uint8), undo_memory_mb=0)
    for x in (3, 8, 12):
        local.add_click(x, 8, True)
    assert local.summary()["undo_depth"] == 1 and local.undo() and not local.undo()


@pytest.mark.parametrize("mask", [None, "mask", np.zeros((32, 40, 2, 2), np.uint8), np.zeros((40, 32), np.uint8)])
def test_bad_input_a_loaded_mask_of_the_wrong_shape_or_type_is_refused(small_state, mask):
    with pytest.raises(ValueError, match="shape"):
        small_state.load_mask(mask)
    assert small_state.prior_mask is None


@pytest.mark.parametrize("x, y", [(None, 3), ("a", 3), (np.inf, 3), (3, -np.inf), (1e300, 3)])
def test_bad_input_click_coordinates_that_are_not_pixels_are_refused(small_state, x, y):
    with pytest.raises(ValueError):
        small_state.add_click(x, y, True)
    assert small_state.clicks == []


# --------------------------------------------------------------------- bad io inputs (widget/io.py)
@pytest.mark.parametrize("source, error, message", [
    (None, TypeError, "path or encoded bytes"), (5, TypeError, "path or encoded bytes"),
    ([[1, 2]], TypeError, "path or encoded bytes"), (b"", ValueError, "cannot decode the 0-byte"),
    (b"GIF89a nothing", ValueError, "cannot decode"), ("/no/such/photo.png", FileNotFoundError, "does not exist"),
    (np.ones((2, 2), complex), ValueError, "dtype complex128"), (np.array([[None]]), ValueError, "dtype object"),
    (np.full((2, 2), np.nan), ValueError, "NaN"),
])
def test_bad_input_widget_image_sources(source, error, message):
    from ritm_lite.widget import load_image

    with pytest.raises(error, match=message):
        load_image(source)


@pytest.mark.parametrize("size", [(4,), (-4, 4), (0, 4), (4.0, 4), None, "4x4"])
def test_bad_input_widget_mask_image_size(size):
    from ritm_lite.widget import load_mask

    with pytest.raises(ValueError, match="image_size must be"):
        load_mask(np.ones((4, 4), bool), size)


@pytest.mark.parametrize("labels, message", [
    (np.full((3, 3), 1.5), "integer array"), (np.ones((3, 3, 3), int), "integer array"),
    (np.ones((3, 3), bool), "integer array"), (np.zeros((0, 3), int), "non-empty"),
    (-np.ones((3, 3), int), "positive object ids"), (None, "integer array"),
])
def test_bad_input_widget_label_maps_for_coco(tmp_path, labels, message):
    from ritm_lite.widget import label_map_to_coco

    with pytest.raises(ValueError, match=message):
        label_map_to_coco(labels)
    with pytest.raises(ValueError, match=message):
        save_coco_rle_json(labels, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("coco, message", [
    ({}, "KeyError 'images'"), ({"images": []}, "IndexError"),
    ({"images": [{"height": -1, "width": 3}], "annotations": []}, "size -1x3"),
    ({"images": [{"height": "x", "width": 3}], "annotations": []}, "ValueError"), (None, "TypeError"),
])
def test_bad_input_widget_coco_dicts(coco, message):
    with pytest.raises(ValueError, match=message):
        coco_to_label_map(coco)


@pytest.mark.parametrize("path", [None, 3, ""])
def test_bad_input_widget_save_names(path):
    with pytest.raises(ValueError, match="save path"):
        result_paths(path)
