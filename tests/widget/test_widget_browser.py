"""End to end in a real browser: JupyterLab + notebook 09 + clicks on the live canvas.

A throw-away JupyterLab (tests/browser_support.py) serves a copy of notebook 09; headless
Debian Chromium, driven by Playwright, opens it with a reset workspace, runs every cell,
clicks the widget's canvas at known points — a positive click, the **N** key, a negative
click — and then checks

* the kernel side: the notebook writes the widget's state to ``$RITM_WIDGET_STATE`` after
  every change (``ClickSegmenter.on_update``), and its label map to a ``.npy`` beside it, so
  the test reads the clicks, their signs, the model's latency and the mask there: after the
  positive click the current object's mask is not empty and holds the clicked pixel;
* the browser side: screenshots of the canvas element. After the first click, every pixel
  of the kernel's mask (away from its edge and the click marker) shows the photo blended
  with object 1's colour at the overlay's opacity, and every pixel outside it is unchanged;
  after the second click the green and red markers are where the clicks were;
* a page reload: the canvas comes back drawn (the widget redraws on ``client_ready``).

A second test does what a student does with their own photo: it presses the widget's *Image*
button, gives Chromium's file chooser a PNG from a temporary folder, and clicks on the object:
the kernel segments the uploaded photo and the canvas shows it with the mask.

Screenshots and the server log are kept in ``test-artifacts/widget_browser/``. Without
Chromium the test is skipped locally, but it fails under CI (CI installs Chromium).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from browser_support import CHROMIUM_ARGS, JupyterLabServer, find_chromium
from PIL import Image

from ritm_lite.utils import PROJECT_ROOT
from ritm_lite.widget.overlay import PALETTE

IN_CI = bool(os.environ.get("CI"))
NOTEBOOK = PROJECT_ROOT / "notebooks" / "09_live_widget.ipynb"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "widget_browser"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the visible notebook only
CANVAS = f"{PANEL} .ritm-click-segmenter canvas"


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(
            f"{reason} — CI must provide it (.ci/run installs chromium with apt-get)", pytrace=False
        )
    pytest.skip(reason)


def _png_array(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def _near(click: list, aimed: tuple[int, int], is_positive: bool) -> bool:
    """The kernel's click ``[x, y, positive]`` is the aimed pixel (within 1 px) and sign."""
    x, y, positive = click
    return abs(x - aimed[0]) <= 1 and abs(y - aimed[1]) <= 1 and positive is is_positive


def overlay_agreement(
    shot: np.ndarray,
    before: np.ndarray,
    labels: np.ndarray,
    marker: tuple[float, float, float],
    opacity: float = 0.5,
) -> dict[str, float]:
    """How well a canvas screenshot shows the kernel's label map over the photo.

    Args:
        shot, before: ``h x w x 3`` screenshots of the canvas after and before the click.
        labels: the kernel's ``H x W`` label map (only object 1 in it).
        marker: ``(x, y, radius)`` of the click marker in screenshot pixels (left out, as
            is a 3-px frame where the focused canvas gets its focus ring).

    Returns:
        ``inside``: the fraction of mask pixels (1 px in from its edge) that equal the photo
        blended with object 1's colour at ``opacity`` (within 6 per channel); ``outside``:
        the fraction of the other pixels (1 px out) left unchanged. Both 1.0 when perfect
        (and for an empty set of pixels); ``inside_pixels``: how many pixels ``inside`` judged.
    """
    height, width = shot.shape[:2]
    mask = (labels == 1).astype(np.uint8)
    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    kernel = np.ones((3, 3), np.uint8)
    rows, cols = np.mgrid[:height, :width]
    away = (cols - marker[0]) ** 2 + (rows - marker[1]) ** 2 > marker[2] ** 2
    # the clicked canvas has focus: the browser draws a focus ring along the element's border
    away &= (rows >= 3) & (rows < height - 3) & (cols >= 3) & (cols < width - 3)
    inside = (cv2.erode(mask, kernel, iterations=1) > 0) & away
    outside = (cv2.dilate(mask, kernel, iterations=1) == 0) & away
    alpha = round(255 * opacity) / 255
    blended = before * (1 - alpha) + PALETTE[0].astype(np.float64) * alpha
    matches = np.abs(shot - blended).max(axis=2) <= 6
    unchanged = np.abs(shot - before).max(axis=2) <= 2
    # An empty set holds vacuously: a mask over the whole canvas leaves no pixel outside it.
    return {
        "inside": float(matches[inside].mean()) if inside.any() else 1.0,
        "outside": float(unchanged[outside].mean()) if outside.any() else 1.0,
        "inside_pixels": int(inside.sum()),
    }


def _wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.25):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _wait_for_overlay(canvas, before: bytes, labels: np.ndarray, marker: tuple[float, float, float],
                      artifact: str) -> bytes:
    """Wait until the canvas shows ``labels``' object 1 over the photo of the screenshot
    ``before`` (:func:`overlay_agreement`); the last screenshot is kept as ``artifact``."""
    before_pixels = _png_array(before)
    seen: dict[str, float] = {}

    def overlay_drawn() -> bytes | None:
        shot = canvas.screenshot()
        pixels = _png_array(shot)
        if pixels.shape != before_pixels.shape:
            return None
        seen.update(overlay_agreement(pixels, before_pixels, labels, marker))
        return shot if seen["inside"] >= 0.98 and seen["outside"] >= 0.99 else None

    try:
        overlay = _wait_for(overlay_drawn, 30, "the mask overlay on the canvas")
    except AssertionError as error:
        (ARTIFACTS / artifact).write_bytes(canvas.screenshot())
        raise AssertionError(f"{error}; last check: {seen}") from None
    (ARTIFACTS / artifact).write_bytes(overlay)
    assert seen["inside_pixels"] > 0, seen
    return overlay


def _browser_ready():
    """Chromium's path and Playwright's ``sync_playwright``, or skip (fail under CI)."""
    chromium = find_chromium()
    _require(chromium is not None, "Chromium not found (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is in the test extra
        _require(False, "the playwright package is not installed (pip install -e '.[test]')")
    assert NOTEBOOK.is_file(), f"{NOTEBOOK} is missing"
    return chromium, sync_playwright


def _notebook_09_lab(tmp_path, **env: str) -> tuple[JupyterLabServer, Path]:
    """A JupyterLab serving a copy of notebook 09 at smoke size, and the JSON file its widget's
    state is mirrored to (``RITM_WIDGET_STATE``; the label map goes to the ``.npy`` beside it)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    state_file = tmp_path / "widget_state.json"
    server = JupyterLabServer(
        tmp_path / "lab",
        env={
            "RITM_SMOKE": "1",  # a small image: each click's forward pass is quick on a CPU
            "RITM_WIDGET_STATE": str(state_file),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])
            ),
            "MPLBACKEND": "Agg",
            **env,
        },
        log_path=ARTIFACTS / "jupyterlab.log",
    )
    server.root.mkdir(parents=True, exist_ok=True)
    shutil.copy(NOTEBOOK, server.root / NOTEBOOK.name)  # a copy: autosave never touches the repo
    return server, state_file


def _read_state(state_file: Path) -> dict | None:
    try:
        return json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None


def _run_notebook_09(page, server: JupyterLabServer):
    """Open notebook 09, run all its cells, wait for the widget's photo: ``(canvas, screenshot)``."""
    page.goto(server.lab_url(NOTEBOOK.name), timeout=60_000)
    page.wait_for_selector(f"{PANEL} .jp-Notebook", timeout=60_000)
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
        timeout=60_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    canvas = page.locator(CANVAS)
    canvas.wait_for(state="visible", timeout=90_000)
    canvas.scroll_into_view_if_needed()
    # The photo arrives right after the view is created (client_ready -> redraw).
    before = _wait_for(
        lambda: (shot := canvas.screenshot()) and _png_array(shot).std() > 5 and shot,
        30,
        "the photo to be drawn on the canvas",
    )
    return canvas, before


@pytest.mark.browser
@pytest.mark.slow
def test_clicks_in_chromium_reach_the_kernel_and_redraw_the_canvas(tmp_path):
    chromium, sync_playwright = _browser_ready()
    server, state_file = _notebook_09_lab(tmp_path)
    label_file = state_file.with_suffix(".npy")  # written just before the JSON (notebook 09)

    def state() -> dict | None:
        return _read_state(state_file)

    with server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            canvas, before = _run_notebook_09(page, server)
            (ARTIFACTS / "before.png").write_bytes(before)
            box = canvas.bounding_box()
            width, height = (
                int(v)
                for v in page.evaluate("(el) => [el.width, el.height]", canvas.element_handle())
            )
            # Canvas pixels -> CSS pixels relative to the element (it may be scaled down).
            scale_x, scale_y = box["width"] / width, box["height"] / height
            positive = (round(width * 0.5), round(height * 0.5))
            negative = (round(width * 0.25), round(height * 0.3))

            canvas.click(
                position={"x": (positive[0] + 0.5) * scale_x, "y": (positive[1] + 0.5) * scale_y}
            )
            first = _wait_for(
                lambda: (s := state()) and len(s["clicks"]) == 1 and s, 60, "the first click"
            )
            # The element may sit at a fractional page offset and the browser reports whole
            # CSS pixels, so the kernel's pixel may be one off from the aimed one.
            assert _near(first["clicks"][0], positive, True), first["clicks"]
            positive = tuple(int(v) for v in first["clicks"][0][:2])  # where it really landed
            assert first["forward_ms"] > 0 and first["object_id"] == 1

            # The kernel's mask after the positive click: object 1, holding the clicked pixel.
            labels = np.load(label_file)
            assert labels.shape == (height, width)
            assert first["current_pixels"] > 0 and first["label_ids"] == [1], first
            assert int((labels == 1).sum()) == first["current_pixels"]
            assert labels[positive[1], positive[0]] == 1
            # ... and the same mask on the canvas, as overlay pixels away from the marker.
            radius = max(4.0, 0.008 * max(width, height)) + 3  # the marker and its outline
            marker = (
                (positive[0] + 0.5) * scale_x,
                (positive[1] + 0.5) * scale_y,
                radius * max(scale_x, scale_y),
            )
            _wait_for_overlay(canvas, before, labels, marker, "after_first_click.png")

            page.keyboard.press("n")  # the canvas has focus after the click: next click negative
            canvas.click(
                position={"x": (negative[0] + 0.5) * scale_x, "y": (negative[1] + 0.5) * scale_y}
            )
            second = _wait_for(
                lambda: (s := state()) and len(s["clicks"]) == 2 and s, 60, "the second click"
            )
            assert second["clicks"][0] == [positive[0], positive[1], True]
            assert _near(second["clicks"][1], negative, False), second["clicks"]
            negative = tuple(int(v) for v in second["clicks"][1][:2])
            assert second["undo_depth"] == 2

            def changed_at_markers() -> bytes | None:
                shot = canvas.screenshot()
                diff = np.abs(_png_array(shot) - _png_array(before)).sum(axis=2)
                ys, xs = (int(v * s) for v, s in ((positive[1], scale_y), (positive[0], scale_x)))
                yn, xn = (int(v * s) for v, s in ((negative[1], scale_y), (negative[0], scale_x)))
                return shot if diff[ys, xs] > 60 and diff[yn, xn] > 60 else None

            after = _wait_for(changed_at_markers, 30, "the click markers to appear on the canvas")
            (ARTIFACTS / "after_clicks.png").write_bytes(after)
            after_pixels = _png_array(after)
            # The markers' colours: green for the positive click, red for the negative one.
            green = after_pixels[int(positive[1] * scale_y), int(positive[0] * scale_x)]
            red = after_pixels[int(negative[1] * scale_y), int(negative[0] * scale_x)]
            assert green[1] > green[0] and red[0] > red[1], (green, red)
            page.screenshot(path=str(ARTIFACTS / "page.png"))

            # Reload: the new page gets blank canvases, and the widget must redraw them.
            page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
            page.reload(timeout=60_000)
            canvas = page.locator(CANVAS)
            canvas.wait_for(state="visible", timeout=60_000)
            canvas.scroll_into_view_if_needed()

            def redrawn() -> bytes | None:
                shot = canvas.screenshot()
                pixels = _png_array(shot)
                same = (
                    pixels.shape == after_pixels.shape and np.abs(pixels - after_pixels).mean() < 8
                )
                return shot if same else None

            reloaded = _wait_for(redrawn, 60, "the canvas to redraw itself after the reload")
            (ARTIFACTS / "after_reload.png").write_bytes(reloaded)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "failure.png"))
            raise
        finally:
            browser.close()


def _own_photo(width: int = 256, height: int = 176) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in for a student's photo: an orange object on a noisy blue-green gradient
    (``H x W x 3`` uint8 RGB), and the object's ``H x W`` bool mask."""
    rows, cols = np.mgrid[:height, :width]
    rng = np.random.default_rng(0)
    image = np.dstack([40 + cols * 0.3, 90 + rows * 0.4, 150 + cols * 0.2]) + rng.normal(0, 6, (height, width, 3))
    obj = ((cols - 150) / 60.0) ** 2 + ((rows - 95) / 45.0) ** 2 <= 1
    image[obj] = np.array([225, 120, 35]) + rng.normal(0, 6, (int(obj.sum()), 3))
    return np.clip(image, 0, 255).astype(np.uint8), obj


@pytest.mark.browser
@pytest.mark.slow
def test_a_photo_uploaded_through_the_widget_is_segmented_by_a_click(tmp_path):
    """Issue 31: notebook 09's widget, its *Image* button, a photo from "the computer" (a PNG
    in a temporary folder, given to Chromium's file chooser), one click on the object: the
    kernel segments the uploaded photo (its size, the object's mask under the click) and the
    canvas shows the photo and then the mask."""
    from ritm_lite.weights import DEFAULT_COURSE_WEIGHTS

    chromium, sync_playwright = _browser_ready()
    photo, obj = _own_photo()
    photo_path = tmp_path / "my_photo.png"
    assert cv2.imwrite(str(photo_path), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    # The course's weights, on every machine (a cached official checkpoint would also do).
    server, state_file = _notebook_09_lab(tmp_path, RITM_MODEL=DEFAULT_COURSE_WEIGHTS)
    height, width = obj.shape
    with server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            canvas, _ = _run_notebook_09(page, server)
            button = page.locator(f"{PANEL} .ritm-click-segmenter .widget-upload", has_text="Image")
            with page.expect_file_chooser(timeout=30_000) as chooser:
                button.click()  # FileUpload opens the browser's file chooser
            chooser.value.set_files(str(photo_path))

            loaded = _wait_for(lambda: (s := _read_state(state_file)) and s["image_size"] == [height, width] and s,
                               60, "the kernel to load the uploaded photo")
            assert loaded["clicks"] == [] and loaded["current_pixels"] == 0, loaded
            _wait_for(lambda: page.evaluate("(el) => [el.width, el.height]", canvas.element_handle())
                      == [width, height], 30, "the canvas to take the photo's size")

            def shows_photo() -> bytes | None:
                shot = canvas.screenshot()
                pixels = cv2.resize(_png_array(shot).astype(np.uint8), (width, height), interpolation=cv2.INTER_AREA)
                return shot if np.abs(pixels.astype(np.int16) - photo).mean() < 8 else None

            before = _wait_for(shows_photo, 30, "the uploaded photo on the canvas")
            (ARTIFACTS / "upload_before.png").write_bytes(before)

            box = canvas.bounding_box()
            scale_x, scale_y = box["width"] / width, box["height"] / height
            aimed = (150, 95)  # the object's centre
            canvas.click(position={"x": (aimed[0] + 0.5) * scale_x, "y": (aimed[1] + 0.5) * scale_y})
            clicked = _wait_for(lambda: (s := _read_state(state_file)) and len(s["clicks"]) == 1 and s,
                                60, "the click on the uploaded photo")
            assert _near(clicked["clicks"][0], aimed, True), clicked["clicks"]
            x, y = (int(v) for v in clicked["clicks"][0][:2])
            labels = np.load(state_file.with_suffix(".npy"))
            assert labels.shape == (height, width) and labels[y, x] == 1
            mask = labels == 1
            iou = (mask & obj).sum() / (mask | obj).sum()
            assert iou >= 0.8, f"one click on the uploaded object gave IoU {iou:.2f}"

            radius = max(4.0, 0.008 * max(width, height)) + 3
            marker = ((x + 0.5) * scale_x, (y + 0.5) * scale_y, radius * max(scale_x, scale_y))
            _wait_for_overlay(canvas, before, labels, marker, "upload_after_click.png")
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "upload_failure.png"))
            raise
        finally:
            browser.close()
