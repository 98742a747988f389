"""Does a checkpoint follow its clicks? How far the clicks move its output, on validation crops.

For each checkpoint: on the first ``--samples`` validation crops of COCO_MVal (the training
CLI's split and crops for ``--preset``, previous mask zero), the largest change in
probability between the sampler's clicks and no clicks at all, and the IoU at 0.49 with the
clicks. A network that has learned only an image prior (a salient-object mask) moves by a few
hundredths; one that follows clicks, by tenths.

    python benchmarks/click_effect.py runs/a/checkpoints/epoch_001.pth runs/b/checkpoints/epoch_001.pth
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import flags  # noqa: E402
from ritm_lite.model.checkpoint import load_checkpoint  # noqa: E402
from ritm_lite.train import build_datasets  # noqa: E402
from ritm_lite.data.locate import benchmark_folder  # noqa: E402
from ritm_lite.training.config import TRAINING_PRESETS, get_preset  # noqa: E402


def click_effect(checkpoint: Path, val_set, samples: int) -> tuple[list[float], list[float]]:
    """Per sample: ``max |p(clicks) - p(no clicks)|`` and the IoU of ``p(clicks) > 0.49``."""
    model = load_checkpoint(checkpoint)
    effects, ious = [], []
    for i in range(samples):
        sample = val_set[i]
        image = torch.cat([sample["images"][None], torch.zeros(1, 1, *sample["images"].shape[-2:])], dim=1)
        points = sample["points"][None]
        with torch.no_grad():
            with_clicks = torch.sigmoid(model(image, points)["instances"])[0, 0]
            without = torch.sigmoid(model(image, torch.full_like(points, -1))["instances"])[0, 0]
        gt, pred = sample["instances"][0] > 0.5, with_clicks > 0.49
        ious.append(((pred & gt).sum() / (pred | gt).sum().clamp(min=1)).item())
        effects.append((without - with_clicks).abs().max().item())
    return effects, ious


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--preset", default="efficientnet_lite0_cpu", choices=sorted(TRAINING_PRESETS), help="training preset (crops, split)")
    parser.add_argument("--data", type=Path, help="img/ + gt/ folder (default: COCO_MVal in $RITM_DATA, else data/)")
    parser.add_argument("--samples", type=flags.count(1, 10_000), default=6)
    parser.add_argument("--threads", type=flags.count(1, flags.MAX_THREADS), default=1)
    args = parser.parse_args(argv)
    missing = [str(c) for c in args.checkpoints if not c.is_file()]
    if missing:
        parser.error(f"no checkpoint file {missing[0]}")
    torch.set_num_threads(args.threads)
    data = args.data or benchmark_folder("COCO_MVal")
    if data is None:
        parser.error("--data is required (COCO_MVal was not found)")
    _, val_set = build_datasets(data, get_preset(args.preset))
    print(f"| checkpoint | Conv1S scale | max change from the clicks (per crop) | IoU at 0.49 (per crop) |")
    print("| --- | --- | --- | --- |")
    for checkpoint in args.checkpoints:
        effects, ious = click_effect(checkpoint, val_set, args.samples)
        scale = load_checkpoint(checkpoint).conv1s[3]
        value = torch.abs(scale.scale * scale.lr_mult).item()
        print(f"| {checkpoint} | {value:.3f} | {' '.join(f'{e:.2f}' for e in effects)} (mean {np.mean(effects):.3f}) "
              f"| {' '.join(f'{v:.2f}' for v in ious)} |")


if __name__ == "__main__":
    main()
