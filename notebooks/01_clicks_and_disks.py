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
# # 01 · Clicks and their encoding: disks versus distance maps
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ritm-lite/ritm_lite/blob/main/notebooks/01_clicks_and_disks.ipynb)
#
# A network cannot read a list of coordinates directly; clicks must become image-sized maps.
# This notebook builds RITM's encoding and the one it replaced, and shows the paper's
# argument (Sec. 3.1): **adding a click changes a disk map only near that click, while a
# distance map shifts everywhere.**

# %% [markdown]
# ## What you will learn
#
# * why clicks must become image-sized maps, and the `(x, y)` -> `(row, col)` conversion
# * how RITM encodes clicks as disks of radius 5, and how distance maps differ
# * why a new click should change the maps only near it (the paper's argument for disks)
#
# **Assumes:** notebook 00; NumPy broadcasting.
# **Time:** Run All takes under 10 seconds on a 2-core CPU (measured 2026-12-02 with
# `python benchmarks/notebook_run_times.py`).
# **Ends with** an exercise that checks your answer
# (`ritm_lite.course`; solutions in `notebooks/solutions/`).

# %% tags=["colab"]
# On Colab only: clone the course and install its package with this notebook's extra (Colab's
# own torch stays); elsewhere `make course` installed everything and this cell only says so.
import importlib.util
import subprocess
import sys

EXTRA = ""  # the pyproject.toml extra this notebook needs ("" = the package alone)
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
import cv2
import matplotlib.pyplot as plt
import numpy as np
import torch

from ritm_lite.clicks import Click, clicks_from_prompts, points_tensor
from ritm_lite.model import disk_maps, distance_maps
from ritm_lite.data.locate import benchmark_folder
from ritm_lite.utils import show_source, smoke_mode

# %% [markdown]
# ## 1. Clicks: `(x, y)` outside, `(row, col)` inside
#
# Like SAM, `ritm_lite`'s public API takes `(x, y)` pixel coordinates and labels (1 positive,
# 0 negative). The original network takes a **points tensor** `(B, 2N, 3)`: per sample, `N`
# slots for positive clicks then `N` for negative ones, each `(row, col, click_index)`, padded
# with `-1`. Exactly one module converts between them:

# %%
show_source(points_tensor)

# %%
clicks = clicks_from_prompts(point_coords=[[120, 80], [40, 30], [150, 100]], point_labels=[1, 0, 1],
                             image_size=(160, 240))
for c in clicks:
    print(c)
print(points_tensor([clicks]))

# %% [markdown]
# Bad input gets a clear error instead of a silently wrong mask:

# %%
for coords, labels in [([[300, 10]], [1]), ([[10, 10]], [1, 0]), ([[10, 10]], [2])]:
    try:
        clicks_from_prompts(coords, labels, image_size=(160, 240))
    except ValueError as err:
        print("ValueError:", err)

# %% [markdown]
# ## 2. Disks, built by hand
#
# $$\text{disk}(p) = \big[\min_k \lVert p - c_k \rVert_2 \le r\big], \qquad r = 5$$
#
# one map for all positive clicks and one for all negative clicks. A naive NumPy version:

# %%
def naive_disks(clicks, height, width, radius=5):
    maps = np.zeros((2, height, width), dtype=np.float32)
    rows, cols = np.mgrid[:height, :width]
    for click in clicks:
        inside = (rows - click.y) ** 2 + (cols - click.x) ** 2 <= radius**2
        maps[0 if click.is_positive else 1][inside] = 1
    return maps


height, width = 160, 240
mine = naive_disks(clicks, height, width)
library = disk_maps(points_tensor([clicks]), height, width, radius=5)[0].numpy()
assert np.array_equal(mine, library)
print("the library's disk_maps equals the naive version; pixels per disk:", int(naive_disks(clicks[:1], height, width)[0].sum()))

# %% [markdown]
# ## 3. Distance maps (what RITM replaced)
#
# Before RITM, clicks were encoded as (truncated) distance transforms. The original code's
# variant is $\tanh(2\, d(p) / R)$ with $d$ the distance to the nearest click and $R = 260$.

# %%
show_source(distance_maps)

# %% [markdown]
# ## 4. The argument: what changes when one click is added?
#
# Take a real image (the first GrabCut photo: `benchmark_folder` finds GrabCut in `$RITM_DATA` or
# `data/`, or downloads it, 11 MB; without it a generated image stands in), one positive and one
# negative click, then add a second positive click, and compare the positive-click channel
# before and after.

# %%
def load_example_image():
    folder = benchmark_folder("GrabCut", download=not smoke_mode())  # prints which data it uses
    if folder is not None:
        path = sorted((folder / "data_GT").glob("*.jpg"))[0]
        print("the photo:", path.name)
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    print("using a generated image instead")
    rows, cols = np.mgrid[:321, :481]
    img = np.stack([cols / 481, rows / 321, np.full(rows.shape, 0.4)], -1)
    img[(rows - 160) ** 2 + (cols - 240) ** 2 < 90**2] = (0.9, 0.3, 0.2)
    return (255 * img).astype(np.uint8)


image = load_example_image()
if smoke_mode():
    image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2))
H, W = image.shape[:2]
before = [Click(0.45 * W, 0.5 * H, True, 0), Click(0.15 * W, 0.2 * H, False, 1)]
after = before + [Click(0.6 * W, 0.4 * H, True, 2)]

encodings = {"disks (RITM)": disk_maps, "distance maps": distance_maps}
fig, axes = plt.subplots(2, 3, figsize=(12, 6))
changed = {}
for row, (name, encode) in enumerate(encodings.items()):
    a = encode(points_tensor([before], num_points=2), H, W)[0, 0].numpy()
    b = encode(points_tensor([after], num_points=2), H, W)[0, 0].numpy()
    changed[name] = float(np.mean(np.abs(b - a) > 1e-6))
    axes[row, 0].imshow(image)
    axes[row, 0].imshow(a, alpha=0.5, cmap="viridis")
    axes[row, 1].imshow(image)
    axes[row, 1].imshow(b, alpha=0.5, cmap="viridis")
    axes[row, 2].imshow(np.abs(b - a), cmap="magma")
    axes[row, 0].set_ylabel(name)
    axes[row, 2].set_title(f"|change|: {100 * changed[name]:.2f} % of pixels")
for ax, title in zip(axes[0], ["positive map, 1 positive click", "after a 2nd positive click"]):
    ax.set_title(title)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
for c in after:
    for ax in axes[:, 1]:
        ax.plot(c.x, c.y, "o", color="lime" if c.is_positive else "red", markeredgecolor="black")
plt.tight_layout()
plt.show()
print({k: f"{100 * v:.2f} % of pixels changed" for k, v in changed.items()})
assert changed["disks (RITM)"] < 0.01 < changed["distance maps"]

# %% [markdown]
# A new click adds one small disk (81 pixels) and leaves the rest of the encoding untouched,
# so the network can read the *new* information locally. With distance maps, the encoding of
# the *old* clicks shifts over most of the image. The paper reports that disks work better for
# iterative training, and that they make the radius the only hyper-parameter.
#
# These maps, together with the previous mask, are the three auxiliary channels
# `[previous mask, positive disks, negative disks]`. Notebook 02 shows how they enter the network.

# %% [markdown]
# ## Exercise
#
# The radius is the disk encoding's one hyper-parameter. Change it and look: how much of the
# positive channel does one new click change at radius 2, 5 (RITM's) and 15?
# Replace the `...` below with your answer and run the next cell: it says **right**, or
# **not yet** with a hint.

# %%
from ritm_lite import course

print(course.task("01.radius"))

# %% tags=["exercise"]
answer = ...  # exercise 01.radius: your answer here

# %%
course.check("01.radius", answer)

# %% [markdown]
# Once your answer is right, the next cell draws the positive channel after the new click at
# three radii, with the share of pixels that changed. A disk of radius 15 on this image is a
# large blob; a distance map is the limit of ever larger disks.

# %%
if answer is not ...:
    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    for ax, radius in zip(axes, (2, 5, 15)):
        ax.imshow(disk_maps(points_tensor([after]), H, W, radius=radius)[0, 0], cmap="gray")
        ax.set_title(f"radius {radius}: {answer(before, after, H, W, radius):.1%} of the pixels change")
        ax.axis("off")
    plt.show()
