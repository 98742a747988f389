"""``ClickSegmenter``: the live click-segmentation widget (ipycanvas + ipywidgets).

A thin layer over :class:`~ritm_lite.widget.state.SegmentationState`: it turns canvas
events and buttons into state calls and draws the result.

Rendering. A three-layer :class:`ipycanvas.MultiCanvas` holds the photo (layer 0, sent
once per image), the mask overlay (layer 1) and the click markers (layer 2, the one that
receives mouse and keyboard events). A click redraws only layers 1 and 2, inside one
``hold_canvas()`` so the browser gets a single message. The overlay is sent as a *palette
PNG with transparency* (``overlay.py``): lossless RGBA as the browser decodes it, never
JPEG. See ``benchmarks/widget_overhead.py`` for what this costs per click.

Clicks. ipycanvas reports only ``(x, y)`` for a mouse press — no button, no modifier keys —
so the sign of the next click is a toggle, positive by default. Switching is one key: with
the canvas focused (it takes focus when clicked) press **N** for negative, **P** for
positive, **Space** or **T** to toggle; **Z** or **Backspace** undoes, **R** resets the
object, **Enter** or **F** finishes it.

Rapid clicks. A click runs its prediction synchronously inside the kernel's message handler,
so clicks made while a prediction runs wait in the kernel's queue and are then applied one
by one, in order — none is lost, each gets its own undo step. A request that reaches the
state while a prediction is still running (another thread, or a callback that re-enters)
is refused with "busy" in the status line and changes nothing.

Errors. ipywidgets swallows exceptions raised in widget callbacks, so every callback here
catches them, shows them in the status line and leaves the widget usable. The public
methods (:meth:`ClickSegmenter.click`, :meth:`~ClickSegmenter.undo`, ...) raise normally.

Reloading the page. A new browser view starts with blank canvases; the widget redraws
every layer when the canvas reports ``client_ready``.
"""

from __future__ import annotations

import contextlib
import html
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
from ipycanvas import MultiCanvas, hold_canvas
from ipycanvas.canvas import COMMANDS

from ritm_lite.clicks import Click
from ritm_lite.widget.io import (
    load_image,
    load_mask,
    result_paths,
    save_coco_rle_json,
    save_label_map_png,
)
from ritm_lite.widget.overlay import NEGATIVE_COLOR, POSITIVE_COLOR, overlay_png
from ritm_lite.widget.state import OVERLAP_RULE, BusyError, PredictorLike, SegmentationState

PHOTO, OVERLAY, CLICKS = 0, 1, 2  # MultiCanvas layers, bottom to top
LOW_THRESHOLD = 0.1  # below it the status line explains why the mask may be a rectangle


def _put_png(layer: Any, png: bytes, x: int = 0, y: int = 0) -> None:
    """Draw already-encoded PNG bytes on a canvas layer.

    ``Canvas.put_image_data`` re-encodes an array itself (JPEG for 3 channels, slow
    compression for 4); this sends our palette PNG through the same ``putImageData``
    command, which the front end decodes as an image of any format.
    """
    layer._canvas_manager.send_draw_command(layer, COMMANDS["putImageData"], [x, y], [png])


class ClickSegmenter(widgets.VBox):
    """Segment objects in ``image`` by clicking; every click runs one prediction.

    Args:
        predictor: a :class:`~ritm_lite.widget.state.PredictorLike`, e.g.
            ``ritm_lite.widget.live_predictor(ritm_lite.load_checkpoint(path))`` (the paper's
            predictor on the fast backend; the checkpoint's stored settings come with the
            model). The widget owns it from now on.
        image: ``H x W`` or ``H x W x {3, 4}`` array of any bit depth, a path or encoded
            bytes.
        threshold: initial probability threshold (the paper's 0.5).
        opacity: initial overlay opacity.
        save_path: where "Save" writes ``<save_path>.png`` (label map) and
            ``<save_path>.json`` (COCO RLE), relative to the kernel's working directory.

    Attributes:
        state: the :class:`SegmentationState` (clicks, objects, undo stack, label map).
        canvas: the :class:`ipycanvas.MultiCanvas`.
        last_error: the last exception a callback caught (``None`` if none).
    """

    def __init__(
        self,
        predictor: PredictorLike,
        image: Any,
        *,
        threshold: float = 0.5,
        opacity: float = 0.5,
        save_path: str | Path = "segmentation",
    ):
        rgb = image if isinstance(image, np.ndarray) else load_image(image)
        self.state = SegmentationState(predictor, rgb, threshold=threshold)
        self.last_error: BaseException | None = None
        self._note = ""
        self._callbacks: list[Callable[[ClickSegmenter], None]] = []
        height, width = self.state.size

        self.canvas = MultiCanvas(3, width=width, height=height)
        self.canvas.layout = widgets.Layout(width="100%", max_width=f"{width}px", height="auto")
        self.canvas.on_mouse_down(self._on_mouse_down)
        self.canvas.on_key_down(self._on_key_down)
        self.canvas.on_client_ready(self._on_client_ready)

        button = widgets.Layout(width="auto")
        self.mode = widgets.ToggleButtons(
            options=[("+ positive", "positive"), ("− negative", "negative")],
            value="positive",
            tooltips=["foreground click (key P)", "background click (key N)"],
            style={"button_width": "92px"},
        )
        self.undo_button = widgets.Button(
            description="Undo", icon="undo", layout=button, tooltip="take back the last click (Z)"
        )
        self.reset_button = widgets.Button(
            description="Reset",
            icon="refresh",
            layout=button,
            tooltip="drop this object's clicks (R)",
        )
        self.finish_button = widgets.Button(
            description="Finish object",
            icon="check",
            button_style="success",
            layout=button,
            tooltip="keep this object, start the next (Enter)",
        )
        has_zoom = callable(getattr(predictor, "with_zoom_in", None))
        self._zoom_in_object = getattr(predictor, "zoom_in", None) or None
        self.zoom_toggle = widgets.ToggleButton(
            value=self._zoom_in_object is not None,
            description="ZoomIn",
            icon="search-plus",
            disabled=not has_zoom,
            layout=button,
            tooltip="crop around the object after the first clicks (paper, Sec. 5)",
        )
        self.threshold = widgets.FloatSlider(
            value=threshold,
            min=0.01,
            max=0.99,
            step=0.01,
            description="threshold",
            readout_format=".2f",
        )
        self.opacity = widgets.FloatSlider(
            value=opacity, min=0.0, max=1.0, step=0.05, description="opacity", readout_format=".2f"
        )
        self.image_upload = widgets.FileUpload(
            accept="image/*,.tif,.tiff", multiple=False, description="Image", layout=button
        )
        self.mask_upload = widgets.FileUpload(
            accept="image/*,.tif,.tiff",
            multiple=False,
            description="Mask to correct",
            layout=button,
        )
        self.save_path = widgets.Text(
            value=str(save_path), description="save as", layout=widgets.Layout(width="260px")
        )
        self.save_button = widgets.Button(
            description="Save",
            icon="save",
            layout=button,
            tooltip="write <name>.png (label map) and <name>.json (COCO RLE)",
        )
        self.status = widgets.HTML()
        help_text = widgets.HTML(
            "<small style='color:#666'>Click the image to add a click. Keys (canvas focused): "
            "<b>N</b> negative · <b>P</b> positive · <b>Space</b> toggle · <b>Z</b> undo · "
            "<b>R</b> reset · <b>Enter</b> finish object. Overlaps: "
            f"{OVERLAP_RULE}. Undo keeps up to {self.state.undo_memory_mb:g} MB of snapshots "
            "per object (the oldest clicks are dropped past it).</small>"
        )

        self.mode.observe(lambda _: self._guarded("mode", self._show_status), "value")
        self.undo_button.on_click(lambda _: self._guarded("undo", self.undo))
        self.reset_button.on_click(lambda _: self._guarded("reset", self.reset))
        self.finish_button.on_click(lambda _: self._guarded("finish", self.finish_object))
        self.zoom_toggle.observe(lambda c: self._guarded("ZoomIn", self._set_zoom, c.new), "value")
        self.threshold.observe(
            lambda c: self._guarded("threshold", self._set_threshold, c.new), "value"
        )
        self.opacity.observe(lambda _: self._guarded("opacity", self._redraw), "value")
        self.image_upload.observe(
            lambda c: self._guarded("image upload", self._on_upload, c.new, self.load_image),
            "value",
        )
        self.mask_upload.observe(
            lambda c: self._guarded("mask upload", self._on_upload, c.new, self.load_mask), "value"
        )
        self.save_button.on_click(lambda _: self._guarded("save", self._save_clicked))

        toolbar = widgets.HBox(
            [self.mode, self.undo_button, self.reset_button, self.finish_button, self.zoom_toggle],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        sliders = widgets.HBox(
            [self.threshold, self.opacity], layout=widgets.Layout(flex_flow="row wrap")
        )
        files = widgets.HBox(
            [self.image_upload, self.mask_upload, self.save_path, self.save_button],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        super().__init__([toolbar, sliders, self.canvas, self.status, files, help_text])
        self.add_class("ritm-click-segmenter")
        self._redraw(photo=True)
        self._show_status()

    # ------------------------------------------------------------------- public API
    def click(self, x: float, y: float, positive: bool | None = None) -> None:
        """Add a click at pixel ``(x, y)`` (``positive=None``: the toggle's mode) and redraw.

        Raises:
            ValueError: the click is outside the image. BusyError: a prediction is running.
        """
        start = time.perf_counter()
        is_positive = self.mode.value == "positive" if positive is None else bool(positive)
        self._show_working(x, y, is_positive)  # at once: the prediction may take seconds
        self.state.add_click(x, y, is_positive)  # a new state.timing: this click's model time
        render_start = time.perf_counter()
        self._redraw()  # the status line shows the model time and "…" for the total
        timing = self.state.timing
        timing.extra = {"render_s": time.perf_counter() - render_start}
        timing.total_s = time.perf_counter() - start
        self._changed()  # now the total of the same click

    def undo(self) -> None:
        """Take back the last click of the current object (a no-op, noted, when there is none)."""
        if not self.state.undo():
            self._note = "nothing to undo: this object has no clicks"
        self._redraw()
        self._changed()

    def reset(self) -> None:
        """Drop the current object's clicks."""
        self.state.reset_clicks()
        self._redraw()
        self._changed()

    def finish_object(self) -> int:
        """Keep the current object in the label map and start a new one; returns its id."""
        finished = self.state.finish_object()
        overlap = self.state.objects[-1].overlap
        self._note = f"object {finished} finished" + (
            f" ({overlap} of its pixels already belonged to earlier objects and stay theirs)"
            if overlap else ""
        )
        self._redraw()
        self._changed()
        return finished

    def load_image(self, image: Any) -> None:
        """Segment a new image (array, path or encoded bytes); clicks and objects are dropped."""
        self.state.set_image(image if isinstance(image, np.ndarray) else load_image(image))
        height, width = self.state.size
        self.canvas.width, self.canvas.height = width, height
        self.canvas.layout.max_width = f"{width}px"
        self._redraw(photo=True)
        self._changed()

    def load_mask(self, mask: Any) -> None:
        """Correct an existing mask (array, path or encoded bytes; non-zero = object)."""
        self.state.load_mask(load_mask(mask, self.state.size))
        self._note = "mask loaded: click to correct it"
        self._redraw()
        self._changed()

    def save(self, path: str | Path | None = None) -> tuple[Path, Path]:
        """Write ``<path>.png`` (label map) and ``<path>.json`` (COCO RLE) of the result
        (:func:`~ritm_lite.widget.io.result_paths`)."""
        png_path, json_path = result_paths(path if path is not None else self.save_path.value)
        labels = self.state.result_label_map()
        png = save_label_map_png(labels, png_path)
        coco = save_coco_rle_json(labels, json_path, file_name=png.name)
        self._note = f"saved {png} and {coco.name}"
        self._show_status()
        return png, coco

    def on_update(self, callback: Callable[[ClickSegmenter], None]) -> None:
        """Call ``callback(self)`` after every change (click, undo, reset, finish, load)."""
        self._callbacks.append(callback)

    # ------------------------------------------------------------------- callbacks
    def _on_mouse_down(self, canvas_x: float, canvas_y: float) -> None:
        # The front end reports canvas pixels (already scaled when CSS shrinks the canvas);
        # the click belongs to the pixel under the cursor.
        self._guarded("click", self.click, math.floor(canvas_x), math.floor(canvas_y))

    def _on_key_down(self, key: str, shift: bool, ctrl: bool, meta: bool) -> None:
        actions = {
            "n": lambda: setattr(self.mode, "value", "negative"),
            "p": lambda: setattr(self.mode, "value", "positive"),
            " ": self._toggle_mode,
            "t": self._toggle_mode,
            "z": self.undo,
            "backspace": self.undo,
            "r": self.reset,
            "enter": self.finish_object,
            "f": self.finish_object,
        }
        action = actions.get(key.lower())
        if action is not None:
            self._guarded(f"key {key!r}", action)

    def _on_client_ready(self) -> None:
        self._guarded("redraw", self._redraw, True)

    def _toggle_mode(self) -> None:
        self.mode.value = "negative" if self.mode.value == "positive" else "positive"

    def _set_zoom(self, enabled: bool) -> None:
        # A new predictor, the same model with the other ZoomIn (``Predictor.with_zoom_in``);
        # the widget keeps the ZoomIn object it was given, so switching back on restores its
        # settings.
        if enabled and self._zoom_in_object is None:
            from ritm_lite.inference import ZoomIn

            self._zoom_in_object = ZoomIn()
        target = self._zoom_in_object if enabled else None
        self.state.replace_predictor(self.state.predictor.with_zoom_in(target))
        replayed = len(self.state.clicks)
        self._note = f"ZoomIn {'on' if enabled else 'off'}" + (
            f": the object's {replayed} click(s) were re-run with it" if replayed else ""
        )
        self._redraw()
        self._changed()

    def _set_threshold(self, value: float) -> None:
        self.state.threshold = float(value)
        if value < LOW_THRESHOLD and self.zoom_toggle.value:
            self._note = (f"below {LOW_THRESHOLD} the mask can fill ZoomIn's crop rectangle: outside "
                          "the crop the probability is exactly 0, inside it is rarely that low")
        self._redraw()
        self._changed()

    def _on_upload(self, value: Any, load: Callable[[bytes], None]) -> None:
        files = list(value.values()) if isinstance(value, dict) else list(value)
        if not files:  # the reset below fires the observer again with nothing in it
            return
        try:
            load(bytes(files[-1]["content"]))
        finally:
            with contextlib.suppress(Exception):
                self.image_upload.value = ()
                self.mask_upload.value = ()

    def _save_clicked(self) -> None:
        self.save()

    # -------------------------------------------------------------------- drawing
    def _redraw(self, photo: bool = False) -> None:
        """Redraw the overlay and click layers (and the photo when asked), in one message."""
        overlay = overlay_png(self.state.result_label_map(), self.opacity.value)
        with hold_canvas():
            if photo:
                self.canvas[PHOTO].clear()
                self.canvas[PHOTO].put_image_data(self.state.image, 0, 0)
            self.canvas[OVERLAY].clear()
            _put_png(self.canvas[OVERLAY], overlay)
            self._draw_clicks()
        self._show_status()

    def _show_working(self, x: float, y: float, is_positive: bool) -> None:
        """Draw the new click's marker and say "computing" before the prediction runs."""
        if self.state.busy or not (0 <= x < self.state.size[1] and 0 <= y < self.state.size[0]):
            return  # add_click will refuse it with the reason, changing nothing
        with hold_canvas():
            self._draw_clicks(pending=Click(x, y, is_positive, len(self.state.clicks)))
        sign = "positive" if is_positive else "negative"
        self.status.value = (f"<span class='ritm-status'><b>object {self.state.object_id}</b> · "
                             f"computing {sign} click {len(self.state.clicks) + 1} …</span>")

    def _draw_clicks(self, pending: Click | None = None) -> None:
        layer = self.canvas[CLICKS]
        layer.clear()
        radius = max(4.0, 0.008 * max(self.state.size))
        clicks = [*self.state.clicks, *([pending] if pending is not None else [])]
        for sign, color in ((True, POSITIVE_COLOR), (False, NEGATIVE_COLOR)):
            chosen = [c for c in clicks if c.is_positive == sign]
            if not chosen:
                continue
            xs = np.array([c.x + 0.5 for c in chosen])  # marker on the pixel's centre
            ys = np.array([c.y + 0.5 for c in chosen])
            layer.fill_style = color
            layer.fill_circles(xs, ys, radius)
            layer.stroke_style = "white"
            layer.line_width = max(1.0, radius / 3)
            layer.stroke_circles(xs, ys, radius)

    # --------------------------------------------------------------------- status
    def _show_status(self) -> None:
        state = self.state
        positives = sum(c.is_positive for c in state.clicks)
        negatives = len(state.clicks) - positives
        parts = [
            f"<b>object {state.object_id}</b>",
            f"{len(state.clicks)} click{'s' if len(state.clicks) != 1 else ''}"
            + f" ({positives}+, {negatives}−)",
            f"{len(state.objects)} finished",
        ]
        if state.undo_dropped:
            parts.append(f"undo reaches back {len(state.clicks) - state.undo_dropped} of "
                         f"{len(state.clicks)} clicks ({state.undo_memory_mb:g} MB limit)")
        timing = state.timing  # one click's: a new click replaces it whole (total unknown until drawn)
        if timing.forward_s:
            total = f"{1000 * timing.total_s:.0f} ms" if timing.total_s else "…"
            parts.append(f"last click {total} (model {1000 * timing.forward_s:.0f} ms)")
        parts.append(f"next click: <b>{self.mode.value}</b>")
        text = " · ".join(parts)
        if self._note:
            text += f" — <span class='ritm-note'>{html.escape(self._note)}</span>"
        self.status.value = f"<span class='ritm-status'>{text}</span>"

    def _changed(self) -> None:
        self._show_status()
        for callback in self._callbacks:
            callback(self)

    def _guarded(self, what: str, action: Callable[..., Any], *args: Any) -> None:
        """Run a callback; show any exception in the status line instead of losing it."""
        self._note = ""
        with self._catch(what):
            action(*args)

    @contextlib.contextmanager
    def _catch(self, what: str) -> Iterator[None]:
        try:
            yield
        except BusyError as error:
            self._note = f"busy: {what} ignored ({error})"
            self._show_status()
        except ValueError as error:  # bad input (outside click, wrong-size mask): a note
            self.last_error = error
            self._note = f"{what} ignored: {error}"
            self._show_status()
        except Exception as error:  # noqa: BLE001 - ipywidgets would swallow it silently
            self.last_error = error
            self._note = f"{what} failed: {type(error).__name__}: {error}"
            self._show_status()
            self.status.value = self.status.value.replace(
                "class='ritm-note'", "class='ritm-note' style='color:#c62828'"
            )
