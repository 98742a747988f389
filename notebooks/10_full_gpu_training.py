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
# # 10 · The full GPU training run
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ritm-lite/ritm_lite/blob/main/notebooks/10_full_gpu_training.ipynb)
#
# Everything the course built, at the paper's scale: the COCO+LVIS merge (notebook 05),
# the original ITER-M schedule (230 epochs of 30,000 samples, 320x480 crops, Adam 5e-4 with the
# backbone at x0.1, learning rate /10 at epochs 200 and 220), iterative training with mask
# guidance (notebook 07), and the NoC evaluation (notebook 08; paper, Sec. 5). The commands
# below are the ones you run in a terminal; the notebook runs them for you and shows the
# results.
#
# | preset | model | batch | the authors' GPUs (Tesla P40) | expect |
# | --- | --- | --- | --- | --- |
# | `hrnet18s_cocolvis_itermask` | HRNet-W18-small | 32 | 1 | the smallest |
# | `hrnet18_cocolvis_itermask` | HRNet-W18 | 28 | 2 | RITM's default model |
# | `hrnet32_cocolvis_itermask` | HRNet-W32 | 32 | 4 | the most accurate |
#
# On a machine without a GPU — such as the one that runs the course's tests — the notebook
# says so and runs the very same commands at a tiny "smoke" size on the CPU. On a GPU it
# trains for real, and therefore needs the real data: without it, it stops and says what to
# download (set `RITM_SMOKE=1` before starting Jupyter to run the smoke size on a GPU machine).

# %% [markdown]
# ## What you will learn
#
# * the paper's training on COCO + LVIS, on one or several GPUs
# * the original schedule (epochs, learning rates, batch sizes) and how to resume it
# * how to evaluate the result with the command line of notebook 08
#
# **Assumes:** notebooks 05-08; a machine with a CUDA GPU for the full run.
# **Time:** without a GPU, Run All takes about 30 seconds on a 2-core CPU (the commands at smoke
# size; measured 2026-12-02 with `python benchmarks/notebook_run_times.py`); the full run takes
# many GPU hours.
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
import json
import os
import shutil
import subprocess
import sys

import matplotlib.pyplot as plt
import torch

from ritm_lite.training.config import get_preset
from ritm_lite.training.logs import read_log
from ritm_lite.data.locate import benchmark_folder
from ritm_lite.utils import PROJECT_ROOT, smoke_mode

SMOKE = smoke_mode()
GPUS = torch.cuda.device_count()
if GPUS:
    for i in range(GPUS):
        print(f"GPU {i}: {torch.cuda.get_device_name(i)}, "
              f"{torch.cuda.get_device_properties(i).total_memory / 2**30:.0f} GiB")
else:
    print("No GPU on this machine: the commands below run at smoke size on the CPU. "
          "On a GPU machine (or Colab with a GPU runtime) the same notebook trains for real.")
FULL = GPUS > 0 and not SMOKE


def run(cmd: list[str]) -> None:
    """Run a command, streaming its output into the notebook; stop on failure."""
    print("$", " ".join(cmd))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               cwd=PROJECT_ROOT)
    for line in process.stdout:
        print(line, end="")
    if process.wait() != 0:
        raise RuntimeError(f"command failed with exit code {process.returncode}")


# %% [markdown]
# ## 1. Data: COCO 2017 + LVIS v1, merged
#
# Download once (about 19.5 GB; see `data/README.md`), then merge — about ten minutes and
# 0.5 GB of output for the training split:
#
# ```bash
# python -m ritm_lite.data.download coco2017 lvis-v1 --root data/
# python -m ritm_lite.data.coco_lvis --coco data/coco2017/annotations/instances_train2017.json \
#     --lvis data/lvis/lvis_v1_train.json --images data/coco2017 --out data/coco_lvis --split train
# ```
#
# At smoke size the notebook merges the small generated samples instead. A full run never
# trains on them: on a GPU without the real files it stops here with these instructions.

# %%
DATA = PROJECT_ROOT / "data"
MIN_REAL_IMAGES = 50_000  # the real training split has ~99k images; the generated samples a few


def merged_images(folder) -> int:
    """Images in the training split of a merged COCO+LVIS folder (0 when there is none)."""
    summary = folder / "train" / "summary.json"
    return json.loads(summary.read_text())["images"]["written"] if summary.exists() else 0


real = (DATA / "coco2017" / "annotations" / "instances_train2017.json").exists() and (DATA / "lvis" / "lvis_v1_train.json").exists()
if FULL and not real and merged_images(DATA / "coco_lvis") < MIN_REAL_IMAGES:
    print(f"""A GPU is here, so this notebook would train the full 230-epoch schedule, but the real
COCO 2017 + LVIS v1 files are not in {DATA}. Training that schedule on the generated toy
samples would waste days of GPU time on a meaningless model, so the notebook stops.

Either download and merge the data (about 19.5 GB, then ~10 minutes), from {PROJECT_ROOT}:

    python -m ritm_lite.data.download coco2017 lvis-v1 --root data/
    python -m ritm_lite.data.coco_lvis --coco data/coco2017/annotations/instances_train2017.json \\
        --lvis data/lvis/lvis_v1_train.json --images data/coco2017 --out data/coco_lvis --split train

and run the notebook again; or start Jupyter with RITM_SMOKE=1 to run the smoke-size commands
on the tiny generated samples.""")
    raise RuntimeError("no COCO+LVIS data for the full run: see the instructions above")
if FULL:
    merged = DATA / "coco_lvis"
    coco, lvis, images = (DATA / "coco2017" / "annotations" / "instances_train2017.json",
                          DATA / "lvis" / "lvis_v1_train.json", DATA / "coco2017")
else:
    print("Smoke size: merging the generated samples (data/samples), not the real COCO/LVIS files")
    merged = PROJECT_ROOT / "runs" / "notebook10_smoke" / "coco_lvis"
    coco, lvis, images = (DATA / "samples" / "coco" / "annotations" / "instances_train2017.json",
                          DATA / "samples" / "lvis" / "lvis_v1_train.json", DATA / "samples" / "coco")
if not (merged / "train" / "summary.json").exists():
    run([sys.executable, "-m", "ritm_lite.data.coco_lvis", "--coco", str(coco), "--lvis", str(lvis),
         "--images", str(images), "--out", str(merged), "--split", "train"])
print((merged / "train" / "summary.json").read_text())

# %% [markdown]
# ## 2. Pick a preset and launch
#
# One GPU:
#
# ```bash
# python -m ritm_lite.train --preset hrnet18_cocolvis_itermask --data data/coco_lvis --out runs/w18 \
#     --imagenet-weights timm
# ```
#
# Several GPUs on one machine (the global batch is split over them), or several machines
# through torchrun's rendezvous:
#
# ```bash
# torchrun --nproc_per_node 4 -m ritm_lite.train --preset hrnet18_cocolvis_itermask ...
# torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29400 -m ritm_lite.train ...
# ```
#
# The ImageNet HRNet weights the paper starts from are the HRNet authors'
# (https://github.com/HRNet/HRNet-Image-Classification, OneDrive links a script cannot fetch);
# timm's hub hosts the same weights, and `--imagenet-weights timm` fetches them
# (`hrnet_w18_small_v2.ms_in1k`, `hrnet_w18.ms_in1k`, `hrnet_w32.ms_in1k`: always with the
# explicit tag, timm's default tag for these names is another set of weights; their keys are
# ours, `tests/model/test_pretrained.py` checks every tensor). A file of your own still works:
# `--imagenet-weights hrnetv2_w18_imagenet_pretrained.pth`. Without either the backbone starts
# from scratch (then consider `--backbone-lr-mult 1.0`). A stopped run continues exactly with
# `--resume`. On CUDA the trainer uses bf16 (fp16 where bf16 is missing) and channels_last.

# %%
PRESET = "hrnet18_cocolvis_itermask"
out = PROJECT_ROOT / "runs" / ("w18_cocolvis" if FULL else "notebook10_smoke" + "/train")
if FULL:
    launcher = ["torchrun", f"--nproc_per_node={GPUS}", "-m", "ritm_lite.train"] if GPUS > 1 else [sys.executable, "-m", "ritm_lite.train"]
    args = ["--preset", PRESET, "--data", str(merged), "--out", str(out)]
    weights = DATA / "hrnetv2_w18_imagenet_pretrained.pth"  # a file of your own wins
    args += ["--imagenet-weights", str(weights) if weights.exists() else "timm"]
    if (out / "checkpoints" / "last.pth").exists():
        args += ["--resume"]
else:
    shutil.rmtree(out, ignore_errors=True)
    launcher = [sys.executable, "-m", "ritm_lite.train"]
    args = ["--preset", PRESET, "--data", str(merged), "--out", str(out), "--device", "cpu",
            "--crop-size", "64", "96", "--batch-size", "2", "--epoch-len", "4", "--epochs", "2", "--workers", "0",
            "--min-object-area", "20", "--max-steps", "3", "--no-progress"]
print(get_preset(PRESET))
if not FULL:
    print("smoke run: random weights; the full run would add --imagenet-weights timm, which fetches "
          "timm's hrnet_w18.ms_in1k from the Hugging Face hub")
run(launcher + args)

# %% [markdown]
# ## 3. Watch it
#
# TensorBoard reads `OUT/tensorboard`: in a terminal `tensorboard --logdir runs/`, or in
# Jupyter / Colab:
#
# ```python
# %load_ext tensorboard
# %tensorboard --logdir runs/
# ```
#
# The same scalars are in `OUT/train.csv` (and `OUT/val.csv`), which we plot directly:

# %%
rows = read_log(out / "train.csv")
fig, axes = plt.subplots(1, 3, figsize=(14, 3.2))
for ax, key in zip(axes, ["loss", "lr", "step_time"]):
    ax.plot([r["step"] for r in rows], [r[key] for r in rows], ".-")
    ax.set_title(key)
    ax.set_xlabel("step")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Evaluate
#
# The paper's protocol on the five benchmarks (download them with
# `python -m ritm_lite.data.download grabcut berkeley davis sbd pascal-voc --root data/`):
#
# ```bash
# python -m ritm_lite.evaluate --checkpoint runs/w18/checkpoints/last.pth --dataset GrabCut --data-root data/GrabCut
# ```

# %%
checkpoint = out / "checkpoints" / "last.pth"
grabcut_root = benchmark_folder("GrabCut", download=FULL)  # prints which data it uses
if grabcut_root is not None:
    extra = [] if FULL else ["--limit", "2", "--max-clicks", "2", "--no-zoom-in", "--no-flip", "--quiet"]
    run([sys.executable, "-m", "ritm_lite.evaluate", "--checkpoint", str(checkpoint), "--dataset", "GrabCut",
         "--data-root", str(grabcut_root), "--json", str(out / "grabcut.json"), *extra])
else:
    print("No evaluation without GrabCut (the line above says what a download would fetch).")

# %% [markdown]
# ## Exercise
#
# The original starts Conv1S's output scale at 0.05 (`hrnet18_cocolvis_itermask`); the course's
# CPU preset starts it at 1.0, because after 148 CPU steps at 0.05 the clicks still hardly moved
# the output (the model card). Change the scale and look at what the clicks add to the stem at
# the start of training.
# Replace the `...` below with your answer and run the next cell: it says **right**, or
# **not yet** with a hint.

# %%
from ritm_lite import course

print(course.task("10.conv1s_scale"))

# %% tags=["exercise"]
answer = ...  # exercise 10.conv1s_scale: your answer here

# %%
course.check("10.conv1s_scale", answer)

# %%
if answer is not ...:
    maps = (torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(0)) > 0.95).float()  # sparse click maps
    for scale in (0.05, 1.0):
        torch.manual_seed(0)
        with torch.no_grad():
            added = answer(scale).eval()(maps)
        print(f"init_scale {scale}: the clicks add features of mean size {added.abs().mean():.4f} to the stem")
    print("the presets:", {name: get_preset(name).conv1s_init_scale
                           for name in ("hrnet18_cocolvis_itermask", "efficientnet_lite0_cpu")})
