# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Overview: interactive segmentation with RITM
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
#
# Sections are those of arXiv 2102.06583v1, numbered once for the whole course in
# `ritm_lite.paper` (the paper's text could not be re-read offline to check them).

# %% [markdown]
# ## Set-up
#
# **Locally**, `make course` in the repository has already created `.venv` with everything
# (the next cell does nothing). **On Colab**, the cell below clones the repository and installs
# the package *without* replacing Colab's own torch, then `ritm_lite.colab.setup()` does the
# rest (the same call as in notebook 09). If you follow the course from a fork, put its address
# in the cell (and in `pyproject.toml`'s `Repository`).

# %% tags=["colab"]
import subprocess
import sys

if "google.colab" in sys.modules:
    try:
        import ritm_lite  # noqa: F401  (already installed in this runtime)
    except ImportError:  # clone and install the course; Colab's own torch stays
        REPO = "https://github.com/ritm-lite/ritm_lite"  # pyproject.toml's Repository (a test checks)
        subprocess.run(["git", "clone", "--depth", "1", REPO, "/content/ritm_lite"], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/ritm_lite[course]"], check=True)
        sys.path.insert(0, "/content/ritm_lite")
from ritm_lite import colab

colab.setup(widgets=False)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import ritm_lite
from ritm_lite.utils import default_device, shared_dir, smoke_mode

print(f"ritm_lite {ritm_lite.__version__}, torch {torch.__version__}, device: {default_device()}")
print("smoke mode (tiny sizes for the test suite):", smoke_mode())
SHARED = shared_dir()
print("shared data:", SHARED if SHARED else "not found — notebooks fall back to generated data")

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
# `../shared/fixtures/ritm_reference/` (beside the repository) holds outputs of the original
# RITM code on fixed weights and inputs. The test suite — and notebook 03 — check that
# `ritm_lite` reproduces them: same parameter counts, same `state_dict` keys (official
# checkpoints load unchanged), same logits. So what you learn here is the real model.

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
