"""Fine-tuning on your own masks: the course weights, a few CPU minutes, NoC before and after.

**The folder** (the one place its layout is written down; the training CLI's ``img/`` + ``gt/``
data, laid out as COCO_MVal is)::

    my_folder/
        img/<name>.jpg   a photo (.jpg .jpeg .png .bmp .tif .tiff), any size
        gt/<name>.png    its object's mask: the same <name>, the same width and height,
                         0 background and 255 object (grey >= 128 is the object; a 0/1
                         label map is read too: ritm_lite.data.masks.read_mask)

* **One mask per object.** A photo with several objects is stored once per object, named
  ``{anything}{k}_{photo id}`` as COCO_MVal is (``cat01_000123`` and ``dog02_000123`` are two
  objects of photo ``000123``): masks of one photo are trained together (the other objects
  give negative clicks) and are always on the same side of the held-out split. Any other name
  is a photo of its own.
* **Checked before any training** (:func:`check_folder`): a missing ``img/`` or ``gt/``, a
  photo without a mask or a mask without a photo, a mask with no object pixel, a mask of
  another size than its photo, and a file that cannot be decoded (not an image, truncated)
  are each an error naming the file.

**What** :func:`fine_tune` **does.**

1. Splits the folder by photo: ``held_out_fraction`` of the photo ids (shuffled by the
   config's ``seed``) are never trained on. It is the training CLI's ``--val-fraction`` split
   (:func:`ritm_lite.train.folder_split`), so the command line below holds out the same photos.
2. Measures NoC on the held-out objects with the starting weights (the course's
   ``efficientnet_lite0_course`` by default): the automatic clicker, ZoomIn and flip, up to
   20 clicks (:func:`~ritm_lite.evaluation.loop.evaluate_dataset`). Both measurements run the
   bare network (:func:`ritm_lite.model.checkpoint.load_checkpoint`): settings a checkpoint
   stores for click time (the course weights' two scales and refinement pass,
   :mod:`ritm_lite.inference.settings`) are left out of both, so the two differ by the
   training alone; the fine-tuned checkpoint stores none.
3. Trains from those weights with the course preset (:class:`~ritm_lite.training.trainer.Trainer`,
   iterative training with mask guidance) for ``steps`` steps or ``minutes`` minutes,
   whichever ends first, and writes ``out/checkpoints/last.pth``.
4. Measures NoC on the same held-out objects with the fine-tuned weights.

The same run on the command line (:func:`command_lines` writes the two commands of a run)::

    python -m ritm_lite.train --preset efficientnet_lite0_cpu --data my_folder --out runs/mine \\
        --init-checkpoint ritm_lite/weights/efficientnet_lite0_course.pth --val-fraction 0.2 --max-minutes 5
    python -m ritm_lite.evaluate --checkpoint runs/mine/checkpoints/last.pth --dataset COCO_MVal \\
        --data-root my_folder --training-split val --val-fraction 0.2 --split-seed 0
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.benchmarks import Benchmark, coco_mval
from ..data.files import image_mask_pairs, read_rgb
from ..evaluation.loop import DatasetResult, evaluate_dataset
from ..evaluation.report import format_table
from ..model.checkpoint import load_checkpoint
from ..model.ritm import RITMModel
from ..train import build_datasets, config_to_args, folder_split, initial_model
from ..weights import COURSE_CHECKPOINT
from .config import TrainConfig, get_preset
from .trainer import Trainer

FINE_TUNE_PRESET = "efficientnet_lite0_cpu"
"""The training preset of fine-tuning: the one the course weights were trained with."""


def check_folder(folder: str | Path) -> list[tuple[Path, Path, str]]:
    """``(photo, mask, name)`` of every object of ``folder``, once the folder passes the
    module docstring's checks (sizes, empty masks and unreadable headers are checked by
    :class:`~ritm_lite.data.datasets.FolderDataset`, which :func:`fine_tune` builds next;
    here: the layout, the pairing, and every photo decoded once, so that a truncated file is
    named now rather than minutes into training).

    Raises:
        FileNotFoundError: no ``img/`` or ``gt/`` folder, a photo without a mask, a mask
            without a photo, or no photos.
        ValueError: a photo that cannot be decoded (the message names it).
    """
    folder = Path(folder)
    for sub in ("img", "gt"):
        if not (folder / sub).is_dir():
            raise FileNotFoundError(f"{folder} has no {sub}/ folder: fine-tuning reads photos from img/ and "
                                    "their 0/255 masks from gt/ (the layout: ritm_lite.training.fine_tune)")
    pairs = image_mask_pairs(folder, "img", "gt")
    for photo, _, _ in pairs:
        read_rgb(photo)
    return pairs


def held_out_benchmark(folder: str | Path, held_out: list[str]) -> Benchmark:
    """The objects ``held_out`` (mask stems) of ``folder`` as a benchmark, one sample each."""
    benchmark = coco_mval(folder).subset(held_out)
    benchmark.name = "held-out"
    return benchmark


def evaluate_noc(model: RITMModel, benchmark: Benchmark, max_clicks: int = 20, zoom_in: bool = True,
                 flip: bool = True, progress: bool = True, desc: str = "held-out objects") -> DatasetResult:
    """NoC of ``model`` (a bare network) on ``benchmark``: the paper's protocol with ZoomIn and
    flip (each can be off)."""
    from ..inference import Predictor

    return evaluate_dataset(benchmark, Predictor(model, zoom_in=zoom_in, flip=flip), max_clicks=max_clicks,
                            progress=progress, desc=desc)


@dataclass
class FineTuneResult:
    """What :func:`fine_tune` did.

    Attributes:
        before, after: NoC of the starting and the fine-tuned weights on the held-out objects.
        train_names, held_out_names: the mask stems on each side of the split (disjoint photos).
        steps: optimisation steps taken; seconds: wall time of the training (not of the NoC).
        checkpoint: the fine-tuned weights (``out/checkpoints/last.pth``, a training checkpoint
            that :func:`ritm_lite.load_checkpoint` and ``python -m ritm_lite.evaluate`` read).
        log: one dict per step (``loss``, ``iou``, ...), as ``out/train.csv``.
    """

    before: DatasetResult
    after: DatasetResult
    train_names: list[str]
    held_out_names: list[str]
    steps: int
    seconds: float
    checkpoint: Path
    log: list[dict[str, Any]]

    def table(self) -> str:
        """The paper's table: one row before, one after."""
        return format_table({"before (start weights)": self.before, f"after {self.steps} steps": self.after},
                            "held-out")


def fine_tune(folder: str | Path, out: str | Path, steps: int | None = None, minutes: float | None = None,
              checkpoint: str | Path = COURSE_CHECKPOINT, config: TrainConfig | None = None,
              held_out_fraction: float = 0.2, max_clicks: int = 20, zoom_in: bool = True, flip: bool = True,
              progress: bool = True) -> FineTuneResult:
    """Fine-tune ``checkpoint`` on ``folder`` for ``steps`` steps or ``minutes`` minutes (whichever
    ends first), with NoC before and after on the held-out photos (the module docstring).

    Args:
        folder: photos and masks in the layout of the module docstring.
        out: run folder (``checkpoints/last.pth``, ``train.csv``, TensorBoard logs).
        steps, minutes: the budget; at least one. A time budget stops after the step that
            crosses it.
        checkpoint: the starting weights (default: the course's EfficientNet-Lite0).
        config: the training recipe (default: the preset :data:`FINE_TUNE_PRESET`); its ``seed``
            also shuffles the held-out split. Its model must be the checkpoint's.
        held_out_fraction: share of the photos never trained on, in (0, 1).
        max_clicks, zoom_in, flip: the NoC protocol (the paper's: 20, on, on).
        progress: tqdm bars for training and evaluation.

    Raises:
        FileNotFoundError, ValueError: a bad folder (naming the file), no budget, a held-out
            fraction that leaves no photo on one side, or a checkpoint of another architecture.
    """
    if steps is None and minutes is None:
        raise ValueError("give a budget: steps, minutes or both (whichever ends first)")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if minutes is not None and not minutes > 0:  # also NaN
        raise ValueError(f"minutes must be positive, got {minutes!r}")
    if not 0.0 < held_out_fraction < 1.0:
        raise ValueError(f"held_out_fraction must be in (0, 1), got {held_out_fraction}")
    config = get_preset(FINE_TUNE_PRESET) if config is None else config
    folder = Path(folder)
    check_folder(folder)
    train_names, held_out = folder_split(folder, held_out_fraction, config.seed)
    if not train_names or not held_out:
        side = "training" if not train_names else "the held-out part"
        raise ValueError(f"held_out_fraction={held_out_fraction} leaves no photo for {side} in {folder} "
                         f"({len(train_names) + len(held_out)} masks): add photos or change the fraction")
    train_set, _ = build_datasets(folder, config, held_out_fraction)  # checks every mask (FolderDataset)
    benchmark = held_out_benchmark(folder, held_out)

    model = initial_model(Path(checkpoint), config)
    before = evaluate_noc(model, benchmark, max_clicks, zoom_in, flip, progress, desc="before")
    trainer = Trainer(config, train_set, out, model=model, max_steps=steps, max_minutes=minutes, progress=progress)
    started = time.perf_counter()
    trainer.fit()  # writes last.pth when it stops (budget or last epoch)
    seconds = time.perf_counter() - started
    tuned = load_checkpoint(trainer.last_checkpoint)
    after = evaluate_noc(tuned, benchmark, max_clicks, zoom_in, flip, progress, desc="after")
    log = list(trainer.log.rows.get("train", [])) if trainer.log is not None else []
    return FineTuneResult(before, after, train_names, held_out, trainer.state.global_step, seconds,
                          trainer.last_checkpoint, log)


def command_lines(folder: str | Path, out: str | Path, steps: int | None = None, minutes: float | None = None,
                  checkpoint: str | Path = COURSE_CHECKPOINT, config: TrainConfig | None = None,
                  held_out_fraction: float = 0.2, max_clicks: int = 20, zoom_in: bool = True,
                  flip: bool = True) -> tuple[list[str], list[str]]:
    """The argument lists of ``python -m ritm_lite.train`` and ``python -m ritm_lite.evaluate``
    that do what :func:`fine_tune` does with the same arguments (training, then the NoC of the
    fine-tuned weights on the same held-out objects)."""
    config = get_preset(FINE_TUNE_PRESET) if config is None else config
    train = ["--preset", FINE_TUNE_PRESET, "--data", str(folder), "--out", str(out),
             "--init-checkpoint", str(checkpoint), "--val-fraction", str(held_out_fraction),
             *config_to_args(config, FINE_TUNE_PRESET)]
    train += ["--max-steps", str(steps)] if steps is not None else []
    train += ["--max-minutes", str(minutes)] if minutes is not None else []
    evaluate = ["--checkpoint", str(Path(out) / "checkpoints" / "last.pth"), "--dataset", "COCO_MVal",
                "--data-root", str(folder), "--training-split", "val", "--val-fraction", str(held_out_fraction),
                "--split-seed", str(config.seed), "--max-clicks", str(max_clicks)]
    evaluate += [] if zoom_in else ["--no-zoom-in"]
    evaluate += [] if flip else ["--no-flip"]
    return train, evaluate
