"""The paper's Conv1S argument at an equal CPU budget: pretrained vs scratch, Conv1S vs Conv1E.

RITM adds the clicks through a separate branch (Conv1S) after the backbone's first
convolution, so that an ImageNet-pretrained backbone keeps its weights. This script trains
the course's EfficientNet-Lite0 model three ways, with everything else equal (the
``efficientnet_lite0_course`` preset: data, crops, batch, steps, seed):

    imagenet_conv1s   ImageNet trunk + Conv1S (the course's model)
    scratch_conv1s    the same architecture from timm's random initialisation + Conv1S
    imagenet_conv1e   ImageNet trunk + Conv1E (one 3x3 stride-2 conv on the maps, added at the
                      same place, trained with the backbone's rate, as the original's
                      ``conv_extend`` does)

and scores each on the COCO_MVal validation split (the training CLI's split by image id):
mean IoU after 1..5 automatic clicks, no ZoomIn, no flip. One JSON per arm and seed goes to
``benchmarks/results/conv1s_argument/`` (an arm whose file exists is skipped: rerun to
continue); notebook 02 reads them.

    python benchmarks/conv1s_argument.py --steps 400 --seeds 0 1         # ~20 min per arm and seed
    python benchmarks/conv1s_argument.py --arms imagenet_conv1e --steps 400 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ritm_lite.data.benchmarks import load_benchmark  # noqa: E402
from ritm_lite.data.datasets import split_by_image_id  # noqa: E402
from ritm_lite.evaluation import evaluate_dataset  # noqa: E402
from ritm_lite.inference import Predictor  # noqa: E402
from ritm_lite.model import Conv1E, build_model  # noqa: E402
from ritm_lite.model.pretrained import load_imagenet  # noqa: E402
from ritm_lite.train import build_datasets  # noqa: E402
from ritm_lite.training.config import TrainConfig, get_preset  # noqa: E402
from ritm_lite.training.trainer import Trainer  # noqa: E402
from ritm_lite.utils import PROJECT_ROOT, shared_dir  # noqa: E402

ARMS = ("imagenet_conv1s", "scratch_conv1s", "imagenet_conv1e")
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "conv1s_argument"


def arm_model(arm: str, config: TrainConfig) -> torch.nn.Module:
    """The arm's starting model (seeded by ``config.seed``)."""
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; choose from {ARMS}")
    torch.manual_seed(config.seed)
    model = build_model(config.model_config())
    if arm.endswith("conv1e"):
        model.maps_transform = Conv1E(in_channels=3, out_channels=model.feature_extractor.stem_channels)
    if arm.startswith("imagenet"):
        load_imagenet(model)
    return model


def val_miou(model: torch.nn.Module, data: Path, config: TrainConfig, clicks: int, limit: int | None) -> list[float]:
    """Mean IoU after 1..``clicks`` automatic clicks on the validation split (no ZoomIn, no flip)."""
    benchmark = load_benchmark("COCO_MVal", data)
    _, val_names = split_by_image_id(benchmark.names, 0.2, seed=config.seed)
    result = evaluate_dataset(benchmark.subset(val_names), Predictor(model.eval(), zoom_in=False, flip=False),
                              target_iou=1.01, max_clicks=clicks, limit=limit, desc="validation")
    return [float(v) for v in result.mean_iou_per_click()]


def run_arm(arm: str, seed: int, args: argparse.Namespace) -> dict:
    config = get_preset("efficientnet_lite0_course").replace(
        seed=seed, epochs=1, epoch_len=args.steps * args.batch_size, batch_size=args.batch_size,
        crop_size=tuple(args.crop_size), checkpoint_every_steps=10**9, val_interval=0, workers=args.workers)
    train_set, _ = build_datasets(args.data, config)
    model = arm_model(arm, config)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(config, train_set, out, model=model, progress=not args.quiet)
        trainer.fit()
        rows = trainer.log.rows["train"]
    wall = time.perf_counter() - started
    return {
        "arm": arm, "seed": seed, "steps": args.steps, "batch_size": args.batch_size,
        "crop_size": list(config.crop_size), "train_seconds": wall,
        "command": "python benchmarks/conv1s_argument.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "train_iou": [row["iou"] for row in rows], "train_loss": [row["loss"] for row in rows],
        "val_miou_per_click": val_miou(trainer.model, args.data, config, args.clicks, args.val_limit),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop-size", type=int, nargs=2, default=[320, 320])
    parser.add_argument("--clicks", type=int, default=5)
    parser.add_argument("--val-limit", type=int, help="score only the first N validation objects")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--data", type=Path, help="img/ + gt/ folder (default: ../shared/data/COCO_MVal)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if args.data is None:
        if shared_dir() is None:
            parser.error("--data is required (../shared/data/COCO_MVal is not here)")
        args.data = shared_dir() / "data" / "COCO_MVal"
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for arm in args.arms:
            path = args.out / f"{arm}_seed{seed}.json"
            if path.exists():
                print(f"{path} exists: skipped")
                continue
            record = run_arm(arm, seed, args)
            path.write_text(json.dumps(record, indent=1))
            miou = record["val_miou_per_click"]
            print(f"{arm} seed {seed}: {record['train_seconds'] / 60:.1f} min, validation mIoU per click "
                  + " ".join(f"{v:.3f}" for v in miou) + f" (mean {np.mean(miou):.3f}) -> {path}")


if __name__ == "__main__":
    main()
