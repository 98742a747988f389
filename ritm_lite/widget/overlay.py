"""The mask overlay: a label map drawn as a translucent colour image, widget-free.

The widget (``canvas.py``) sends the overlay to the browser as a *palette PNG with
transparency*: one byte per pixel (the object id) plus a 256-entry colour table whose alpha
is the opacity slider. The browser decodes it to lossless RGBA, and it is about four times
less to compress than an RGBA array. It is never sent as JPEG (ipycanvas encodes a
3-channel array as lossy JPEG, which would smear the mask edges).

:func:`overlay_rgba` decodes the same bytes to an ``H x W x 4`` array, so a plot without
widgets (matplotlib's ``imshow``) shows exactly what the browser shows. Only NumPy and PIL
are needed here.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# matplotlib's tab10, as RGB bytes: the colour of object k is PALETTE[(k - 1) % 10].
PALETTE = np.array(
    [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ],
    dtype=np.uint8,
)
POSITIVE_COLOR = "#2ca02c"  # green click marker
NEGATIVE_COLOR = "#d62728"  # red click marker


def display_indices(label_map: np.ndarray) -> np.ndarray:
    """``H x W`` ``uint8`` palette indices: 0 stays background, id k > 0 maps to 1..255."""
    labels = np.asarray(label_map)
    if labels.size == 0 or labels.max() <= 255:
        return labels.astype(np.uint8)
    return np.where(labels > 0, (labels - 1) % 255 + 1, 0).astype(np.uint8)


def overlay_png(label_map: np.ndarray, opacity: float) -> bytes:
    """Encode an ``H x W`` label map as a palette PNG whose colours carry ``opacity``.

    Index 0 is fully transparent; index k > 0 is ``PALETTE[(k - 1) % 10]`` with alpha
    ``round(255 * opacity)``. Decoding it (browser, PIL) gives the RGBA overlay exactly.

    Raises:
        ValueError: ``opacity`` is outside ``[0, 1]``.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must lie in [0, 1], got {opacity}")
    colors = np.zeros((256, 3), dtype=np.uint8)
    colors[1:] = PALETTE[np.arange(255) % len(PALETTE)]
    alpha = bytes([0] + [round(255 * opacity)] * 255)
    image = Image.fromarray(display_indices(label_map), mode="P")
    image.putpalette(colors.tobytes())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1, transparency=alpha)
    return buffer.getvalue()


def overlay_rgba(label_map: np.ndarray, opacity: float) -> np.ndarray:
    """The ``H x W x 4`` ``uint8`` image that :func:`overlay_png` encodes (for checks and plots)."""
    return np.array(Image.open(io.BytesIO(overlay_png(label_map, opacity))).convert("RGBA"))
