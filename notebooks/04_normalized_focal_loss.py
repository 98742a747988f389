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
# # 04 · Normalized Focal Loss: why the gradient must not fade
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ritm-lite/ritm_lite/blob/main/notebooks/04_normalized_focal_loss.ipynb)
#
# RITM trains its main head with the **Normalized Focal Loss** (NFL) and its auxiliary head
# with plain binary cross-entropy (weight 0.4). This notebook writes the three losses from
# their formulas, checks that `ritm_lite.losses` computes exactly the same numbers (and the
# original RITM code's, via its golden outputs), and then reproduces the paper's argument:
# **as predictions improve, the focal loss's total weight — and with it its gradient —
# fades away; NFL keeps it constant.**

# %% [markdown]
# ## What you will learn
#
# * binary cross-entropy, focal loss and the Normalized Focal Loss, from their formulas
# * the "gradient fade" of the focal loss as predictions improve, measured
# * where the library computes each term (`ritm_lite.losses`), line by line
#
# **Assumes:** notebook 00; what a sigmoid and a log-likelihood loss are.
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
import matplotlib.pyplot as plt
import numpy as np
import torch

from ritm_lite.losses import (
    focal_loss,
    focal_normalizer,
    normalized_focal_loss,
    sigmoid_binary_cross_entropy,
)
from ritm_lite.data.locate import reference_folder
from ritm_lite.utils import show_source, smoke_mode

_ = torch.manual_seed(0)

# %% [markdown]
# ## 1. Three losses, pixel by pixel
#
# With `p = sigmoid(logit)` and the label `y ∈ {1, 0}` (and `-1` for pixels to ignore), let
# `p_t = p` on object pixels and `1 - p` on background: the probability given to the truth.
#
# | loss | per pixel |
# | --- | --- |
# | BCE | $-\log p_t$ |
# | Focal Loss (Lin et al. 2017) | $-\alpha_t\,(1 - p_t)^\gamma \log p_t$ |
# | NFL (RITM, eq. 2) | $-\dfrac{1}{P(\hat M)}\,(1 - p_t)^\gamma \log p_t$, with $P(\hat M) = \sum_{i,j} (1 - p_{t,ij})^\gamma$ |
#
# The focal weight $(1 - p_t)^\gamma$ is tiny for pixels that are already right, so the loss
# concentrates on the hard ones. NFL divides by the **sum of the focal weights over the
# image**, so the weights of every image always add up to one.
#
# We write the three naively on a small random batch, with a 5×5 ignored corner:

# %%
logits = 2.5 * torch.randn(4, 1, 48, 64)
labels = (torch.rand(4, 1, 48, 64) > 0.7).float()
labels[:, :, :5, :5] = -1.0  # ignored


def naive_terms(logits, labels, gamma=2.0):
    p = torch.sigmoid(logits.double())
    valid = labels != -1
    p_t = torch.where(labels == 1, p, 1 - p)
    return valid, p_t, (1 - p_t) ** gamma


def naive_bce(logits, labels):
    valid, p_t, _ = naive_terms(logits, labels)
    # the original averages over *all* pixels (ignored ones count as zeros)
    return (-torch.log(p_t) * valid).mean(dim=(1, 2, 3))


def naive_focal(logits, labels, alpha=0.5, gamma=2.0):
    valid, p_t, beta = naive_terms(logits, labels, gamma)
    a_t = torch.where(labels == 1, alpha, 1 - alpha)
    per_pixel = -a_t * beta * torch.log(p_t)
    return torch.stack([per_pixel[b][valid[b]].mean() for b in range(len(logits))])


def naive_nfl_paper(logits, labels, gamma=2.0):
    """The paper's formula: focal weights divided by their sum over the image, then summed."""
    valid, p_t, beta = naive_terms(logits, labels, gamma)
    out = []
    for b in range(len(logits)):
        v = valid[b]
        out.append((-(beta[b][v] / beta[b][v].sum()) * torch.log(p_t[b][v])).sum())
    return torch.stack(out)


print("BCE  ", naive_bce(logits, labels).numpy().round(5))
print("FL   ", naive_focal(logits, labels).numpy().round(5))
print("NFL  ", naive_nfl_paper(logits, labels).numpy().round(5))

# %% [markdown]
# ## 2. The library, and what the original code does differently from the paper's formula
#
# The original code (and so `ritm_lite`) writes NFL another way: it multiplies the focal
# weights by the **normaliser** `|P| / Σ (1 - p_t)^γ` (so they sum to the number of pixels,
# like BCE's), keeps the focal `α_t`, and then *averages* over the non-ignored pixels.
# Dividing by `|P|` and multiplying by `|P|` cancel, so with `α = 0.5` on both classes the
# code's NFL is exactly **half** the paper's formula — a constant factor, the same gradients
# up to scale. The normaliser is **detached**: no gradient flows through it. Small `eps`
# values guard the log (`log(min(p_t + 1e-12, 1))`) and the divisions.

# %% [markdown]
# The terms of the formula, `p_t`, `a_t` and the focal weight `(1 - p_t)^γ`, are computed in
# one helper that the focal loss and NFL share, each line with its formula beside it:

# %%
from ritm_lite.losses import focal_terms

show_source(focal_terms)

# %%
show_source(normalized_focal_loss)

# %%
show_source(focal_normalizer)

# %%
lib_nfl = normalized_focal_loss(logits, labels, alpha=0.5, gamma=2.0)
torch.testing.assert_close(lib_nfl.double(), 0.5 * naive_nfl_paper(logits, labels), rtol=1e-5, atol=1e-7)
torch.testing.assert_close(focal_loss(logits, labels).double(), naive_focal(logits, labels), rtol=1e-5, atol=1e-7)
torch.testing.assert_close(sigmoid_binary_cross_entropy(logits, labels).double(), naive_bce(logits, labels),
                           rtol=1e-5, atol=1e-7)
print("library == naive formulas (NFL == 0.5 x the paper's sum form)")
print("normaliser per image:", focal_normalizer(logits, labels).flatten().numpy().round(3))

# %% [markdown]
# The golden outputs of the original implementation pin the library to the original numbers,
# `eps` values included. They are not published: the test suite has them (`$RITM_REFERENCE`
# names their folder); in your copy the cell says so, and the parity you can check yourself is
# notebook 08's, the paper's official checkpoint scored on GrabCut beside the paper's row.

# %%
reference = reference_folder()
reference_path = None if reference is None else reference / "ritm_losses_reference.pt"
if reference_path is not None and reference_path.exists():
    ref = torch.load(reference_path, weights_only=True)
    ours = normalized_focal_loss(ref["pred_logits"], ref["label"])
    print("original NFL:", ref["losses"]["nfl_alpha0.5_gamma2"].numpy())
    print("ritm_lite   :", ours.numpy())
    print("max relative difference:", float(((ours - ref["losses"]["nfl_alpha0.5_gamma2"]).abs()
                                              / ref["losses"]["nfl_alpha0.5_gamma2"].abs()).max()))
else:
    print("The original's golden outputs are not here (they are not published): the naive formulas above "
          "are the check; notebook 08 compares the official checkpoint with the paper on GrabCut.")

# %% [markdown]
# ## 3. The gradient fade
#
# Picture training on one image: most pixels are *easy* and become confidently right quickly;
# a thin band along the object boundary stays *hard* much longer. We simulate predictions at
# "training progress" `t ∈ [0, 1]`: easy pixels get logit margin `8t` (from a coin flip to
# ~0.9997 right), boundary pixels go from wrong (margin `-1`) to barely right (`+1`).
#
# Then we measure, for each loss, the total focal weight per pixel and the size of the
# gradient the network receives (mean absolute gradient w.r.t. the logits).

# %%
height, width = (96, 128) if not smoke_mode() else (48, 64)
yy, xx = np.mgrid[:height, :width]
radius = min(height, width) * 0.3
dist = np.hypot(yy - height / 2, xx - width / 2)
object_mask = torch.from_numpy(dist < radius).float()[None, None]
hard = torch.from_numpy(np.abs(dist - radius) < 2.5)[None, None]  # the boundary band
sign = 2 * object_mask - 1
print(f"{int(hard.sum())} hard pixels of {height * width} ({100 * hard.float().mean():.1f} %)")

progress = np.linspace(0, 1, 41 if not smoke_mode() else 11)
rows = []
for t in progress:
    margin = torch.where(hard, torch.tensor(-1.0 + 2.0 * t), torch.tensor(8.0 * t))
    row = {"t": t}
    for name, loss_fn in [("BCE", sigmoid_binary_cross_entropy), ("FL", focal_loss), ("NFL", normalized_focal_loss)]:
        x = (sign * margin).clone().requires_grad_(True)
        loss_fn(x, object_mask).sum().backward()
        row[name] = x.grad.abs().sum().item()  # total |grad| over the pixels
        row[name + "_hard_share"] = (x.grad.abs()[hard].sum() / x.grad.abs().sum()).item()
    p_t = torch.sigmoid(margin)
    row["focal_weight"] = ((1 - p_t) ** 2).mean().item()
    rows.append(row)

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].plot(progress, [r["focal_weight"] for r in rows], color="tab:orange", label="FL: mean (1 - p_t)^2")
axes[0].axhline(1.0, color="tab:green", label="NFL: normalised weights (mean 1)")
axes[0].set_yscale("log")
axes[0].set_title("total focal weight per pixel")
for name, color in [("BCE", "tab:blue"), ("FL", "tab:orange"), ("NFL", "tab:green")]:
    axes[1].plot(progress, [r[name] for r in rows], color=color, label=name)
    axes[2].plot(progress, [r[name + "_hard_share"] for r in rows], color=color, label=name)
axes[1].set_yscale("log")
axes[1].set_title("gradient magnitude  mean |dL/dlogit| x pixels")
axes[2].set_title("share of the gradient on the hard boundary band")
for ax in axes:
    ax.set_xlabel("training progress t (predictions improve →)")
    ax.legend()
plt.tight_layout()
plt.show()

first, last = rows[0], rows[-1]
for name in ("BCE", "FL", "NFL"):
    print(f"{name:4s} gradient magnitude: t=0 {first[name]:8.3f}  ->  t=1 {last[name]:8.3f}"
          f"   (x{last[name] / first[name]:.3f})")

# %% [markdown]
# What the plots say:
#
# * **Left.** The focal weights' total collapses by orders of magnitude as easy pixels become
#   confident. NFL divides it out: its weights always average 1.
# * **Middle.** FL's gradient therefore fades — late in training the network hardly learns,
#   although the boundary is still wrong. BCE keeps a gradient but spends it on every pixel.
#   NFL keeps a gradient of the same order as at the start of training.
# * **Right.** Both focal losses spend their gradient on the hard band; NFL does it *and* keeps
#   the magnitude. This is why RITM trains faster and to better masks with NFL (paper, Sec. 3.4
#   and Table 2, the loss ablation that `ritm_lite.ablations` reruns in notebook 11), and why its normaliser is detached: it rescales, it is not something to learn.

# %%
assert last["FL"] < 0.05 * first["FL"], "focal loss gradient should fade"
assert last["NFL"] > 0.3 * first["NFL"], "NFL gradient should not fade"
assert last["NFL_hard_share"] > 0.9 and last["FL_hard_share"] > 0.9 and last["BCE_hard_share"] < last["NFL_hard_share"]

# %% [markdown]
# ## 4. Where the gradient goes, on one picture
#
# Late in training (`t = 0.8`), the per-pixel gradient `|dL/dlogit|` of the three losses, on
# one shared logarithmic colour scale (brighter = larger; scaled by the number of pixels, so
# a BCE pixel shows `|p - y|`):

# %%
from matplotlib.colors import LogNorm

t = 0.8
margin = torch.where(hard, torch.tensor(-1.0 + 2.0 * t), torch.tensor(8.0 * t))
maps = {}
for name, loss_fn in [("BCE", sigmoid_binary_cross_entropy), ("FL", focal_loss), ("NFL", normalized_focal_loss)]:
    x = (sign * margin).clone().requires_grad_(True)
    loss_fn(x, object_mask).sum().backward()
    maps[name] = x.grad.abs()[0, 0].numpy() * x.numel()
norm = LogNorm(vmin=1e-7, vmax=max(m.max() for m in maps.values()))
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
for ax, (name, grad) in zip(axes, maps.items()):
    im = ax.imshow(np.maximum(grad, 1e-7), cmap="magma", norm=norm)
    ax.set_title(f"{name}: mean |grad| x pixels = {grad.mean():.4f}")
    ax.axis("off")
plt.colorbar(im, ax=axes, fraction=0.02)
plt.show()

# %%
easy = 100 * (1 - hard.float().mean().item())
print(f"pixels already right (outside the boundary band): {easy:.1f} %")

# %% [markdown]
# BCE still pushes on the pixels that are already right (the share printed above); FL ignores
# them but its push on the boundary has shrunk; NFL puts a large push where the errors are.

# %% [markdown]
# ## Exercise
#
# Write the Normalized Focal Loss yourself, from the formula above.
# Replace the `...` below with your answer and run the next cell: it says **right**, or
# **not yet** with a hint.

# %%
from ritm_lite import course

print(course.task("04.nfl"))

# %% tags=["exercise"]
answer = ...  # exercise 04.nfl: your answer here

# %%
course.check("04.nfl", answer)
