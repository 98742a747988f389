"""From scratch, how fast does the network learn to follow clicks, per Conv1S initial scale?

The original starts Conv1S's learnable output scale at 0.05, so that the click branch barely
disturbs an ImageNet-pretrained stem. Trained from scratch (the course's CPU run: no ImageNet
weights), the click signal then starts 20x weaker than the image's. This script measures the
effect on a task that *cannot* be solved without the click: two identical ellipses on noise, the
click says which one is the object (ignoring the click caps the IoU near 0.5). It runs the real
trainer (NFL + aux loss, Adam, backbone at the full learning rate) and prints the training IoU
per block of steps for each initial scale.

    python benchmarks/conv1s_init_scale.py                   # scales 0.05 and 1.0, 150 steps
    python benchmarks/conv1s_init_scale.py --scales 0.05 0.25 1.0 --steps 300
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import flags  # noqa: E402
from ritm_lite.clicks import Click, points_array  # noqa: E402
from ritm_lite.training.config import get_preset  # noqa: E402
from ritm_lite.training.trainer import Trainer  # noqa: E402


class TwoEllipses(Dataset):
    """Item (epoch, i): two equal bright ellipses on noise; one positive click picks the object.

    Returns ``images (3, H, W)``, ``points (2 * 4, 3)``, ``instances (1, H, W)``.
    """

    def __init__(self, length: int, size: tuple[int, int] = (48, 64)) -> None:
        self.length, self.size, self.epoch = length, size, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.epoch, index])
        h, w = self.size
        rows, cols = np.mgrid[:h, :w]
        centres = [(rng.uniform(0.25, 0.75) * h, rng.uniform(0.12, 0.35) * w),
                   (rng.uniform(0.25, 0.75) * h, rng.uniform(0.65, 0.88) * w)]
        masks = [((rows - cy) / (0.18 * h)) ** 2 + ((cols - cx) / (0.1 * w)) ** 2 <= 1 for cy, cx in centres]
        pick = int(rng.integers(2))
        image = rng.uniform(0, 0.3, (3, h, w)) + 0.6 * (masks[0] | masks[1])
        cy, cx = centres[pick]
        points = points_array([Click(x=round(cx), y=round(cy), is_positive=True)], num_points=4)
        return {"images": torch.from_numpy(image.astype(np.float32)), "points": torch.from_numpy(points),
                "instances": torch.from_numpy(masks[pick].astype(np.float32))[None]}


def train_ious(scale: float, steps: int, seed: int) -> list[float]:
    """Per-step training IoU of a fresh HRNet-W18-small with this Conv1S initial scale."""
    config = get_preset("course").replace(
        crop_size=(48, 64), batch_size=8, epochs=1, epoch_len=8 * steps, max_num_points=4,
        max_num_next_clicks=0, backbone_lr_mult=1.0, conv1s_init_scale=scale, workers=0,
        checkpoint_every_steps=10**9, val_interval=0, seed=seed)
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(config, TwoEllipses(8 * steps), out, progress=False)
        trainer.fit()
        return [row["iou"] for row in trainer.log.rows["train"]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=flags.number(0.0, 1000.0), nargs="+", default=[0.05, 1.0])
    parser.add_argument("--steps", type=flags.count(1, 10**6), default=150)
    parser.add_argument("--block", type=flags.count(1, 10**6), default=25, help="steps per printed column")
    parser.add_argument("--threads", type=flags.count(1, flags.MAX_THREADS), default=1)
    parser.add_argument("--seed", type=flags.count(0, 2**31 - 1), default=0)
    args = parser.parse_args(argv)
    if args.block > args.steps:
        parser.error(f"--block ({args.block}) cannot exceed --steps ({args.steps})")
    torch.set_num_threads(args.threads)
    blocks = range(0, args.steps, args.block)
    print(f"training IoU (mean over {args.block} steps), HRNet-W18-small from scratch, two-ellipse task, "
          f"{args.threads} thread(s)")
    print("| Conv1S init scale | " + " | ".join(f"steps {b + 1}-{b + args.block}" for b in blocks) + " |")
    print("| --- |" + " --- |" * len(blocks))
    for scale in args.scales:
        ious = train_ious(scale, args.steps, args.seed)
        cells = [f"{statistics.fmean(ious[b:b + args.block]):.3f}" for b in blocks]
        print(f"| {scale:g} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
