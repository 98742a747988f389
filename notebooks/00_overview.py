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
# # 00 · Overview: interactive segmentation with RITM
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ritm-lite/ritm_lite/blob/main/notebooks/00_overview.ipynb)
#
# **The task.** A user wants the mask of one object in a photo. They click on it (a *positive*
# click); the model proposes a mask; where the mask is wrong they click again — positive on a
# missed part, *negative* on a wrongly included part — until the mask is good. The quality
# measure is how many clicks that takes: **NoC@90**, the number of clicks to reach 90 % IoU
# (at most 20), averaged over a benchmark.
#
# **The paper.** Sofiiuk, Petrov, Konushin, *Reviving Iterative Training with Mask Guidance for
# Interactive Segmentation* (ICIP 2022; cited as arXiv 2102.06583v1) — **RITM** — showed that a plain
# feed-forward network is enough, with no optimisation at test time (unlike BRS/f-BRS),
# provided that
#
# 1. the network also sees **its own previous mask** (mask guidance): input = RGB + positive
#    click disks + negative click disks + previous mask;
# 2. it is trained **iteratively**: during training, some clicks are placed where the model's
#    own current prediction is wrong, exactly as a user would;
# 3. clicks enter through **Conv1S**, a small convolution branch added after the backbone's first
#    convolution, so an ImageNet-pretrained backbone keeps its weights;
# 4. the loss is the **Normalized Focal Loss**, and the training set is large and clean
#    (**COCO + LVIS**).
#
# At inference, RITM zooms in on the object after the first click (**ZoomIn**) and averages
# the prediction with that of the horizontally flipped image.

# %% [markdown]
# ## What you will learn
#
# * the task (click-based interactive segmentation) and how it is scored (NoC@85 / NoC@90)
# * the four ideas of the paper this course rebuilds, and which notebook builds each
# * how to set up the course locally or on Colab, and which weights the notebooks use
#
# **Assumes:** Python and NumPy; no deep-learning background beyond what a convolution is.
# **Time:** Run All takes under 10 seconds on a 2-core CPU (measured 2026-12-02 with
# `python benchmarks/notebook_run_times.py`).
# **Ends with** an exercise that checks your answer
# (`ritm_lite.course`; solutions in `notebooks/solutions/`).

# %% [markdown]
# ## The course map
#
# Each notebook builds one piece and imports it from the `ritm_lite` package, which is the
# single source of truth (notebooks show its code rather than keeping a copy).
#
# | # | notebook | paper |
# | --- | --- | --- |
# | 01 | clicks and disk encoding | Sec. 3.1 |
# | 02 | Conv1S and the other fusions | Sec. 3.2 |
# | 03 | HRNet-W18 + OCR, parity with the original code | Sec. 3.2 |
# | 04 | Normalized Focal Loss | Sec. 3.4 |
# | 05 | merging COCO and LVIS | Sec. 4 |
# | 06 | click simulation for training | Sec. 3.3 |
# | 07 | iterative training with mask guidance | Sec. 3.3 |
# | 08 | inference (ZoomIn, flip) and evaluation (NoC) | Sec. 5 |
# | 09 | a live click-segmentation widget | — |
# | 10 | the full GPU training run | Sec. 5 |
# | 11 | the paper's ablations rerun: which claims hold here | Sec. 5 |
# | 12 | fine-tuning on your own masks | — |
#
# Sections are those of arXiv 2102.06583v1, numbered once for the whole course in
# `ritm_lite.paper`.

# %% [markdown]
# ## Set-up
#
# **Locally**, `make course` in the repository has already created `.venv` with everything
# (the next cell only says so). **On Colab** (the badge at the top of every notebook opens it
# there), the cell below clones the repository and installs the package *without* replacing
# Colab's own torch, plus the one `pyproject.toml` extra the notebook needs (`EXTRA`: none here,
# `widget` in notebook 09); then `ritm_lite.colab.setup(EXTRA)` does the rest. Every notebook
# starts with this same cell, because Colab gives each notebook a fresh runtime. If you follow
# the course from a fork, put its address in `pyproject.toml`'s `Repository` and in the cells
# and badges (`tests/course/test_colab.py` lists any that differ).
#
# **Data.** The notebooks find the benchmarks with `ritm_lite.data.locate.benchmark_folder`: in
# the folder `$RITM_DATA` names, else in the project's `data/` (where
# `python -m ritm_lite.data.download grabcut coco-mval --root data/` puts them), else they
# download the small ones (GrabCut 11 MB, COCO_MVal 127 MB) into `data/`. Each notebook prints
# which data it uses; without any (offline), it says what it would download and falls back to
# generated images.

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
import matplotlib.pyplot as plt
import numpy as np
import torch

import ritm_lite
from ritm_lite.data.locate import data_dirs, find_benchmark, shown_path
from ritm_lite.utils import default_device, smoke_mode

print(f"ritm_lite {ritm_lite.__version__}, torch {torch.__version__}, device: {default_device()}")
print("smoke mode (tiny sizes for the test suite):", smoke_mode())
print("benchmarks are looked for in:", ", ".join(shown_path(d) for d in data_dirs()))
for name in ("GrabCut", "COCO_MVal"):
    found = find_benchmark(name)
    print(f"  {name}:", shown_path(found) if found else "not there yet (the notebooks that use it download it)")

# %% [markdown]
# ## The whole pipeline in one cell
#
# An image and one positive click go in; logits for the object come out. The weights here are
# random (the course trains them later), so the mask is meaningless — what matters now is the
# interface: RGB in [0, 1] plus the previous mask form a `(B, 4, H, W)` tensor, and the clicks
# become RITM's points tensor `(B, 2N, 3)` of `(row, col, click_index)`.

# %%
from ritm_lite.clicks import Click, points_tensor

torch.manual_seed(0)
model = ritm_lite.build_model("hrnet18s").eval()

height, width = (96, 128) if smoke_mode() else (320, 480)
rows, cols = np.mgrid[:height, :width]
rgb = np.stack([cols / width, rows / height, 0.5 * np.ones_like(rows, dtype=float)], axis=-1)
image = torch.as_tensor(rgb, dtype=torch.float32).permute(2, 0, 1)[None]  # (1, 3, H, W)
prev_mask = torch.zeros(1, 1, height, width)  # nothing predicted yet
click = Click(x=width // 2, y=height // 2, is_positive=True, index=0)
points = points_tensor([[click]])
print("points tensor (row, col, index):", points.tolist())

with torch.no_grad():
    out = model(torch.cat([image, prev_mask], dim=1), points)
print({name: tuple(t.shape) for name, t in out.items()})

fig, axes = plt.subplots(1, 2, figsize=(8, 3))
axes[0].imshow(rgb)
axes[0].plot(click.x, click.y, "o", color="lime", markeredgecolor="black")
axes[0].set_title("input + positive click")
axes[1].imshow(torch.sigmoid(out["instances"])[0, 0], vmin=0, vmax=1)
axes[1].set_title("probability (random weights)")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## What "parity" means here
#
# The project's test suite holds outputs of the original RITM code on fixed weights and inputs
# (golden outputs, not published with the course) and checks that `ritm_lite` reproduces them:
# same parameter counts, same `state_dict` keys (official checkpoints load unchanged), same
# logits, same clicks. Where they are not at hand — in your copy — you can check the result
# yourself: notebook 08 loads the paper's official checkpoint (when it can be downloaded) and
# scores it on GrabCut beside the paper's row. So what you learn here is the real model.

# %% [markdown]
# ## Exercise
#
# Public coordinates are `(x, y)`; the network's points tensor stores `(row, col)`.
# Replace the `...` below with your answer and run the next cell: it says **right**, or
# **not yet** with a hint.

# %%
from ritm_lite import course

print(course.task("00.row_col"))

# %% tags=["exercise"]
answer = ...  # exercise 00.row_col: your answer here

# %%
course.check("00.row_col", answer)
