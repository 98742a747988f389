# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · A live click-segmentation widget
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ritm-lite/ritm_lite/blob/main/notebooks/09_live_widget.ipynb)
#
# Everything so far ran click by click in code. Here a person clicks: the image is shown in
# an [ipycanvas](https://ipycanvas.readthedocs.io) canvas, and **each click runs one forward
# pass** of RITM with all clicks so far and the previous mask fed back (the *mask guidance* of
# the paper), then redraws the mask overlay.
#
# `ritm_lite.widget` has three parts:
#
# | module | what it holds |
# | --- | --- |
# | `state.py` — `SegmentationState` | clicks, undo stack (predictor snapshots, ZoomIn included), finished objects, label map; plain Python, tested without a browser |
# | `canvas.py` — `ClickSegmenter` | the thin widget layer: toolbar, sliders, a 3-layer canvas, status line |
# | `io.py` | loading images/masks (grayscale, RGBA, 16-bit) and saving a PNG label map and COCO RLE JSON |
#
# **How to use it.** Click on the object: a *positive* click. The sign of the next click is
# the toggle in the toolbar — ipycanvas reports only the position of a mouse press, not the
# button or modifier keys — and switching is one key once the canvas has focus (it takes
# focus when clicked): **N** negative, **P** positive, **Space** toggle, **Z** undo,
# **R** reset the object, **Enter** finish the object (it is kept in the label map and the
# next object starts). Threshold and opacity are sliders; *ZoomIn* switches the paper's
# ZoomIn on or off (the object's clicks are re-run with the new setting); *Image* loads
# another picture, *Mask to correct* loads an existing mask, which the first click corrects
# (it is passed to the predictor as `mask_input`); *Save* writes `<name>.png` (label map,
# 0 = background, k = object k) and `<name>.json` (COCO-style RLE).
#
# **Rapid clicks** are applied one by one, in order: a click runs its prediction inside the
# kernel's message handler, so clicks made meanwhile wait in the kernel's queue. Errors
# inside a callback (which ipywidgets would swallow) appear in the status line.

# %% [markdown]
# ## What you will learn
#
# * segmenting your own photos by clicking, in JupyterLab or Colab
# * undo, several objects, correcting an existing mask, saving PNG and COCO RLE
# * what the widget adds to the Predictor of notebook 08 (and what it does not)
#
# **Assumes:** notebook 08.
# **Time:** Run All takes about 10 seconds on a 2-core CPU (measured 2026-12-02 with
# `python benchmarks/notebook_run_times.py`), then as long as you click.
# **Ends with** an exercise that checks your answer
# (`ritm_lite.course`; solutions in `notebooks/solutions/`).

# %% [markdown]
# ## Set-up on Colab
#
# Locally nothing is needed (`make course` installed everything; the cell below only says so).
# **On Colab**, the cell clones and installs the course with its `widget` extra, which pins
# **ipycanvas 0.13.2**, and `ritm_lite.colab.setup("widget")` turns on Colab's custom widget
# manager, without which third-party widgets do not render (why 0.13.2: see
# `ritm_lite/colab.py`). If the widget still does not show there,
# `ritm_lite.widget.colab_canvas.click_segmenter(predictor, image)` shows the same session in a
# plain HTML canvas that talks to Python through `google.colab.output`, with no custom widget
# (it chooses that canvas on Colab and the ipycanvas widget elsewhere); and the last section of
# this notebook runs the session without any widget.

# %% tags=["colab"]
# On Colab only: clone the course and install its package with this notebook's extra (Colab's
# own torch stays); elsewhere `make course` installed everything and this cell only says so.
import importlib.util
import subprocess
import sys

EXTRA = "widget"  # the pyproject.toml extra this notebook needs ("" = the package alone)
if "google.colab" in sys.modules and importlib.util.find_spec("ritm_lite") is None:
    REPO = "https://github.com/ritm-lite/ritm_lite"  # pyproject.toml's Repository (a test checks)
    CLONE = "/content/ritm_lite"
    subprocess.run(["git", "clone", "-q", "--depth", "1", REPO, CLONE], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", CLONE + (f"[{EXTRA}]" if EXTRA else "")],
                   check=True)
    sys.path.insert(0, CLONE)
from ritm_lite import colab

colab.setup(EXTRA)

# %%
import json
import os
import sys
import tempfile
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
import torch

from IPython.display import display

import ritm_lite
from ritm_lite.data.benchmarks import grabcut
from ritm_lite.evaluation import Clicker, iou
from ritm_lite.inference import unwrap
from ritm_lite.data.locate import benchmark_folder
from ritm_lite.utils import default_device, show_source, smoke_mode
from ritm_lite.weights import select_model
from ritm_lite.widget import (  # none of these needs ipycanvas or ipywidgets
    SegmentationState,
    coco_to_label_map,
    live_predictor,
    overlay_rgba,
    save_coco_rle_json,
    save_label_map_png,
)
from ritm_lite.widget.colab_canvas import click_segmenter
from ritm_lite.widget.state_file import mirror_state
from ritm_lite.widget.overlay import NEGATIVE_COLOR, POSITIVE_COLOR

try:
    from ritm_lite.widget import ClickSegmenter  # ipycanvas + ipywidgets (the course extra)
except ImportError as error:
    ClickSegmenter = None
    print(f"No widget here ({error}): the section 'Without widgets' below runs the same session.")

torch.set_num_threads(2)
SMOKE = smoke_mode()
print("smoke mode:", SMOKE, "· device:", default_device())

# %% [markdown]
# ## The model
#
# `MODEL` (or the environment variable `RITM_MODEL`) picks the weights. `"auto"` uses the
# paper's official HRNet-W18-small (`coco_lvis_h18s_itermask`, 16.5 MiB, downloaded once into
# torch's hub cache) when it is cached or can be downloaded, and otherwise the **course's
# default weights** (`ritm_lite.weights`): an ImageNet-pretrained EfficientNet-Lite0 behind
# Conv1S, trained on a 2-core CPU on the 648 training instances of COCO_MVal (its model card,
# `ritm_lite/weights/MODEL_CARD.md`, has the measured NoC beside OpenCV GrabCut's and the
# paper's). An official checkpoint name, a course weights name or a checkpoint file (a
# `ritm_lite` one or an official RITM one) choose explicitly. At smoke size nothing is
# downloaded.

# %%
MODEL = os.environ.get("RITM_MODEL", "auto")

model, model_name, said = select_model(MODEL, download=not SMOKE)
print("Using", said)
model = model.to(default_device())

# %% [markdown]
# ## An image
#
# The first GrabCut object (found in `$RITM_DATA` or `data/`, or downloaded; read by the benchmark reader of
# notebook 08: 1 object, 0 background, -1 the ignored band around the boundary), otherwise a
# generated one. At smoke size (the test suite) it is shrunk so that every click is quick on a CPU.

# %%
GRABCUT = benchmark_folder("GrabCut", download=not SMOKE)  # prints which data it uses
if GRABCUT is not None:
    sample = grabcut(GRABCUT)[0]
    image, gt_mask = sample.image, sample.gt_mask
    print(f"GrabCut {sample.name}: {image.shape[1]}x{image.shape[0]}")
else:
    print("using a generated image instead (a disk and a bar on a gradient)")
    rows, cols = np.mgrid[:320, :480]
    inside = (cols - 300) ** 2 / 90**2 + (rows - 170) ** 2 / 70**2 <= 1
    image = np.dstack([cols * 0.4 + 40, rows * 0.5 + 30, np.full_like(rows, 90)]).astype(np.uint8)
    image[inside] = (220, 120, 40)
    image[60:110, 40:200] = (60, 160, 200)
    gt_mask = inside.astype(np.int32)

if SMOKE:
    scale = 192 / max(image.shape[:2])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    gt_mask = cv2.resize(gt_mask.astype(np.float32), size, interpolation=cv2.INTER_NEAREST).astype(np.int32)
print("image:", image.shape, image.dtype)

# %% [markdown]
# ## The widget
#
# `ClickSegmenter(predictor, image)` is all it takes (on Colab the cell shows the same session
# in the plain HTML canvas instead, `click_segmenter`). The predictor is `ritm_lite`'s
# `Predictor` with the paper's inference (ZoomIn and flip averaging), built by
# `live_predictor(model, BACKEND)`. The model arrives with the settings its checkpoint stores
# (for the course's default weights and the paper's checkpoints nothing beyond the paper's
# protocol; for the previous default, `efficientnet_lite0_stage7`, every click also at 320 px,
# averaged, and asked once more with its own answer as the mask), so the predictor needs none.
#
# **The backend** is how the network runs, and a person waits for every click. `"fast"` (the
# default, on a CPU and on a GPU) is the same network with BatchNorm folded into the
# convolutions, channels_last tensors and the image's stem features kept between clicks: the
# same probabilities up to float32 rounding (`tests/inference/test_fast_inference.py`), about twice as fast
# on a CPU (`benchmarks/README.md`).
# `"eager"` runs the network as trained (3-5 s per click with the previous default weights and
# their two scales and refinement pass on a busy 2-core CPU); `"bf16"` and `"onnxruntime"` (CPU) are the other choices
# (`ritm_lite.inference.backends`). On a very large photo, `max_size=800` (the original demo's)
# keeps the first click quick. Without ipycanvas the cell shows nothing: the last section runs
# the same session without widgets.

# %%
BACKEND = "fast"  # how the network runs: "fast" (default), "eager" (as trained), "bf16", "onnxruntime"
predictor = live_predictor(model, BACKEND)  # the paper's ZoomIn and flip; the model keeps its checkpoint's settings
print("backend:", BACKEND, "·", type(unwrap(predictor.model)[0]).__name__)
if "google.colab" in sys.modules:  # Colab: the plain HTML canvas, no custom widget needed (shown at once)
    seg = click_segmenter(predictor, image)
elif ClickSegmenter is not None:
    seg = ClickSegmenter(predictor, image, save_path="segmentation")
    mirror_state(seg)  # for the browser test (RITM_WIDGET_STATE); does nothing otherwise
    display(seg)

# %% [markdown]
# ## Clicking on your own photo
#
# * **In the widget**: press **Image** under the canvas and choose a photo on your computer
#   (PNG, JPEG, TIFF, ...; grayscale and RGBA photos are turned into RGB). The photo
#   goes through the browser to the kernel, the canvas takes its size, the clicks and objects of
#   the previous image are dropped (save them first), and you click on the object as before:
#   positive clicks on it, **N** and negative clicks where the mask spills over.
#   *Mask to correct* then loads an existing mask of the same photo, and *Save* writes the result.
# * **From a file** the kernel can read: `seg.load_image("my_photo.jpg")` in a new cell (the
#   widget above takes it), or a new widget, `ClickSegmenter(predictor, load_image("my_photo.jpg"))`
#   with `load_image` from `ritm_lite.widget`. **On Colab** the plain HTML canvas has no upload
#   button: upload the photo in the *Files* panel on the left, then run
#   `seg = click_segmenter(predictor, load_image("my_photo.jpg"))`.
# * **A large photo** (a phone's 12 megapixels): the first click shows the network the whole
#   photo, which takes a while on a CPU; build the predictor with
#   `live_predictor(model, BACKEND, max_size=1024)` and re-run the widget's cell to keep it quick.

# %% [markdown]
# The status line under the canvas shows the current object, its clicks, and the last
# click's latency split into the model's forward pass and everything else (the total reads "…"
# until the click is drawn). "Everything
# else" is the widget's own cost: `benchmarks/widget_overhead.py` measures it with a
# predictor that costs nothing; the budget is 30 ms per click for a 1-megapixel image.
#
# **How a click is drawn.** The photo is sent once to the bottom layer of a `MultiCanvas`.
# A click redraws only the overlay and click layers, in one message (`hold_canvas()`). The
# overlay travels as a *palette PNG*: one byte per pixel (the object id) and a colour table
# whose alpha is the opacity — lossless RGBA for the browser, and cheap to encode. (An RGB
# array would be sent as lossy JPEG by ipycanvas, smearing the mask's edges.)

# %%
show_source(SegmentationState.add_click)

# %% [markdown]
# Undo works because the state snapshots the predictor (`get_state()`: the previous mask and
# ZoomIn's kept box) *before* each click, and restores it (`set_state`) on undo — so the next
# click sees exactly the previous mask it would have seen. The next section shows it.

# %% [markdown]
# ## Without widgets: the same session from the evaluation's clicker
#
# Where widgets cannot render (a viewer without a widget manager, a Colab runtime where the
# custom widget manager is off, no ipycanvas installed, the test suite), the same session runs
# on `SegmentationState` — the plain class the widget drives, with the calls the canvas makes
# (`add_click`, `undo`, `finish_object`) — and the result is drawn with matplotlib. The clicks
# come from the evaluation's own automatic clicker (`Clicker`, notebook 08): the first at the
# object's most interior point, each next one inside the largest error region. A second
# predictor is used because each state owns its predictor's state.

# %%
offline = SegmentationState(live_predictor(model, BACKEND), image)
clicker = Clicker(gt_mask)
masks = [np.zeros(gt_mask.shape, bool)]  # the mask after each click (none before the first)
for _ in range(2 if SMOKE else 3):
    click = clicker.make_next_click(masks[-1])
    offline.add_click(click.x, click.y, click.is_positive)
    masks.append(offline.current_mask())
    print(f"click {len(masks) - 1} at (x, y) = ({click.x:.0f}, {click.y:.0f}), "
          f"{'positive' if click.is_positive else 'negative'}: IoU {iou(gt_mask, masks[-1]):.3f}")

# Undo the last click: the state returns to the mask of the click before, exactly.
offline.undo()
clicker.remove_last_click()
assert np.array_equal(offline.current_mask(), masks[-2]), "undo did not restore the previous mask"
print(f"undo: back to {len(offline.clicks)} clicks, IoU {iou(gt_mask, offline.current_mask()):.3f}")
first_object = offline.finish_object()
print("status:", offline.summary())

labels = offline.result_label_map()
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].imshow(image)
axes[0].imshow(overlay_rgba(labels, 0.5))  # the pixels the canvas's overlay layer shows
for c in clicker.clicks:
    color = POSITIVE_COLOR if c.is_positive else NEGATIVE_COLOR
    axes[0].plot(c.x, c.y, "o", color=color, markeredgecolor="white", markersize=9)
axes[0].set_title(f"{len(clicker.clicks)} clicks → object {first_object} "
                  f"(IoU {iou(gt_mask, labels == first_object):.2f})")
axes[1].imshow(gt_mask, cmap="gray", vmin=-1, vmax=1)
axes[1].set_title("ground truth (white: object, grey: background, black: ignored band)")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# With the course's weights the IoU above is modest; with an official checkpoint the first
# clicks already give a good mask (the paper's NoC@90 on GrabCut is below 2 clicks).
#
# ## Saving, and reading back
#
# The widget's *Save* writes the label map as a PNG (`uint8`, or `uint16` past 255 objects) and
# a COCO-style JSON whose masks are run-length encoded by pycocotools, with the two functions
# below. Both read back to the same label map.

# %%
out_dir = Path(tempfile.mkdtemp(prefix="ritm_widget_"))
png_path = save_label_map_png(labels, out_dir / "segmentation.png")
json_path = save_coco_rle_json(labels, out_dir / "segmentation.json", file_name=png_path.name)
from_png = cv2.imread(str(png_path), cv2.IMREAD_UNCHANGED)
from_json = coco_to_label_map(json.loads(json_path.read_text()))
assert (from_png == labels).all() and (from_json == labels).all()
rle = json.loads(json_path.read_text())["annotations"][0]["segmentation"]
print(f"{png_path.name}: {from_png.dtype} label map · {json_path.name}: RLE {rle['counts'][:40]}…")

# %% [markdown]
# ## Exercise
#
# The widget and the evaluation score a mask by IoU, leaving the ignored pixels out.
# Replace the `...` below with your answer and run the next cell: it says **right**, or
# **not yet** with a hint.

# %%
from ritm_lite import course

print(course.task("09.iou"))

# %% tags=["exercise"]
answer = ...  # exercise 09.iou: your answer here

# %%
course.check("09.iou", answer)
