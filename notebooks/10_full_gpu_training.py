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
# On one GPU (Colab or a workstation) Run All does the whole run from this notebook alone:
# it downloads and merges COCO 2017 + LVIS v1 (about 19.5 GB; a rerun continues the download),
# trains with its checkpoints in one folder that outlives the session (Google Drive on Colab)
# and continues from them when run again, and evaluates on the paper's five benchmarks. It
# first estimates the time and GPU memory of the full schedule and of a short one (about one
# GPU hour) from the model's measured FLOPs. On a machine without a GPU — such as the one that
# runs the course's tests — the notebook says so and runs the very same commands at a tiny
# "smoke" size on the CPU, on generated COCO and LVIS files (set `RITM_SMOKE=1` before starting
# Jupyter to run the smoke size on a GPU machine).

# %% [markdown]
# ## What you will learn
#
# * the paper's training on COCO + LVIS, on one or several GPUs, from the download on
# * the original schedule (epochs, learning rates, batch sizes), a short one, and how to resume
# * what a schedule costs in GPU time and memory, estimated from FLOPs before it runs
# * how to evaluate the result on the five benchmarks with the command line of notebook 08
#
# **Assumes:** notebooks 05-08; a machine with a CUDA GPU for the full run.
# **Time:** without a GPU, Run All takes about 35 seconds on a 2-core CPU (the commands at smoke
# size; measured 2026-12-07 on a busy machine); on one GPU, the cost table below estimates the run: about an
# hour (short schedule) to many hours (full), plus the download.
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
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from ritm_lite.data.download import fetch, fetch_plan
from ritm_lite.data.locate import benchmark_folder, shown_path
from ritm_lite.training.config import get_preset
from ritm_lite.training.logs import read_log
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
ON_COLAB = "google.colab" in sys.modules


def run(cmd: list) -> None:
    """Run a command from the project's folder, streaming its output into the notebook; stop
    on failure. It is echoed as you would type it there: ``python`` for this kernel's Python,
    paths relative to the project (``shown_path``; the command runs with the project as its
    working folder, so the relative paths are the ones it gets)."""
    cmd = ["python" if part == sys.executable else shown_path(part) if isinstance(part, Path) else str(part)
           for part in cmd]
    print("$", " ".join(cmd))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable if part == "python" else part for part in cmd], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env, cwd=PROJECT_ROOT)
    for line in process.stdout:
        print(line, end="")
    if process.wait() != 0:
        raise RuntimeError(f"command failed with exit code {process.returncode}")


# %% [markdown]
# ## 1. One folder for everything
#
# The data (about 40 GB at the peak, while COCO's 18 GB archive is unpacked beside its contents;
# about 20 GB after) and the checkpoints go into one
# folder, `WORK`, so that a second session finds both: the download continues where it stopped,
# the merge is not redone, and training continues from its last checkpoint.
#
# * **Colab**: a runtime's disk is wiped when it ends, so `WORK` is a folder of your Google
#   Drive (the notebook asks to mount it). It needs that much free space on the Drive; with less,
#   set `WORK` to `Path("/content/ritm_lite_work")` (fast, but lost with the runtime) and copy
#   `runs/` to the Drive yourself.
# * **A workstation**: the project's own folder, so data goes to `data/` and runs to `runs/`.
# * **Smoke size** (no GPU): `runs/notebook10_smoke/`.

# %%
if FULL and ON_COLAB:
    from google.colab import drive

    drive.mount("/content/drive")
    WORK = Path("/content/drive/MyDrive/ritm_lite")
elif FULL:
    WORK = PROJECT_ROOT
else:
    WORK = PROJECT_ROOT / "runs" / "notebook10_smoke"
DATA, RUNS = WORK / "data", WORK / "runs"
print("data:", shown_path(DATA), "| checkpoints and logs:", shown_path(RUNS))

# %% [markdown]
# ## 2. Data: COCO 2017 + LVIS v1, downloaded and merged
#
# The training set is COCO 2017's training images with the masks of COCO and LVIS merged
# (notebook 05; paper, Sec. 4). The notebook downloads them with the course's downloader
# (`ritm_lite.data.download`, the same as `python -m ritm_lite.data.download coco2017 lvis-v1
# --root data/` in a terminal): it first prints the plan (each file, its size, where it comes
# from, where it goes), then fetches with a progress bar. COCO's 18 GB image archive streams to
# `data/.downloads/train2017.zip.part`; if the session ends, running the cell again continues
# that file where it stopped, and whatever is already unpacked is skipped. Then the merge (about
# ten minutes, 0.5 GB), done once:
#
# ```bash
# python -m ritm_lite.data.coco_lvis --coco data/coco2017/annotations/instances_train2017.json \
#     --lvis data/lvis/lvis_v1_train.json --images data/coco2017 --out data/coco_lvis --split train
# ```
#
# At smoke size nothing is downloaded: the plan is printed, and the generated COCO and LVIS
# sample files (`data/samples`, notebook 05) stand in for the real ones in the same merge command.

# %%
DATASETS = ("coco2017", "lvis-v1")
print(fetch_plan(DATASETS, DATA, show=shown_path))
if FULL:
    for name in DATASETS:
        fetch(name, DATA)  # skips what is there; resumes COCO's train2017.zip
    coco, lvis, images = (DATA / "coco2017" / "annotations" / "instances_train2017.json",
                          DATA / "lvis" / "lvis_v1_train.json", DATA / "coco2017")
else:
    print("smoke size: no download; the generated samples in data/samples stand in for COCO and LVIS")
    samples = PROJECT_ROOT / "data" / "samples"
    coco, lvis, images = (samples / "coco" / "annotations" / "instances_train2017.json",
                          samples / "lvis" / "lvis_v1_train.json", samples / "coco")
merged = DATA / "coco_lvis"
if not (merged / "train" / "summary.json").exists():
    run([sys.executable, "-m", "ritm_lite.data.coco_lvis", "--coco", coco, "--lvis", lvis,
         "--images", images, "--out", merged, "--split", "train"])
print("merged training split:", json.loads((merged / "train" / "summary.json").read_text())["images"])

# %% [markdown]
# ## 3. The schedule, and what it costs
#
# `PRESET` picks the model (the table above); `SCHEDULE = "full"` is the original ITER-M schedule: 230 epochs of 30,000 samples, learning
# rate /10 at epochs 200 and 220. `"short"` is the same recipe over 15 epochs (450,000
# samples, the milestones scaled to epochs 13 and 14: `ritm_lite.training.budget.shortened`):
# about one hour on a T4 by the estimate below, enough for a model that segments and a real NoC
# on the five benchmarks, far from the paper's numbers.
#
# No GPU was lent to measure these runs, so the table **estimates** them from numbers measured
# here (`ritm_lite.training.budget`):
#
# * **time** = FLOPs / (assumed sustained TFLOP/s), with
#   FLOPs = training samples x F x (3 + n/2) + validation samples x F x (1 + n/2):
#   F is one forward pass on a 320x480 crop (counted with `ritm_lite.model.flops.count_flops`),
#   forward + backward cost 3 F, and the iterative clicks (notebook 07) add on average n/2 = 1.5
#   forward passes without gradients. The sustained rate is an **assumption**: `UTILISATION` x
#   the card's published dense fp16/bf16 peak; HRNet's many thin convolutions rarely use more.
#   The data loader must also keep up with the "samples/s needed" column; on Colab's two CPU
#   cores it may not, and then it sets the pace.
# * **memory** = 16 bytes x parameters (fp32 weights, gradients, Adam's two moments) + batch x
#   the activations autograd keeps for one crop, measured in fp32 on this CPU; bf16 keeps most
#   of them in half the space, and the CUDA context adds about 1 GiB.
#
# The trainer's `train.csv` then gives the real seconds per step ("Watch it" below).

# %%
from ritm_lite.model.build import build_model
from ritm_lite.model.flops import count_flops, count_parameters
from ritm_lite.training.budget import activation_bytes, cost_markdown, cost_table, shortened

PRESET = "hrnet18_cocolvis_itermask"
SCHEDULE = "short"  # "short" (about one GPU hour) or "full" (the paper's schedule)
UTILISATION = 0.25  # assumed fraction of the GPU's peak that training sustains
SCHEDULES = {"full": get_preset(PRESET), "short": shortened(get_preset(PRESET), epochs=15)}
config = SCHEDULES[SCHEDULE]

model = build_model(config.model, init=False)
height, width = config.crop_size
forward_flops = count_flops(model, height, width)
crop_bytes = activation_bytes(model, height, width)
print(f"{config.model}: {count_parameters(model) / 1e6:.2f} M parameters, {forward_flops / 1e9:.1f} GFLOPs per "
      f"{height}x{width} forward pass, {crop_bytes / 2**30:.2f} GiB of fp32 activations per crop (measured)")
print(f"estimate, assuming {UTILISATION:.0%} of each GPU's peak:")
display(Markdown(cost_markdown(cost_table(SCHEDULES, forward_flops, count_parameters(model), crop_bytes, UTILISATION))))
del model

# %% [markdown]
# ## 4. Launch, and resume
#
# One GPU:
#
# ```bash
# python -m ritm_lite.train --preset hrnet18_cocolvis_itermask --data data/coco_lvis --out runs/w18_short \
#     --epochs 15 --milestones 13 14 --imagenet-weights timm
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
# `--imagenet-weights hrnetv2_w18_imagenet_pretrained.pth`. On CUDA the trainer uses bf16 (fp16
# where bf16 is missing) and channels_last.
#
# The schedule becomes command-line flags (`ritm_lite.train.config_to_args`: only what differs
# from the preset). The checkpoints go to `WORK/runs/<run>/checkpoints`: `last.pth` is refreshed
# every 500 steps, so when the session ends, running the notebook again continues the run exactly
# with `--resume` (which starts from the run's own weights, so the ImageNet weights are not named
# again). At smoke size the same command trains three steps on tiny crops on the CPU, from a fresh
# folder each time.

# %%
from ritm_lite.train import config_to_args

out = RUNS / f"w18_{SCHEDULE}"
print(f"schedule {SCHEDULE!r}: {config.epochs} epochs of {config.epoch_len:,} samples, learning rate /10 at epochs "
      f"{config.milestones}, batch {config.batch_size}, crops {config.crop_size[0]}x{config.crop_size[1]}")
if FULL:
    launcher = ["torchrun", f"--nproc_per_node={GPUS}", "-m", "ritm_lite.train"] if GPUS > 1 else [sys.executable, "-m", "ritm_lite.train"]
    extra = []
else:
    config = config.replace(crop_size=(64, 96), batch_size=2, epoch_len=4, epochs=2, workers=0, min_object_area=20)
    shutil.rmtree(out, ignore_errors=True)
    launcher = [sys.executable, "-m", "ritm_lite.train"]
    extra = ["--device", "cpu", "--max-steps", "3", "--no-progress"]
    print("smoke size: the same command on tiny crops, 3 steps on the CPU, random weights, in a fresh folder")
if (out / "checkpoints" / "last.pth").exists():
    start = ["--resume"]  # continue this run from its last checkpoint
elif FULL:
    weights = DATA / "hrnetv2_w18_imagenet_pretrained.pth"  # a file of your own wins
    start = ["--imagenet-weights", weights if weights.exists() else "timm"]
else:
    start = []  # smoke size: random weights (the full run fetches timm's hrnet_w18.ms_in1k)
run(launcher + ["--preset", PRESET, *config_to_args(config, PRESET), "--data", merged, "--out", out, *start, *extra])

# %% [markdown]
# ## 5. Watch it
#
# TensorBoard reads `OUT/tensorboard`: in a terminal `tensorboard --logdir runs/`, or in
# Jupyter / Colab:
#
# ```python
# %load_ext tensorboard
# %tensorboard --logdir runs/
# ```
#
# The same scalars are in `OUT/train.csv` (and `OUT/val.csv`), which we plot directly. The
# measured seconds per step, beside the cost table's estimate, say how far the assumption was off.

# %%
rows = read_log(out / "train.csv")
fig, axes = plt.subplots(1, 3, figsize=(14, 3.2))
for ax, key in zip(axes, ["loss", "lr", "step_time"]):
    ax.plot([r["step"] for r in rows], [r[key] for r in rows], ".-")
    ax.set_title(key)
    ax.set_xlabel("step")
plt.tight_layout()
plt.show()
step_time = sorted(r["step_time"] for r in rows)[len(rows) // 2]
print(f"measured: {step_time:.3f} s per step of {config.batch_size} samples (median over {len(rows)} logged steps"
      f"{'' if FULL else ', on the CPU at smoke size'})")

# %% [markdown]
# ## 6. Evaluate on the five benchmarks
#
# The paper's protocol (notebook 08; paper, Sec. 5: automatic clicker, ZoomIn, flip, up to 20
# clicks) on GrabCut, Berkeley, DAVIS, SBD and PascalVOC, with the evaluation command line;
# `benchmark_folder` finds each benchmark (in `$RITM_DATA`, then `data/`) and, on the GPU run,
# downloads the missing ones (GrabCut 11 MB, Berkeley 7 MB, DAVIS 43 MB, SBD 1.4 GB, PascalVOC
# 1.9 GB). The table puts the NoC beside the published one of the preset's released checkpoint
# (the original repository's README). At smoke size the model has seen three steps of toy data:
# it evaluates two objects with two clicks on each benchmark found, and says which were skipped.
#
# ```bash
# python -m ritm_lite.evaluate --checkpoint runs/w18_short/checkpoints/last.pth --dataset GrabCut
# ```

# %%
from ritm_lite.evaluation.report import published_comparison

checkpoint = out / "checkpoints" / "last.pth"
BENCHMARKS = ("GrabCut", "Berkeley", "DAVIS", "SBD", "PascalVOC")
table: dict = {}
for name in BENCHMARKS:
    if benchmark_folder(name, download=FULL) is None:  # prints which data it uses, or why there is none
        table[name] = "not downloaded (smoke size downloads nothing)" if not FULL else "download failed (see above)"
        continue
    result = out / "eval" / f"{name}.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    protocol = [] if FULL else ["--limit", "2", "--max-clicks", "2", "--no-zoom-in", "--no-flip"]
    run([sys.executable, "-m", "ritm_lite.evaluate", "--checkpoint", checkpoint, "--dataset", name,
         "--json", result, "--quiet", *protocol])
    table[name] = json.loads(result.read_text())["table"]
display(Markdown(published_comparison(table, PRESET)))

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
