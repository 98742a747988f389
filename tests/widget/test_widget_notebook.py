"""What notebook 09 says about its figures and its widget is what the code does."""

from __future__ import annotations

import ast

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.colors import Normalize

from ritm_lite.utils import PROJECT_ROOT

NOTEBOOK = PROJECT_ROOT / "notebooks" / "09_live_widget.py"
MEANING = {-1: "ignored band", 0: "background", 1: "object"}  # the GrabCut reader's values


def _colour_name(rgba) -> str:
    grey = float(np.mean(rgba[:3]))
    return "black" if grey < 0.1 else "white" if grey > 0.9 else "grey"


def test_the_ground_truth_figure_names_the_colours_it_draws():
    """Issue 31: the title said "grey: ignored band", but with ``cmap="gray", vmin=-1, vmax=1``
    the band (-1) is black and grey is the background (0)."""
    tree = ast.parse(NOTEBOOK.read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)]
    shows = [c for c in calls if c.func.attr == "imshow" and ast.unparse(c.args[0]) == "gt_mask"]
    assert len(shows) == 1, [ast.unparse(c) for c in shows]
    keywords = {k.arg: ast.literal_eval(k.value) for k in shows[0].keywords}
    colours = colormaps[keywords["cmap"]]
    norm = Normalize(keywords["vmin"], keywords["vmax"])
    axes = ast.unparse(shows[0].func.value)
    titles = [ast.literal_eval(c.args[0]) for c in calls
              if c.func.attr == "set_title" and ast.unparse(c.func.value) == axes]
    assert len(titles) == 1, titles
    for value, meaning in MEANING.items():
        assert f"{_colour_name(colours(norm(value)))}: {meaning}" in titles[0], (value, titles[0])


def test_the_notebook_says_how_to_click_on_your_own_photo():
    """Issue 31: notebook 09 says in words how to segment your own photo, naming the widget's
    upload button as the widget labels it and calls that exist (the browser test,
    ``test_widget_browser.py``, does the upload)."""
    import inspect

    pytest.importorskip("ipycanvas")
    from widget_support import DiskPredictor

    from ritm_lite.widget import ClickSegmenter, live_predictor

    text = NOTEBOOK.read_text()
    assert "## Clicking on your own photo" in text
    section = text.split("## Clicking on your own photo", 1)[1].split("# %%", 1)[0]
    seg = ClickSegmenter(DiskPredictor(), np.zeros((8, 8, 3), np.uint8))
    assert f"press **{seg.image_upload.description}**" in section
    assert f"*{seg.mask_upload.description}*" in section
    assert "seg.load_image(" in section and callable(seg.load_image)
    assert "max_size=1024" in section and "max_size" in inspect.signature(live_predictor).parameters
