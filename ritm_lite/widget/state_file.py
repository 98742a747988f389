"""Mirror a widget's state into files, for tools that watch the kernel from outside.

The browser test (``tests/widget/test_widget_browser.py``) clicks on notebook 09's canvas in
Chromium and needs to see what the kernel made of each click. With the environment variable
``RITM_WIDGET_STATE`` set to a JSON path, :func:`mirror_state` writes, after every change,
the label map to ``<path>.npy`` and then :meth:`SegmentationState.summary` to the JSON file.
Without it, it does nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

STATE_FILE_ENV = "RITM_WIDGET_STATE"


def mirror_state(widget: Any, path: str | Path | None = None) -> Path | None:
    """Write ``widget``'s state to ``path`` (default: ``$RITM_WIDGET_STATE``) after every change.

    Args:
        widget: a :class:`~ritm_lite.widget.ClickSegmenter` (anything with ``state`` and
            ``on_update``).

    Returns:
        The JSON path written to, or ``None`` when there is none (nothing is written).
    """
    target = path if path is not None else os.environ.get(STATE_FILE_ENV)
    if not target:
        return None
    target = Path(target)

    def write(changed: Any) -> None:
        np.save(target.with_suffix(".npy"), changed.state.result_label_map())  # first the map ...
        target.write_text(json.dumps(changed.state.summary()))  # ... then the summary the test polls

    widget.on_update(write)
    return target
