"""The live click-segmentation widget: click on an image in JupyterLab, get a mask.

* :class:`ClickSegmenter` (``canvas.py``) — the ipycanvas widget: toolbar, sliders, canvas,
  status line. ``ClickSegmenter(predictor, image)`` and display it.
* :class:`SegmentationState` (``state.py``) — clicks, objects, undo stack and label map as a
  plain Python class, usable without any widget (the notebooks' headless fallback).
* ``undo.py`` — the undo stack, bounded by a memory budget (oldest clicks dropped first).
* ``io.py`` — loading images and masks (grayscale, RGBA, 16-bit with a stated bit depth)
  through the package's one image reader, and saving a PNG label map and COCO-style RLE JSON.
* :func:`live_predictor` (``live.py``) — the predictor the widget runs by default:
  the paper's inference with the network on the fast backend (``backend=`` changes it).
* ``overlay.py`` — the label map as the translucent colour overlay the canvas shows
  (:func:`overlay_rgba` gives the same pixels for a matplotlib plot).

``ipywidgets`` and ``ipycanvas`` come with the ``course`` extra; ``state``, ``io`` and
``overlay`` do not need them, so the import of :class:`ClickSegmenter` is deferred until it
is used: ``import ritm_lite.widget`` works without them.
"""

from __future__ import annotations

from typing import Any

from ritm_lite.widget.io import (
    coco_to_label_map,
    label_map_to_coco,
    load_image,
    load_mask,
    result_paths,
    save_coco_rle_json,
    save_label_map_png,
)
from ritm_lite.widget.overlay import overlay_rgba
from ritm_lite.widget.state import BusyError, FinishedObject, PredictorLike, SegmentationState

__all__ = [
    "BusyError",
    "ClickSegmenter",
    "FinishedObject",
    "PredictorLike",
    "SegmentationState",
    "coco_to_label_map",
    "label_map_to_coco",
    "live_predictor",
    "load_image",
    "load_mask",
    "overlay_rgba",
    "result_paths",
    "save_coco_rle_json",
    "save_label_map_png",
]


def __getattr__(name: str) -> Any:
    if name == "ClickSegmenter":
        from ritm_lite.widget.canvas import ClickSegmenter

        return ClickSegmenter
    if name == "live_predictor":
        from ritm_lite.widget.live import live_predictor

        return live_predictor
    raise AttributeError(f"module 'ritm_lite.widget' has no attribute {name!r}")
