"""The widget's Colab fallback: requests handled in Python, and the page driven in Chromium with
Colab's JavaScript API (``google.colab.kernel.invokeFunction``) stubbed to call Python."""

from __future__ import annotations

import base64
import io
import sys
import types

import numpy as np
import pytest
from PIL import Image

from ritm_lite.widget.colab_canvas import ColabCanvasSegmenter, click_segmenter
from ritm_lite.widget.state import SegmentationState
from tests.browser_support import CHROMIUM_ARGS, find_chromium
from tests.widget_support import DiskPredictor

H, W = 60, 90


def _segmenter() -> ColabCanvasSegmenter:
    image = np.full((H, W, 3), 120, np.uint8)
    return ColabCanvasSegmenter(SegmentationState(DiskPredictor(radius=6.0), image), opacity=1.0)


def _overlay(reply: dict) -> np.ndarray:
    header, data = reply["overlay"].split(",", 1)
    assert header == "data:image/png;base64"
    return np.array(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"))


def test_clicks_undo_and_objects_through_handle():
    segmenter = _segmenter()
    reply = segmenter.handle("click", 30, 20, True)
    assert _overlay(reply)[20, 30, 3] == 255 and _overlay(reply)[50, 80, 3] == 0
    assert reply["status"].startswith("object 1: 1 click,")
    reply = segmenter.handle("click", 70, 40, False)
    assert segmenter.state.summary()["clicks"] == [[30.0, 20.0, True], [70.0, 40.0, False]]
    segmenter.handle("undo")
    assert len(segmenter.state.clicks) == 1
    reply = segmenter.handle("finish")
    assert "1 finished" in reply["status"] and _overlay(reply)[20, 30, 3] == 255
    assert segmenter.state.object_id == 2


@pytest.mark.parametrize("request_args, words", [
    (("click", 500, 20, True), "click refused"),
    (("finish",), "finish refused"),
    (("erase",), "unknown action 'erase'"),
])
def test_refused_requests_say_why_and_change_nothing(request_args, words):
    segmenter = _segmenter()
    before = segmenter.state.summary()
    assert words in segmenter.handle(*request_args)["status"]
    assert segmenter.state.summary() == before


def test_show_needs_colab_and_the_choice_is_automatic(monkeypatch):
    with pytest.raises(RuntimeError, match="use ClickSegmenter outside Colab"):
        _segmenter().show()
    registered, shown = {}, []
    google_colab = types.ModuleType("google.colab")
    google_colab.output = types.SimpleNamespace(register_callback=lambda name, fn: registered.update({name: fn}))
    monkeypatch.setitem(sys.modules, "google.colab", google_colab)
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    segmenter = click_segmenter(DiskPredictor(radius=6.0), np.zeros((H, W, 3), np.uint8))
    assert isinstance(segmenter, ColabCanvasSegmenter)
    assert list(registered) == [segmenter.callback_name] and len(shown) == 1
    reply = registered[segmenter.callback_name]("click", 10, 10, True)  # what Colab calls
    assert reply.data["status"].startswith("object 1: 1 click")


# Colab's JavaScript API as the page sees it, answering through Playwright's bridge to Python.
STUB = """<script>
window.calls = [];
window.google = {colab: {kernel: {invokeFunction: async (name, args, kwargs) => {
  window.calls.push([name, args]);
  return {data: {"application/json": await window.pyHandle(name, args)}};
}}}};
</script>"""


@pytest.mark.browser
@pytest.mark.slow
def test_the_page_in_chromium_sends_clicks_and_draws_the_reply():
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium here (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    segmenter = _segmenter()

    def py_handle(name, args):
        assert name == segmenter.callback_name
        return segmenter.handle(*args)

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 400, "height": 300})
            page.expose_function("pyHandle", py_handle)
            page.set_content("<html><body style='margin:0'>" + STUB + segmenter.html() + "</body></html>")
            root = f"#{segmenter.callback_name}"
            page.wait_for_function(f"document.querySelector('{root}').dataset.updates === '1'")
            overlay = page.locator(f"{root} canvas.overlay")
            box = overlay.bounding_box()
            assert (box["width"], box["height"]) == (W, H)
            overlay.click(position={"x": 30, "y": 20})
            page.wait_for_function(f"document.querySelector('{root}').dataset.updates === '2'")
            overlay.click(position={"x": 70, "y": 40}, button="right")
            page.wait_for_function(f"document.querySelector('{root}').dataset.updates === '3'")
            page.locator(f"{root} button[data-action=undo]").click()
            page.wait_for_function(f"document.querySelector('{root}').dataset.updates === '4'")
            calls = page.evaluate("window.calls")
            assert [args[0] for _, args in calls] == ["click", "click", "undo"]
            assert [round(v) for v in calls[0][1][1:3]] == [30, 20] and calls[0][1][3] is True
            assert calls[1][1][3] is False  # the right click is negative
            assert page.locator(f"{root} .status").inner_text().startswith("object 1: 1 click,")
            # the reply's overlay is on the canvas: opaque at the click, clear far from it
            alpha = page.evaluate(f"""() => {{
                const c = document.querySelector('{root} canvas.overlay').getContext('2d');
                return [c.getImageData(30, 20, 1, 1).data[3], c.getImageData(80, 50, 1, 1).data[3]];
            }}""")
            assert alpha == [255, 0]
        finally:
            browser.close()
    assert segmenter.state.summary()["clicks"] == [[30.0, 20.0, True]]
