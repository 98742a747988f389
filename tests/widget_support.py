"""Test helpers for the widget: a stand-in predictor and a stand-in browser canvas.

* :class:`DiskPredictor` has the predictor interface the widget drives
  (``set_image`` / ``predict`` / ``get_state`` / ``set_state`` / ``reset`` / ``zoom_in`` /
  ``with_zoom_in``)
  and a result that is easy to compute by hand: the previous probability map (fed back,
  like RITM's mask guidance) with a disk around the newest click set to 1 (positive) or 0
  (negative). Because each result builds on the previous one, an undo that failed to
  restore the predictor's state would change every later mask. :class:`BlockingPredictor`
  holds each prediction until the test releases it, to deliver a click *during* one.
* :class:`CanvasRecorder` captures what ipycanvas sends to the browser (the comm messages
  of its canvas manager) and replays the drawing commands the way the front end does:
  layers as RGBA arrays, ``putImageData`` decoded with PIL, circles recorded.
* :func:`send_event` delivers a front-end event (``mouse_down``, ``key_down``,
  ``client_ready``) through the widget's comm, exactly where a kernel would.
"""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import numpy as np
from PIL import Image

from ritm_lite.clicks import clicks_from_prompts


def disk(size: tuple[int, int], x: float, y: float, radius: float) -> np.ndarray:
    """``H x W`` bool disk around pixel ``(x, y)``."""
    rows, cols = np.mgrid[: size[0], : size[1]]
    return (cols - x) ** 2 + (rows - y) ** 2 <= radius**2


def expected_probability(
    size: tuple[int, int], clicks: list[tuple[float, float, bool]], radius: float, start=None
) -> np.ndarray:
    """What :class:`DiskPredictor` must return after ``clicks`` (the independent reference)."""
    prob = np.zeros(size, np.float32) if start is None else np.asarray(start, np.float32).copy()
    for x, y, positive in clicks:
        prob[disk(size, x, y, radius)] = 1.0 if positive else 0.0
    return prob


class DiskPredictor:
    """Deterministic stand-in for ``ritm_lite.inference.Predictor`` (see module docstring)."""

    def __init__(self, radius: float = 6.0):
        self.radius = radius
        self.zoom_in = True
        self.calls: list[dict[str, Any]] = []
        self._size: tuple[int, int] | None = None
        self._prev: np.ndarray | None = None

    def set_image(self, image: np.ndarray) -> None:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected H x W x 3 uint8, got {image.dtype} {image.shape}")
        self._size = image.shape[:2]
        self._prev = np.zeros(self._size, np.float32)

    def predict(self, point_coords, point_labels, mask_input=None) -> np.ndarray:
        if self._size is None:
            raise RuntimeError("call set_image first")
        clicks = clicks_from_prompts(point_coords, point_labels, self._size)
        self.calls.append(
            {"n": len(clicks), "mask_input": mask_input is not None, "zoom_in": self.zoom_in}
        )
        prev = self._prev if mask_input is None else np.asarray(mask_input, np.float32)
        last = clicks[-1]
        prob = prev.copy()
        prob[disk(self._size, last.x, last.y, self.radius)] = 1.0 if last.is_positive else 0.0
        self._prev = prob
        return prob.copy()

    def with_zoom_in(self, zoom_in: Any) -> DiskPredictor:
        """A new DiskPredictor with the same radius and this ``zoom_in`` (no image), like
        ``Predictor.with_zoom_in``; it appends to the same ``calls`` log."""
        new = DiskPredictor(self.radius)
        new.zoom_in, new.calls = zoom_in, self.calls
        return new

    def get_state(self) -> Any:
        return None if self._prev is None else self._prev.copy()

    def set_state(self, state: Any) -> None:
        self._prev = None if state is None else state.copy()

    def reset(self) -> None:
        if self._size is not None:
            self._prev = np.zeros(self._size, np.float32)


class BlockingPredictor(DiskPredictor):
    """A DiskPredictor whose ``predict`` waits for :attr:`release` (a prediction "running")."""

    def __init__(self, radius: float):
        super().__init__(radius=radius)
        self.started = 0  # predict calls entered, finished or not
        self.running = threading.Event()
        self.release = threading.Event()

    def predict(self, point_coords, point_labels, mask_input=None) -> np.ndarray:
        self.started += 1
        self.running.set()
        assert self.release.wait(10), "never released"
        return super().predict(point_coords, point_labels, mask_input)


class CanvasRecorder:
    """Capture ipycanvas' outgoing draw messages and replay them into RGBA layers."""

    def __init__(self, monkeypatch):
        from ipycanvas.canvas import _CANVAS_MANAGER, COMMANDS  # only here: state tests need none

        self._command_names = {index: name for name, index in COMMANDS.items()}
        self.messages: list[tuple[Any, list[bytes]]] = []
        self.layers: dict[str, np.ndarray] = {}
        self.circles: dict[str, list[tuple[float, float, str]]] = {}
        self.images: dict[str, list[bytes]] = {}  # encoded bytes sent with putImageData
        self._current: str | None = None
        self._style: dict[str, Any] = {}
        monkeypatch.setattr(_CANVAS_MANAGER.comm, "publish_msg", self._publish)

    def _publish(self, msg_type, data=None, metadata=None, buffers=None, **keys) -> None:
        if msg_type != "comm_msg" or data.get("method") != "custom":
            return
        buffers = [bytes(b) for b in (buffers or [])]
        commands = json.loads(buffers[0].decode("utf8"))
        self.messages.append((commands, buffers))
        batch = commands if commands and isinstance(commands[0], list) else [commands]
        rest = buffers[1:]
        for command in batch:
            count = command[2] if len(command) > 2 else 0
            self._apply(self._command_names[command[0]], command[1], rest[:count])
            rest = rest[count:]

    def _apply(self, name: str, args: list, buffers: list[bytes]) -> None:
        if name == "switchCanvas":
            self._current = args[0].replace("IPY_MODEL_", "")
            return
        layer = self._current
        if name == "clear":
            self.layers.pop(layer, None)
            self.circles[layer] = []
        elif name == "putImageData":
            self.images.setdefault(layer, []).append(buffers[0])
            image = np.array(Image.open(io.BytesIO(buffers[0])).convert("RGBA"), np.float64)
            x, y = int(args[0]), int(args[1])
            self._composite(layer, image, x, y)
        elif name == "set":
            self._style[layer] = args
        elif name in ("fillCircles", "strokeCircles"):
            xs, ys = (self._array(a, buffers) for a in args[:2])
            self.circles.setdefault(layer, []).extend(
                (float(x), float(y), name) for x, y in zip(np.atleast_1d(xs), np.atleast_1d(ys))
            )

    @staticmethod
    def _array(arg: Any, buffers: list[bytes]) -> np.ndarray:
        if isinstance(arg, dict):
            return np.frombuffer(buffers[arg["idx"]], dtype=arg["dtype"]).reshape(arg["shape"])
        return np.asarray(arg)

    def _composite(self, layer: str, image: np.ndarray, x: int, y: int) -> None:
        height, width = image.shape[:2]
        target = self.layers.setdefault(layer, np.zeros((y + height, x + width, 4)))
        region = target[y : y + height, x : x + width]
        alpha = image[..., 3:] / 255.0
        region[..., :3] = image[..., :3] * alpha + region[..., :3] * (1 - alpha)
        region[..., 3:] = image[..., 3:] + region[..., 3:] * (1 - alpha)

    def layer(self, canvas) -> np.ndarray | None:
        """The replayed RGBA pixels of one ipycanvas layer (``None`` if blank)."""
        return self.layers.get(canvas.model_id)


def send_event(widget, content: dict[str, Any]) -> None:
    """Deliver a front-end custom message to ``widget`` through its comm, as the kernel does."""
    widget.comm.handle_msg(
        {
            "header": {"msg_type": "comm_msg"},
            "content": {
                "comm_id": widget.comm.comm_id,
                "data": {"method": "custom", "content": content},
            },
            "buffers": [],
        }
    )


def mouse_down(widget, x: float, y: float) -> None:
    send_event(widget, {"event": "mouse_down", "x": x, "y": y})


def key_down(widget, key: str) -> None:
    send_event(
        widget,
        {"event": "key_down", "key": key, "shift_key": False, "ctrl_key": False, "meta_key": False},
    )


def upload(widget, payload: bytes, name: str) -> None:
    """Deliver a FileUpload's front-end ``update`` message (ipywidgets 8) with one file."""
    entry = {"name": name, "type": "image/png", "size": len(payload), "last_modified": 0}
    widget.comm.handle_msg(
        {
            "header": {"msg_type": "comm_msg"},
            "content": {
                "comm_id": widget.comm.comm_id,
                "data": {
                    "method": "update",
                    "state": {"value": [entry]},
                    "buffer_paths": [["value", 0, "content"]],
                },
            },
            "buffers": [memoryview(payload)],
        }
    )
