"""Does training wait on data? Data-loader throughput next to one training step's time.

Measures, at the training crop size (320x480) and the original augmentation chain + click
sampler:

* samples/s of ``DataLoader`` over ``FolderDataset(COCO_MVal)`` with 0 and 2 workers (or over
  generated 640x480 JPEG photos when COCO_MVal is not found: ``ritm_lite.data.locate``);
* the time of one training step of ``hrnet18s`` (forward + NFL/BCE losses + backward + Adam)
  at the same batch size, and the samples/s that implies.

Training waits on data when the loader's samples/s is below the step's. Run from the project
root::

    python benchmarks/data_loader.py                 # defaults: batch 4, 64 samples per run
    python benchmarks/data_loader.py --batch-size 8 --workers 0 2 4 --device cuda

Numbers depend on the machine and on what else runs on it: report them with the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import flags  # noqa: E402
from ritm_lite import MODEL_PRESETS  # noqa: E402
from ritm_lite.data.datasets import CocoLvisDataset, DatasetConfig, FolderDataset
from ritm_lite.losses import normalized_focal_loss, sigmoid_binary_cross_entropy
from ritm_lite.data.locate import benchmark_folder


class GeneratedJpegSource:
    """640x480 generated photos kept as JPEG bytes, decoded on every load like real files."""

    def __init__(self, count: int = 32, seed: int = 0):
        gen = np.random.default_rng(seed)
        self.items = []
        for _ in range(count):
            image = cv2.GaussianBlur(gen.integers(0, 255, (480, 640, 3), dtype=np.uint8), (0, 0), 3)
            masks = []
            for _ in range(int(gen.integers(2, 6))):
                mask = np.zeros((480, 640), np.uint8)
                centre = (int(gen.integers(80, 560)), int(gen.integers(80, 400)))
                axes = (int(gen.integers(30, 150)), int(gen.integers(30, 150)))
                cv2.ellipse(mask, centre, axes, float(gen.integers(180)), 0, 360, 1, -1)
                image[mask > 0] = gen.integers(0, 255, 3)
                masks.append(cv2.imencode(".png", mask)[1])
            self.items.append((cv2.imencode(".jpg", image)[1], masks))

    def __len__(self) -> int:
        return len(self.items)

    def load_image(self, index: int) -> np.ndarray:
        return cv2.cvtColor(cv2.imdecode(self.items[index][0], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def load_masks(self, index: int) -> list[np.ndarray]:
        return [cv2.imdecode(m, cv2.IMREAD_GRAYSCALE) > 0 for m in self.items[index][1]]

    def object_areas(self, index: int) -> list[int]:
        return [int(m.sum()) for m in self.load_masks(index)]


def build_dataset(samples: int):
    config = DatasetConfig.train(crop_size=(320, 480), epoch_len=samples)
    coco_mval = benchmark_folder("COCO_MVal")  # prints which data, or what is missing
    if coco_mval is not None:
        return FolderDataset(coco_mval, config=config, seed=0), f"COCO_MVal ({coco_mval})"
    print("using generated 640x480 JPEG photos instead")
    return CocoLvisDataset(GeneratedJpegSource(), config, seed=0), "generated JPEGs"


def loader_throughput(dataset, batch_size: int, workers: int) -> tuple[float, float]:
    """(samples/s after the first batch, seconds to the first batch)."""
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, shuffle=False)
    start = time.perf_counter()
    iterator = iter(loader)
    next(iterator)
    first = time.perf_counter() - start
    count, start = 0, time.perf_counter()
    for batch in iterator:
        count += len(batch["images"])
    return count / (time.perf_counter() - start), first


def train_step_time(batch: dict, preset: str, device: torch.device, steps: int) -> float | None:
    """Mean seconds of forward + losses + backward + Adam step, after one warm-up step."""
    try:
        from ritm_lite import build_model
    except ImportError:
        return None
    torch.manual_seed(0)
    model = build_model(preset).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    images = batch["images"].to(device)
    inputs = torch.cat([images, torch.zeros_like(images[:, :1])], dim=1)  # no previous mask
    points, labels = batch["points"].to(device), batch["instances"].to(device)

    def step():
        output = model(inputs, points)
        loss = normalized_focal_loss(output["instances"], labels).mean()
        loss = loss + 0.4 * sigmoid_binary_cross_entropy(output["instances_aux"], labels).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=flags.count(1, 4096), default=4)
    parser.add_argument("--samples", type=flags.count(1, 100_000), default=64, help="samples per loader run")
    parser.add_argument("--workers", type=flags.count(0, 64), nargs="+", default=[0, 2])
    parser.add_argument("--model", default="hrnet18s", choices=sorted(MODEL_PRESETS))
    parser.add_argument("--steps", type=flags.count(1, 10_000), default=3, help="timed training steps")
    parser.add_argument("--device", type=flags.device, default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.batch_size > args.samples:
        parser.error(f"--batch-size ({args.batch_size}) cannot exceed --samples ({args.samples})")

    dataset, source = build_dataset(args.samples)
    device = torch.device(args.device)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}; "
          f"data: {source}; crop 320x480; batch {args.batch_size}")

    rows = []
    for workers in args.workers:
        rate, first = loader_throughput(dataset, args.batch_size, workers)
        rows.append((f"DataLoader, {workers} workers", rate, f"first batch after {first:.2f} s"))
    batch = next(iter(DataLoader(dataset, batch_size=args.batch_size)))
    seconds = train_step_time(batch, args.model, device, args.steps)
    if seconds is None:
        rows.append((f"train step {args.model}", float("nan"), "model not available"))
    else:
        rows.append((f"train step {args.model} ({device.type})", args.batch_size / seconds,
                     f"{1000 * seconds:.0f} ms per step of {args.batch_size}"))

    print(f"\n| {'what':34s} | {'samples/s':>9s} | note")
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 30}")
    for what, rate, note in rows:
        print(f"| {what:34s} | {rate:9.1f} | {note}")


if __name__ == "__main__":
    main()
