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
# # 06 · Click simulation: from instance masks to a training sample
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ritm-lite/ritm_lite/blob/main/notebooks/06_click_simulation.ipynb)
#
# Nobody clicks on a million training images. RITM *simulates* the clicks: for each training
# sample it picks an object, augments the image, and draws random positive and negative
# clicks (the iterative part of training then adds clicks where the model errs — notebook 07;
# both are the paper's Sec. 3.3).
# This notebook runs the library's data path on real photos from COCO:
#
# 1. the augmentation chain, image and masks together;
# 2. `MultiPointSampler`: which object, how many clicks, where;
# 3. the click-count distribution;
# 4. the sample the trainer receives.

# %% [markdown]
# ## What you will learn
#
# * how training samples are made: augmentation, crops, and the multi-point click sampler
# * where a simulated user clicks, positive and negative
# * what one training batch looks like, on real COCO_MVal photos
#
# **Assumes:** notebooks 00-01.
# **Time:** Run All takes about 30 seconds on a 2-core CPU (measured 2026-12-02 with
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
from torch.utils.data import DataLoader

from ritm_lite.clicks import clicks_from_points
from ritm_lite.data.augmentation import AugmentationConfig, augment
from ritm_lite.data.datasets import CocoLvisDataset, DatasetConfig, FolderDataset, InMemorySource, split_by_image_id
from ritm_lite.data.points_sampler import MultiPointSampler, click_count_probs
from ritm_lite.data.locate import benchmark_folder
from ritm_lite.utils import show_source, smoke_mode

rng = np.random.default_rng(0)

# %% [markdown]
# ## 0. Data
#
# COCO_MVal (found in `$RITM_DATA` or `data/`, or downloaded: 127 MB) holds 800 COCO instances
# as `img/NAME.jpg` + `gt/NAME.png`, named
# `{category}{k}_{coco_image_id}`. Several instances come from the same photo, so
# `FolderDataset` groups them by image id: one item is one photo with *all* its instance
# masks (the other instances matter: negative clicks like to land on them). A train/val split
# must be by image id, never by file, or a photo would leak into both:

# %%
coco_mval = benchmark_folder("COCO_MVal", download=not smoke_mode())  # prints which data it uses
if coco_mval is not None:
    names = sorted(p.stem for p in (coco_mval / "img").iterdir())
    train_names, val_names = split_by_image_id(names, val_fraction=0.2, seed=0)
    dataset = FolderDataset(coco_mval, names=train_names, config=DatasetConfig.train(epoch_len=1000), seed=0)
    print(f"COCO_MVal: {len(names)} instances -> train {len(train_names)} / val {len(val_names)} instances, "
          f"{dataset.num_images()} training photos")
else:
    print("using generated images with rectangles and ellipses instead of COCO photos")

    def generated_photos(count: int = 6, seed: int = 0) -> list[tuple[np.ndarray, list[np.ndarray]]]:
        """A few synthetic photos: ellipses of random colours on noise, one mask per ellipse."""
        gen = np.random.default_rng(seed)
        photos = []
        for _ in range(count):
            image = gen.integers(60, 120, (360, 520, 3), dtype=np.uint8)
            masks = []
            for _ in range(gen.integers(2, 5)):
                mask = np.zeros((360, 520), np.uint8)
                centre = (int(gen.integers(80, 440)), int(gen.integers(80, 280)))
                axes = (int(gen.integers(30, 90)), int(gen.integers(30, 90)))
                cv2.ellipse(mask, centre, axes, float(gen.integers(0, 180)), 0, 360, 1, -1)
                image[mask > 0] = gen.integers(120, 255, 3)
                masks.append(mask > 0)
            photos.append((image, masks))
        return photos

    dataset = CocoLvisDataset(InMemorySource(generated_photos()), DatasetConfig.train(epoch_len=1000), seed=0)

# %%
# Pick the photo with the most instances to look at.
counts = [dataset.load(i).masks.shape[2] for i in range(min(dataset.num_images(), 150))]
photo = dataset.load(int(np.argmax(counts)))
print("photo", photo.image.shape, "with", photo.masks.shape[2], "instances")


def outline(ax, mask, color):
    ax.contour(mask.astype(float), levels=[0.5], colors=[color], linewidths=1.5)


# %% [markdown]
# ## 1. The augmentation chain
#
# RITM's training chain (its configs, built with albumentations; here OpenCV + NumPy with the
# same formulas): uniform random resize by 0.75–1.40, horizontal flip (p = 0.5), zero-pad to at
# least 320×480, random 320×480 crop, brightness ±0.25 / contrast −0.15…+0.4 (p = 0.75), RGB
# shift ±10 (p = 0.75). The image is interpolated bilinearly; the masks — a stack with one
# channel per instance — by nearest neighbour, through exactly the same geometry.

# %%
show_source(augment)

# %%
config = AugmentationConfig.train()
fig, axes = plt.subplots(2, 4, figsize=(16, 6.5))
axes[0, 0].imshow(photo.image)
for k in range(photo.masks.shape[2]):
    outline(axes[0, 0], photo.masks[:, :, k], plt.cm.tab10(k))
axes[0, 0].set_title(f"original {photo.image.shape[1]}x{photo.image.shape[0]}")
for ax, seed in zip(axes.flat[1:], range(7)):
    image, masks = augment(photo.image, photo.masks, config, np.random.default_rng(seed))
    ax.imshow(image)
    for k in range(masks.shape[2]):
        if masks[:, :, k].any():
            outline(ax, masks[:, :, k], plt.cm.tab10(k))
    ax.set_title(f"seed {seed}: {image.shape[1]}x{image.shape[0]}")
for ax in axes.flat:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. `MultiPointSampler`
#
# The defaults are those of RITM's training configs (the paper does not spell these details
# out; they come from the code):

# %%
sampler = MultiPointSampler()
print(sampler)
show_source(MultiPointSampler.sample)

# %% [markdown]
# On augmented crops of the photo: the target's outline (white), its eroded region for
# positive clicks (green tint), the three regions negative clicks come from — the border ring
# (orange), the other objects (blue) and the rest of the background — and the clicks:
# positive ● green, negative ● red. Some samples merge two objects into one target (p = 0.15).

# %%
fig, axes = plt.subplots(2, 3, figsize=(16, 7.5))
for ax, seed in zip(axes.flat, range(6)):
    sample_rng = np.random.default_rng(100 + seed)
    image, masks = augment(photo.image, photo.masks, config, sample_rng)
    visible = [k for k in range(masks.shape[2]) if masks[:, :, k].sum() >= 1000]
    result = sampler.sample(masks, sample_rng, candidates=visible)
    shown = image.astype(float) / 255
    tint = np.zeros_like(shown)
    tint[result.negative_regions["border"]] = (1.0, 0.55, 0.0)
    tint[result.negative_regions["other"] & ~result.negative_regions["border"]] = (0.2, 0.4, 1.0)
    for region in result.positive_regions:
        tint[region] = (0.1, 0.9, 0.1)
    painted = tint.any(axis=2)
    shown[painted] = 0.55 * shown[painted] + 0.45 * tint[painted]
    ax.imshow(shown)
    if result.gt_mask.any():
        outline(ax, result.gt_mask, "white")
    for click in result.clicks:
        ax.plot(click.x, click.y, "o", ms=6, mec="black", mfc="lime" if click.is_positive else "red")
    kind = "background sample" if not result.object_ids else (
        f"objects {list(result.object_ids)}" + (" (merged)" if len(result.object_ids) > 1 else ""))
    ax.set_title(f"{kind}: {len(result.positive_clicks)} pos / {len(result.negative_clicks)} neg")
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. How many clicks?
#
# The number of positive clicks is `1 + k` and of negative clicks `k`, with `P(k) ∝ 0.8^k`
# (truncated at 24): most samples get a few clicks, some get many. We draw many samples and
# compare with the probabilities. (Merged targets are counted apart: they get one click per
# object plus `k` more from the union.)

# %%
num_draws = 300 if smoke_mode() else 3000
pos_counts, neg_counts, merged = np.zeros(25), np.zeros(25), 0
image, masks = augment(photo.image, photo.masks, AugmentationConfig.val(), np.random.default_rng(0))
visible = [k for k in range(masks.shape[2]) if masks[:, :, k].sum() >= 1000]  # min_object_area
for _ in range(num_draws):
    result = sampler.sample(masks, rng, candidates=visible)
    if len(result.object_ids) > 1:
        merged += 1
        continue
    pos_counts[len(result.positive_clicks)] += 1
    neg_counts[len(result.negative_clicks)] += 1
single = num_draws - merged

fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
for ax, counts, expected, title in [
    (axes[0], pos_counts, np.concatenate([[0], click_count_probs(24, 0.8)]), "positive clicks per sample"),
    (axes[1], neg_counts, click_count_probs(25, 0.8), "negative clicks per sample"),
]:
    ax.bar(np.arange(25), counts / single, color="lightgray", label=f"sampled ({single} single-object draws)")
    ax.plot(np.arange(25), expected, "k.-", label="P(k) ∝ 0.8^k")
    ax.set_title(title)
    ax.set_xlabel("clicks")
    ax.legend()
plt.tight_layout()
plt.show()
print(f"merged targets: {merged / num_draws:.3f} (expected 0.15 when the photo has 2+ instances)")
tv = 0.5 * np.abs(pos_counts / single - np.concatenate([[0], click_count_probs(24, 0.8)])).sum()
print(f"total variation distance, positive counts vs P(k): {tv:.3f}")
assert tv < (0.15 if smoke_mode() else 0.06)

# %% [markdown]
# ## 4. What the trainer receives
#
# `dataset[i]` runs the whole recipe — random photo (fixed epoch length), augmentation (re-done
# when no object is visible, unless kept as a background sample with p = 0.05), objects under
# 1000 px never targets, clicks — and returns tensors. The clicks travel in RITM's points
# layout `(2N, 3)`: 24 positive slots then 24 negative ones, `(row, col, index)`, `-1` padded;
# randomly sampled clicks carry index 100, as in the original. Every item is seeded by
# `(seed, epoch, index)`, so DataLoader workers give the same batches as the main process.

# %%
loader = DataLoader(dataset, batch_size=4, num_workers=0)
batch = next(iter(loader))
for key, value in batch.items():
    print(f"{key:9s} {tuple(value.shape)} {value.dtype}  range [{value.min():.2f}, {value.max():.2f}]")

fig, axes = plt.subplots(1, 4, figsize=(17, 3.4))
for b, ax in enumerate(axes):
    ax.imshow(batch["images"][b].permute(1, 2, 0).numpy())
    instances = batch["instances"][b, 0].numpy()
    if (instances == 1).any():
        outline(ax, instances == 1, "white")
    for click in clicks_from_points(batch["points"][b]):
        ax.plot(click.x, click.y, "o", ms=5, mec="black", mfc="lime" if click.is_positive else "red")
    ax.axis("off")
plt.tight_layout()
plt.show()

# %%
# Positive clicks lie on the target, negative ones off it, in every sample of the batch.
for b in range(len(batch["images"])):
    instances = batch["instances"][b, 0]
    for click in clicks_from_points(batch["points"][b]):
        assert (instances[int(click.y), int(click.x)] == 1) == click.is_positive
print("clicks consistent with the targets")

# %% [markdown]
# ## Exercise
#
# How many clicks a training sample gets is set by one number, the sampler's `prob_gamma`.
# Change it and look: how often does the model train on a single click at gamma 0.5, 0.8
# and 0.95?
# Replace the `...` below with your answer and run the next cell: it says **right**, or
# **not yet** with a hint.

# %%
from ritm_lite import course

print(course.task("06.click_count"))

# %% tags=["exercise"]
answer = ...  # exercise 06.click_count: your answer here

# %%
course.check("06.click_count", answer)

# %%
if answer is not ...:
    fig, ax = plt.subplots(figsize=(7, 3))
    for gamma in (0.5, 0.8, 0.95):
        probs = click_count_probs(24, gamma)
        ax.plot(np.arange(1, 25), probs, "o-", markersize=3,
                label=f"gamma {gamma}: {answer(24, gamma):.1f} clicks on average, {probs[0]:.0%} one click only")
    ax.set_xlabel("positive clicks in a sample (max_num_points 24)")
    ax.set_ylabel("probability")
    ax.legend()
    plt.show()
