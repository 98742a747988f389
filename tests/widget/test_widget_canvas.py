"""Kernel-level tests of ClickSegmenter: real widget messages in, real draw commands out.

Front-end events (``mouse_down``, ``key_down``, ``client_ready``, button ``click``) are
delivered through each widget's comm exactly as the kernel delivers a ``comm_msg``; what
ipycanvas sends back is captured at its comm and replayed by ``CanvasRecorder`` (decoding
the PNG/JPEG buffers like the browser does), so these tests check the pixels a browser
would draw — only the JavaScript is left to the browser test.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time

import cv2
import numpy as np
import pytest
from PIL import Image
from widget_support import (
    BlockingPredictor,
    CanvasRecorder,
    DiskPredictor,
    disk,
    expected_probability,
    key_down,
    mouse_down,
    send_event,
    upload,
)

pytest.importorskip("ipycanvas")
from ritm_lite.widget import ClickSegmenter, SegmentationState
from ritm_lite.widget.canvas import CLICKS, OVERLAY, PHOTO
from ritm_lite.widget.overlay import overlay_rgba

SIZE = (48, 64)  # (height, width)
R = 5.0


@pytest.fixture
def recorder(monkeypatch) -> CanvasRecorder:
    return CanvasRecorder(monkeypatch)


@pytest.fixture
def image() -> np.ndarray:
    rows, cols = np.mgrid[: SIZE[0], : SIZE[1]]  # smooth, so JPEG keeps it close
    return np.dstack([cols * 4, rows * 5, 255 - cols * 2]).astype(np.uint8)


@pytest.fixture
def seg(recorder, image) -> ClickSegmenter:
    return ClickSegmenter(DiskPredictor(radius=R), image)


def sent_overlay(recorder: CanvasRecorder, seg: ClickSegmenter) -> np.ndarray:
    """The last overlay image the browser received, decoded to RGBA."""
    png = recorder.images[seg.canvas[OVERLAY].model_id][-1]
    assert png.startswith(b"\x89PNG"), "the overlay must be sent as PNG, never JPEG"
    return np.array(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_a_canvas_click_runs_one_prediction_and_redraws_the_overlay(recorder, seg):
    photo_sends = len(recorder.images[seg.canvas[PHOTO].model_id])
    messages = len(recorder.messages)
    mouse_down(seg.canvas, 20.7, 30.2)  # canvas pixels: the click is on pixel (20, 30)

    assert seg.last_error is None and len(seg.state.predictor.calls) == 1
    assert [(c.x, c.y, c.is_positive) for c in seg.state.clicks] == [(20, 30, True)]
    expected = disk(SIZE, 20, 30, R).astype(np.int32)  # object 1
    np.testing.assert_array_equal(sent_overlay(recorder, seg), overlay_rgba(expected, 0.5))
    # The click's marker is drawn at once (one message), then the overlay and click layers
    # are redrawn in a single held message once the prediction is there.
    assert len(recorder.messages) == messages + 2
    assert len(recorder.images[seg.canvas[PHOTO].model_id]) == photo_sends
    assert recorder.circles[seg.canvas[CLICKS].model_id] == [
        (20.5, 30.5, "fillCircles"),
        (20.5, 30.5, "strokeCircles"),
    ]
    assert "1 click" in seg.status.value and "object 1" in seg.status.value
    assert "last click" in seg.status.value


def test_negative_mode_by_key_and_by_toggle(recorder, seg):
    mouse_down(seg.canvas, 20, 20)
    key_down(seg.canvas, "n")
    assert seg.mode.value == "negative"
    mouse_down(seg.canvas, 24, 20)
    key_down(seg.canvas, " ")  # toggles back
    assert seg.mode.value == "positive"
    seg.mode.value = "negative"  # what the ToggleButtons set
    mouse_down(seg.canvas, 50, 40)
    signs = [c.is_positive for c in seg.state.clicks]
    assert signs == [True, False, False]
    expected = expected_probability(SIZE, [(20, 20, True), (24, 20, False), (50, 40, False)], R)
    np.testing.assert_array_equal(seg.state.probability, expected)
    fills = [c for c in recorder.circles[seg.canvas[CLICKS].model_id] if c[2] == "fillCircles"]
    assert len(fills) == 3


def test_undo_button_and_key_restore_the_previous_overlay(recorder, seg):
    mouse_down(seg.canvas, 20, 20)
    after_first = sent_overlay(recorder, seg)
    mouse_down(seg.canvas, 40, 30)
    send_event(seg.undo_button, {"event": "click"})  # the button's real front-end message
    np.testing.assert_array_equal(sent_overlay(recorder, seg), after_first)
    key_down(seg.canvas, "z")  # undo the first click too
    key_down(seg.canvas, "z")  # past the first click: a note, no error
    assert seg.state.clicks == [] and seg.last_error is None
    assert "nothing to undo" in seg.status.value
    assert (sent_overlay(recorder, seg)[..., 3] == 0).all()
    mouse_down(seg.canvas, 10, 10)  # still usable
    np.testing.assert_array_equal(
        seg.state.probability, expected_probability(SIZE, [(10, 10, True)], R)
    )


def test_finish_object_and_reset(recorder, seg):
    mouse_down(seg.canvas, 20, 20)
    send_event(seg.finish_button, {"event": "click"})
    assert seg.state.object_id == 2 and "object 2" in seg.status.value
    mouse_down(seg.canvas, 45, 30)
    mouse_down(seg.canvas, 10, 40)
    send_event(seg.reset_button, {"event": "click"})
    assert seg.state.clicks == []
    mouse_down(seg.canvas, 45, 30)
    key_down(seg.canvas, "Enter")
    expected = np.zeros(SIZE, np.int32)
    expected[disk(SIZE, 20, 20, R)] = 1
    expected[disk(SIZE, 45, 30, R)] = 2
    np.testing.assert_array_equal(seg.state.label_map, expected)
    np.testing.assert_array_equal(sent_overlay(recorder, seg), overlay_rgba(expected, 0.5))
    send_event(seg.finish_button, {"event": "click"})  # empty object: refused, shown
    assert "empty" in seg.status.value and seg.state.object_id == 3


def test_threshold_and_opacity_sliders_redraw(recorder, seg, image):
    class Ramp(DiskPredictor):
        def predict(self, point_coords, point_labels, mask_input=None):
            super().predict(point_coords, point_labels, mask_input)
            return np.tile(np.linspace(0, 1, SIZE[1], dtype=np.float32), (SIZE[0], 1))

    seg = ClickSegmenter(Ramp(), image)
    mouse_down(seg.canvas, 5, 5)
    seg.threshold.value = 0.8
    seg.opacity.value = 0.25
    expected = (seg.state.probability > 0.8).astype(np.int32)
    np.testing.assert_array_equal(sent_overlay(recorder, seg), overlay_rgba(expected, 0.25))
    assert seg.state.threshold == 0.8


def test_exceptions_in_callbacks_are_shown_and_the_widget_stays_usable(recorder, image):
    class Broken(DiskPredictor):
        broken = True

        def predict(self, point_coords, point_labels, mask_input=None):
            if self.broken:
                raise RuntimeError("CUDA out of memory")
            return super().predict(point_coords, point_labels, mask_input)

    seg = ClickSegmenter(Broken(radius=R), image)
    mouse_down(seg.canvas, 20, 20)  # would be swallowed silently by ipywidgets
    assert isinstance(seg.last_error, RuntimeError)
    assert "CUDA out of memory" in seg.status.value and "#c62828" in seg.status.value
    assert seg.state.clicks == [] and not seg.state.busy
    seg.state.predictor.broken = False
    mouse_down(seg.canvas, 20, 20)
    assert len(seg.state.clicks) == 1 and "out of memory" not in seg.status.value


@pytest.mark.parametrize("x, y", [(64.0, 10.0), (-0.5, 10.0), (10.0, 48.2)])
def test_clicks_outside_the_image_are_ignored(seg, x, y):
    mouse_down(seg.canvas, x, y)
    assert seg.state.clicks == [] and seg.state.predictor.calls == []
    assert "ignored" in seg.status.value and "outside" in seg.status.value


def test_clicks_delivered_back_to_back_each_get_a_prediction_and_an_undo_step(recorder, seg):
    """The kernel handles one message at a time, so clicks made while a prediction runs are
    delivered after it, one by one. Delivered back to back like that (the queue itself is the
    kernel's, not modelled here), each click is applied in order with its own undo step."""
    points = [(10, 10), (20, 12), (30, 14), (40, 16), (50, 18)]
    for x, y in points:
        mouse_down(seg.canvas, x, y)
    assert [(c.x, c.y) for c in seg.state.clicks] == points
    assert [c["n"] for c in seg.state.predictor.calls] == [1, 2, 3, 4, 5]
    assert seg.state.summary()["undo_depth"] == 5
    key_down(seg.canvas, "z")
    key_down(seg.canvas, "z")
    expected = expected_probability(SIZE, [(x, y, True) for x, y in points[:3]], R)
    np.testing.assert_array_equal(seg.state.probability, expected)


def test_a_click_arriving_while_a_prediction_runs_is_refused(recorder, image):
    predictor = BlockingPredictor(radius=R)
    seg = ClickSegmenter(predictor, image)
    worker = threading.Thread(target=mouse_down, args=(seg.canvas, 10, 10))
    worker.start()
    try:
        assert predictor.running.wait(5) and seg.state.busy
        messages = len(recorder.messages)
        mouse_down(seg.canvas, 40, 40)  # arrives while the first click's prediction runs
        assert "busy" in seg.status.value and seg.last_error is None
        key_down(seg.canvas, "z")  # so does an undo: refused too
        # Refused without side effects: no prediction started, nothing drawn, no state change.
        assert predictor.started == 1 and len(recorder.messages) == messages
        assert seg.state.clicks == [] and seg.state.summary()["undo_depth"] == 0
    finally:
        predictor.release.set()
        worker.join(10)
    assert not worker.is_alive()
    assert [(c.x, c.y) for c in seg.state.clicks] == [(10, 10)]
    expected = expected_probability(SIZE, [(10, 10, True)], R)
    np.testing.assert_array_equal(seg.state.probability, expected)
    np.testing.assert_array_equal(sent_overlay(recorder, seg), overlay_rgba(expected > 0, 0.5))
    # Still usable: the refused click, made again, is applied normally.
    mouse_down(seg.canvas, 40, 40)
    assert predictor.started == 2 and seg.last_error is None
    expected = expected_probability(SIZE, [(10, 10, True), (40, 40, True)], R)
    np.testing.assert_array_equal(seg.state.probability, expected)
    np.testing.assert_array_equal(sent_overlay(recorder, seg), overlay_rgba(expected > 0, 0.5))
    assert seg.state.summary()["undo_depth"] == 2 and "busy" not in seg.status.value


def test_client_ready_redraws_every_layer(recorder, seg):
    mouse_down(seg.canvas, 20, 20)
    overlay = sent_overlay(recorder, seg)
    photo_sends = len(recorder.images[seg.canvas[PHOTO].model_id])
    recorder.layers.clear()
    recorder.circles.clear()
    send_event(seg.canvas[CLICKS], {"event": "client_ready"})  # a reloaded page's new view
    assert len(recorder.images[seg.canvas[PHOTO].model_id]) == photo_sends + 1
    np.testing.assert_array_equal(sent_overlay(recorder, seg), overlay)
    assert recorder.circles[seg.canvas[CLICKS].model_id]
    photo = recorder.layer(seg.canvas[PHOTO])
    assert photo.shape == (*SIZE, 4) and np.abs(photo[..., :3] - seg.state.image).mean() < 4


@pytest.mark.parametrize(
    "raw",
    [
        np.arange(30 * 50, dtype=np.uint16).reshape(30, 50) * 40,  # 16-bit grayscale (sBIT 16)
        np.dstack([np.full((30, 50), 90, np.uint8)] * 4),  # RGBA
    ],
    ids=["gray16", "rgba"],
)
def test_uploading_an_image_starts_over(recorder, seg, raw):
    from image_support import png_with_sbit

    mouse_down(seg.canvas, 20, 20)
    png = png_with_sbit(raw, 16) if raw.dtype == np.uint16 else cv2.imencode(".png", raw)[1].tobytes()
    upload(seg.image_upload, png, "new.png")
    assert seg.last_error is None, seg.status.value
    assert seg.state.size == (30, 50) and seg.state.clicks == []
    assert (seg.canvas.width, seg.canvas.height) == (50, 30)
    assert seg.image_upload.value == ()  # ready for the next upload
    mouse_down(seg.canvas, 49, 29)
    assert len(seg.state.clicks) == 1


def test_uploading_a_mask_to_correct(recorder, seg):
    wrong = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    upload(seg.mask_upload, cv2.imencode(".png", wrong)[1].tobytes(), "wrong.png")
    assert "ignored" in seg.status.value and "the image is 64x48" in seg.status.value
    assert seg.state.prior_mask is None
    mask = np.zeros(SIZE, np.uint8)
    mask[10:30, 10:40] = 255
    upload(seg.mask_upload, cv2.imencode(".png", mask)[1].tobytes(), "mask.png")
    np.testing.assert_array_equal(
        sent_overlay(recorder, seg), overlay_rgba((mask > 0).astype(int), 0.5)
    )
    mouse_down(seg.canvas, 20, 20)
    key_down(seg.canvas, "n")
    mouse_down(seg.canvas, 38, 28)
    assert [c["mask_input"] for c in seg.state.predictor.calls] == [True, False]
    expected = expected_probability(SIZE, [(20, 20, True), (38, 28, False)], R, start=mask > 0)
    np.testing.assert_array_equal(seg.state.probability, expected)


def test_save_writes_png_and_coco_json(recorder, seg, tmp_path):
    from ritm_lite.widget import coco_to_label_map

    mouse_down(seg.canvas, 20, 20)
    key_down(seg.canvas, "f")
    mouse_down(seg.canvas, 45, 30)  # the unfinished object is saved too
    seg.save_path.value = str(tmp_path / "out" / "result")
    send_event(seg.save_button, {"event": "click"})
    assert seg.last_error is None, seg.status.value
    labels = cv2.imread(str(tmp_path / "out" / "result.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(labels, seg.state.result_label_map())
    coco = json.loads((tmp_path / "out" / "result.json").read_text())
    np.testing.assert_array_equal(coco_to_label_map(coco), seg.state.result_label_map())
    assert sorted(a["id"] for a in coco["annotations"]) == [1, 2]
    assert "saved" in seg.status.value


def test_zoom_in_toggle_reaches_the_predictor_and_replays_the_clicks(recorder, seg):
    assert seg.zoom_toggle.value is True and not seg.zoom_toggle.disabled
    mouse_down(seg.canvas, 20, 20)
    key_down(seg.canvas, "n")
    mouse_down(seg.canvas, 24, 20)
    before = seg.state.probability.copy()
    first = seg.state.predictor
    seg.zoom_toggle.value = False  # what the browser's toggle sets
    assert seg.last_error is None, seg.status.value
    assert seg.state.predictor is not first and first.zoom_in is True  # a new predictor
    calls = seg.state.predictor.calls
    assert [(c["n"], c["zoom_in"]) for c in calls[-2:]] == [(1, None), (2, None)]
    np.testing.assert_array_equal(seg.state.probability, before)
    assert "re-run" in seg.status.value
    assert "last click" not in seg.status.value  # a replay is no click: no latency of one to show
    key_down(seg.canvas, "z")  # undo snapshots were rebuilt under the new setting
    np.testing.assert_array_equal(
        seg.state.probability, expected_probability(SIZE, [(20, 20, True)], R)
    )
    seg.zoom_toggle.value = True
    assert seg.state.predictor.zoom_in is True and calls[-1]["zoom_in"] is True


def test_on_update_is_called_after_each_change(recorder, seg):
    seen = []
    seg.on_update(lambda s: seen.append(len(s.state.clicks)))
    mouse_down(seg.canvas, 20, 20)
    mouse_down(seg.canvas, 30, 20)
    key_down(seg.canvas, "z")
    assert seen == [1, 2, 1]


def test_the_widget_is_a_thin_layer_over_the_state_class(recorder, seg, image):
    """Canvas events give the session that the same calls on a bare SegmentationState give."""
    bare = SegmentationState(DiskPredictor(radius=R), image)
    mouse_down(seg.canvas, 20, 20)
    bare.add_click(20, 20, True)
    key_down(seg.canvas, "n")
    mouse_down(seg.canvas, 24, 22)
    bare.add_click(24, 22, False)
    key_down(seg.canvas, "z")
    bare.undo()
    key_down(seg.canvas, "p")
    mouse_down(seg.canvas, 40, 30)
    bare.add_click(40, 30, True)
    key_down(seg.canvas, "Enter")
    bare.finish_object()
    mouse_down(seg.canvas, 10, 40)
    bare.add_click(10, 40, True)

    assert isinstance(seg.state, SegmentationState)
    timing = ("forward_ms", "total_ms")
    ours = {k: v for k, v in seg.state.summary().items() if k not in timing}
    assert ours == {k: v for k, v in bare.summary().items() if k not in timing}
    np.testing.assert_array_equal(seg.state.result_label_map(), bare.result_label_map())
    np.testing.assert_array_equal(
        sent_overlay(recorder, seg), overlay_rgba(bare.result_label_map(), 0.5)
    )


# ------------------------------------------------------- with the real Predictor and model
@pytest.fixture(scope="module")
def hrnet18s():
    import torch

    import ritm_lite

    torch.manual_seed(0)
    return ritm_lite.build_model("hrnet18s").eval()  # random weights: masks mean nothing


def real_predictor(model, zoom_in: bool = True):
    from ritm_lite.inference import Predictor, ZoomInConfig

    # A small ZoomIn crop keeps each forward pass quick on a CPU.
    config = ZoomInConfig(target_size=64, min_crop_size=16) if zoom_in else False
    return Predictor(model, zoom_in=config, flip=False)


def reference(model, image, clicks, zoom_in: bool = True) -> np.ndarray:
    """The probability map a fresh Predictor gives for ``clicks`` (x, y, positive), one by one."""
    predictor = real_predictor(model, zoom_in)
    predictor.set_image(image)
    for n in range(1, len(clicks) + 1):
        probability = predictor.predict(
            np.array([c[:2] for c in clicks[:n]], np.float32),
            np.array([int(c[2]) for c in clicks[:n]]),
        )
    return probability


@pytest.mark.slow
def test_real_predictor_undo_gives_the_same_mask_as_never_clicking(recorder, hrnet18s, image):
    from ritm_lite.widget import PredictorLike

    assert isinstance(real_predictor(hrnet18s), PredictorLike)
    seg = ClickSegmenter(real_predictor(hrnet18s), image)
    mouse_down(seg.canvas, 30, 20)
    key_down(seg.canvas, "n")
    mouse_down(seg.canvas, 10, 10)
    key_down(seg.canvas, "z")  # undo the negative click: predictor and ZoomIn restored
    key_down(seg.canvas, "p")
    mouse_down(seg.canvas, 45, 35)
    assert seg.last_error is None, seg.status.value
    expected = reference(hrnet18s, image, [(30, 20, True), (45, 35, True)])
    np.testing.assert_array_equal(seg.state.probability, expected)
    labels = (expected > 0.5).astype(np.int32)
    np.testing.assert_array_equal(sent_overlay(recorder, seg), overlay_rgba(labels, 0.5))
    assert seg.state.probability.dtype == np.float32 and 0 <= seg.state.probability.min()


@pytest.mark.slow
def test_real_predictor_zoom_in_toggle(recorder, hrnet18s, image):
    predictor = real_predictor(hrnet18s)
    zoom = predictor.zoom_in
    seg = ClickSegmenter(predictor, image)
    clicks = [(30, 20, True), (45, 35, True)]
    for x, y, _ in clicks:
        mouse_down(seg.canvas, x, y)
    seg.zoom_toggle.value = False
    assert seg.last_error is None, seg.status.value
    assert seg.state.predictor.zoom_in is None and predictor.zoom_in is zoom  # a new predictor
    assert seg.state.predictor.model is predictor.model
    np.testing.assert_array_equal(
        seg.state.probability, reference(hrnet18s, image, clicks, zoom_in=False)
    )
    seg.zoom_toggle.value = True
    assert seg.state.predictor.zoom_in is zoom
    np.testing.assert_array_equal(seg.state.probability, reference(hrnet18s, image, clicks))


@pytest.mark.slow
def test_real_predictor_corrects_a_loaded_mask(recorder, hrnet18s, image):
    seg = ClickSegmenter(real_predictor(hrnet18s), image)
    mask = np.zeros(SIZE, np.uint8)
    mask[10:30, 10:40] = 255
    upload(seg.mask_upload, cv2.imencode(".png", mask)[1].tobytes(), "mask.png")
    mouse_down(seg.canvas, 20, 20)
    assert seg.last_error is None, seg.status.value
    fresh = real_predictor(hrnet18s)
    fresh.set_image(image)
    expected = fresh.predict(
        np.array([[20, 20]], np.float32), np.array([1]), mask_input=(mask > 0).astype(np.float32)
    )
    np.testing.assert_array_equal(seg.state.probability, expected)


def test_a_click_shows_that_it_is_working_before_the_prediction_returns(recorder, image):
    class Watching(DiskPredictor):
        def predict(self, point_coords, point_labels, mask_input=None):
            self.status_during = seg.status.value
            self.markers_during = list(recorder.circles[seg.canvas[CLICKS].model_id])
            return super().predict(point_coords, point_labels, mask_input)

    predictor = Watching(radius=R)
    seg = ClickSegmenter(predictor, image)
    mouse_down(seg.canvas, 20, 30)
    assert "computing positive click 1" in predictor.status_during
    assert (20.5, 30.5, "fillCircles") in predictor.markers_during
    assert "computing" not in seg.status.value and "last click" in seg.status.value


def test_a_low_threshold_with_zoom_in_says_why_the_mask_is_a_rectangle(recorder, seg):
    mouse_down(seg.canvas, 20, 30)
    seg.threshold.value = 0.05
    assert "crop rectangle" in seg.status.value
    seg.threshold.value = 0.5
    assert "crop rectangle" not in seg.status.value


def test_after_undo_the_status_line_shows_no_latency(recorder, seg):
    mouse_down(seg.canvas, 20, 30)
    mouse_down(seg.canvas, 40, 30)
    key_down(seg.canvas, "z")
    assert "last click" not in seg.status.value and "1 click" in seg.status.value


def test_put_png_is_ipycanvas_put_image_data_with_our_bytes(recorder):
    """The widget's one private ipycanvas call (``canvas._put_png``: ``putImageData`` with
    bytes already encoded): it must send those bytes untouched, as one command, to the layer
    it is given. This fails when an ipycanvas release changes that command or its manager."""
    from ipycanvas import Canvas

    from ritm_lite.widget.canvas import _put_png

    layer = Canvas(width=4, height=3)
    png = io.BytesIO()
    Image.fromarray(np.full((3, 4, 4), 200, np.uint8)).save(png, format="PNG")
    _put_png(layer, png.getvalue(), x=1, y=2)
    assert recorder.images[layer.model_id] == [png.getvalue()]
    commands, _ = recorder.messages[-1]
    assert commands[1] == [1, 2]  # the position travels as the command's arguments


def test_the_widget_states_its_overlap_rule_and_undo_limit(recorder, seg):
    import ipywidgets as widgets

    from ritm_lite.widget.state import OVERLAP_RULE

    shown = " ".join(child.value for child in seg.children if isinstance(child, widgets.HTML))
    assert OVERLAP_RULE in shown and "Undo keeps up to 512 MB" in shown
    seg.click(10, 10, True)
    seg.finish_object()
    seg.click(13, 10, True)  # overlaps object 1
    seg.finish_object()
    overlap = seg.state.objects[-1].overlap
    assert overlap > 0 and f"object 2 finished ({overlap} of its pixels already belonged" in seg.status.value
    assert (seg.state.label_map == 1).sum() == seg.state.objects[0].area  # object 1 kept whole


def test_uploading_a_16_bit_image_that_does_not_state_its_depth_is_refused(recorder, seg):
    upload(seg.image_upload, cv2.imencode(".png", np.full((30, 50), 4000, np.uint16))[1].tobytes(), "scan.png")
    assert isinstance(seg.last_error, ValueError) and "does not state its real bit depth" in seg.status.value
    assert seg.state.size == SIZE  # the image being segmented is kept


STATUS_TIMING = re.compile(r"last click (\d+) ms \(model (\d+) ms\)|last click … \(model (\d+) ms\)")


def test_the_status_line_never_pairs_one_clicks_model_time_with_another_clicks_total(recorder, image):
    """Issue 31: for a moment after a click the status line showed the new model time with the
    previous click's total. Here the first click is quick and the second one's model takes
    0.3 s: every status line shown must have total >= model (the same click's), or "…" while
    the total is not known yet."""

    class SlowSecondClick(DiskPredictor):
        def predict(self, point_coords, point_labels, mask_input=None):
            if len(point_coords) == 2:
                time.sleep(0.3)
            return super().predict(point_coords, point_labels, mask_input)

    seg = ClickSegmenter(SlowSecondClick(radius=R), image)
    shown: list[str] = []
    seg.status.observe(lambda change: shown.append(change.new), "value")
    mouse_down(seg.canvas, 20, 30)
    mouse_down(seg.canvas, 40, 30)
    assert seg.last_error is None, seg.status.value
    timings = [m for m in map(STATUS_TIMING.search, shown) if m]
    assert timings, shown
    for match in timings:
        total, model, model_pending = match.groups()
        if total is not None:
            assert int(model) <= int(total), f"a model time beside another click's total: {match.group(0)}"
    last = timings[-1].groups()
    assert last[2] is None and int(last[1]) >= 300 and int(last[0]) >= int(last[1])  # the end: both known
    assert any(m.group(3) is not None for m in timings)  # in between: "…" until the total is known
