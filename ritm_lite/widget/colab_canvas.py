"""The widget's Colab fallback: an HTML canvas that talks to Python through ``google.colab``.

ipycanvas draws on Colab only through Colab's custom widget manager, and with some version
combinations its canvas stays blank or ignores clicks (ipycanvas issues 170, 292, 318;
colabtools 4157). :class:`ColabCanvasSegmenter` needs no custom widget: the cell's output is
plain HTML, two stacked ``<canvas>`` elements (the photo, and the mask overlay on top) and a
status line, and each click goes to Python through Colab's own bridge::

    page:    google.colab.kernel.invokeFunction(name, [action, x, y, positive], {})
    Python:  google.colab.output.register_callback(name, handler) -> IPython.display.JSON(reply)
    reply:   {"overlay": "data:image/png;base64,...", "status": "3 clicks, 1234 px, ..."}

A left click is positive, a right click or a shift-click negative; the buttons undo the last
click, finish the object (the next clicks start a new one) and clear the clicks. Click
coordinates are image pixels ``(x, y)`` (the page rescales from the displayed size), and the
clicks run through the same :class:`~ritm_lite.widget.state.SegmentationState` as the
ipycanvas widget, so undo, objects and the label map behave alike.

:func:`click_segmenter` chooses: on Colab this canvas, elsewhere the ipycanvas
:class:`~ritm_lite.widget.ClickSegmenter`. ``tests/widget/test_colab_canvas.py`` drives the page in
Chromium with Colab's JavaScript API replaced by a stub that calls :meth:`handle`.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import sys
from typing import Any

import numpy as np
from PIL import Image

from ritm_lite.widget.overlay import overlay_png
from ritm_lite.widget.state import BusyError, PredictorLike, SegmentationState

ACTIONS = ("click", "undo", "finish", "reset")
_NAMES = itertools.count()


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _image_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class ColabCanvasSegmenter:
    """Click segmentation in a plain HTML canvas (see the module docstring).

    Args:
        state: the :class:`SegmentationState` the clicks go to (it holds the predictor and
            the image).
        opacity: the overlay's opacity in ``[0, 1]``.
    """

    def __init__(self, state: SegmentationState, opacity: float = 0.5):
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"opacity must lie in [0, 1], got {opacity}")
        self.state = state
        self.opacity = opacity
        self.callback_name = f"ritm_lite_canvas_{next(_NAMES)}"

    def reply(self, status: str) -> dict[str, str]:
        """The page's update: the overlay (current object on the finished ones) and a status."""
        return {"overlay": _data_url(overlay_png(self.state.result_label_map(), self.opacity)), "status": status}

    def _status(self) -> str:
        s = self.state.summary()
        clicks = len(s["clicks"])
        return (f"object {s['object_id']}: {clicks} click{'s' * (clicks != 1)}, {s['current_pixels']} px; "
                f"{len(s['objects'])} finished; model {s['forward_ms']:.0f} ms")

    def handle(self, action: str, x: float = 0.0, y: float = 0.0, positive: bool = True) -> dict[str, str]:
        """One request from the page.

        Args:
            action: ``"click"`` (at image pixel ``(x, y)``, positive or negative), ``"undo"``,
                ``"finish"`` (the current object joins the label map) or ``"reset"``.

        Returns:
            :meth:`reply`; a refused request (a click outside the image, finishing an empty
            object, a click while the model runs) says why in the status and changes nothing.
        """
        if action not in ACTIONS:
            return self.reply(f"unknown action {action!r}; expected one of {ACTIONS}")
        try:
            if action == "click":
                self.state.add_click(float(x), float(y), bool(positive))
            elif action == "undo":
                self.state.undo()
            elif action == "finish":
                self.state.finish_object()
            else:
                self.state.reset_clicks()
        except (ValueError, BusyError) as err:
            return self.reply(f"{action} refused: {err}")
        return self.reply(self._status())

    def html(self) -> str:
        """The cell's output: the canvases, the buttons, the status line and the script."""
        height, width = self.state.size
        photo = _data_url(_image_png(self.state.image))
        first = json.dumps(self.reply("click on the object (right or shift-click: negative)"))
        name = json.dumps(self.callback_name)
        box = f"position:relative;width:{width}px;max-width:100%;aspect-ratio:{width}/{height}"
        layer = "position:absolute;left:0;top:0;width:100%;height:100%"
        return f"""<div class="ritm-colab-canvas" id="{self.callback_name}">
<div style="{box}">
<canvas class="photo" width="{width}" height="{height}" style="{layer}"></canvas>
<canvas class="overlay" width="{width}" height="{height}" style="{layer};cursor:crosshair"></canvas>
</div>
<div><button data-action="undo">undo</button> <button data-action="finish">finish object</button>
<button data-action="reset">clear clicks</button> <span class="status"></span></div>
</div>
<script>
(() => {{
  const root = document.getElementById({name});
  const photo = root.querySelector("canvas.photo"), overlay = root.querySelector("canvas.overlay");
  const status = root.querySelector(".status");
  const draw = (canvas, url) => new Promise((done) => {{
    const image = new Image();
    image.onload = () => {{
      const context = canvas.getContext("2d");
      context.clearRect(0, 0, canvas.width, canvas.height);
      context.drawImage(image, 0, 0);
      done();
    }};
    image.src = url;
  }});
  const show = async (reply) => {{
    await draw(overlay, reply.overlay);
    status.textContent = reply.status;
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  }};
  const send = async (args) => {{
    status.textContent = "running...";
    try {{
      const result = await google.colab.kernel.invokeFunction({name}, args, {{}});
      await show(result.data["application/json"]);
    }} catch (error) {{
      status.textContent = "error: " + error;
    }}
  }};
  const click = (event, positive) => {{
    event.preventDefault();
    const rect = overlay.getBoundingClientRect();
    const x = (event.clientX - rect.left) * overlay.width / rect.width;
    const y = (event.clientY - rect.top) * overlay.height / rect.height;
    send(["click", x, y, positive]);
  }};
  overlay.addEventListener("click", (event) => click(event, !event.shiftKey));
  overlay.addEventListener("contextmenu", (event) => click(event, false));
  root.querySelectorAll("button").forEach((button) =>
    button.addEventListener("click", () => send([button.dataset.action, 0, 0, true])));
  draw(photo, {json.dumps(photo)}).then(() => show({first}));
}})();
</script>"""

    def show(self) -> None:
        """Register the callback with Colab and display the page (on Colab only).

        Raises:
            RuntimeError: not on Colab (use :class:`~ritm_lite.widget.ClickSegmenter` there).
        """
        if "google.colab" not in sys.modules:
            raise RuntimeError("ColabCanvasSegmenter talks to Python through google.colab: use "
                               "ClickSegmenter outside Colab (click_segmenter chooses)")
        from google.colab import output  # type: ignore[import-not-found]
        from IPython.display import HTML, JSON, display

        output.register_callback(self.callback_name, lambda *args: JSON(self.handle(*args)))
        display(HTML(self.html()))

    def _repr_html_(self) -> str:  # pragma: no cover - what Jupyter shows for the object
        return html.escape("ColabCanvasSegmenter: call .show() on Colab")


def click_segmenter(predictor: PredictorLike, image: np.ndarray, **kwargs: Any) -> Any:
    """The click-segmentation widget that works here: on Colab a :class:`ColabCanvasSegmenter`
    (already shown), elsewhere the ipycanvas :class:`~ritm_lite.widget.ClickSegmenter`
    (display it); ``kwargs`` go to the chosen class."""
    if "google.colab" in sys.modules:
        segmenter = ColabCanvasSegmenter(SegmentationState(predictor, image), **kwargs)
        segmenter.show()
        return segmenter
    from ritm_lite.widget import ClickSegmenter

    return ClickSegmenter(predictor, image, **kwargs)
