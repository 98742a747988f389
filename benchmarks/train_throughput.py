"""Training throughput per preset: images/s, and where the time goes.

Runs the real trainer (iterative click simulation included) for a few steps per model preset
and reads its own per-step timings: time waiting for data, time simulating clicks (the eval
forward passes of iterative training plus the CPU distance transforms), and the whole step.
It compares the two memory formats (NCHW, and NHWC = the config's ``channels_last``, the
trainer's default on every device) and, on CUDA, fp32 with mixed precision (bf16 where supported).

    python benchmarks/train_throughput.py                      # CPU, W18-small and W18
    python benchmarks/train_throughput.py --presets efficientnet_lite0 --crop 448 448 --batch 8
    python benchmarks/train_throughput.py --device cuda --presets hrnet18s hrnet18 hrnet32

Data: COCO_MVal where ``ritm_lite.data.locate`` finds it ($RITM_DATA, else data/), else the
generated samples in data/samples/mval.
The first ``--warmup`` steps of each run are not counted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import flags  # noqa: E402
from ritm_lite.train import build_datasets  # noqa: E402
from ritm_lite.training.config import get_preset  # noqa: E402
from ritm_lite.training.distributed import DistEnv  # noqa: E402
from ritm_lite.training.trainer import Trainer  # noqa: E402
from ritm_lite.data.locate import benchmark_folder  # noqa: E402
from ritm_lite.utils import PROJECT_ROOT  # noqa: E402

TRAIN_PRESETS = {"hrnet18s": "hrnet18s_cocolvis_itermask", "hrnet18": "hrnet18_cocolvis_itermask",
                 "hrnet32": "hrnet32_cocolvis_itermask", "efficientnet_lite0": "efficientnet_lite0_cpu"}


def data_root() -> Path:
    return benchmark_folder("COCO_MVal") or PROJECT_ROOT / "data" / "samples" / "mval"


def measure(preset: str, device: str, amp: bool, channels_last: bool, batch: int, crop: tuple[int, int], steps: int,
            warmup: int, workers: int) -> dict[str, float]:
    config = get_preset(TRAIN_PRESETS[preset]).replace(
        batch_size=batch, crop_size=crop, epoch_len=batch * (steps + warmup), epochs=1, workers=workers,
        amp=amp, channels_last=channels_last, checkpoint_every_steps=10**9, min_object_area=100)
    train_set, _ = build_datasets(data_root(), config)
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(config, train_set, out, env=DistEnv(device=torch.device(device)), progress=False)
        trainer._train_epoch(0)  # one epoch, no checkpoint at the end
        rows = trainer.log.rows["train"][warmup:]
        trainer.log.close()
    step = statistics.median(r["step_time"] + r["data_time"] for r in rows)
    return {
        "images/s": batch / step,
        "step s": step,
        "data %": 100 * statistics.median(r["data_time"] for r in rows) / step,
        "clicks %": 100 * statistics.median(r["click_time"] for r in rows) / step,
        "clicks/batch": statistics.mean(r["clicks_added"] for r in rows),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", type=flags.device, default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--presets", nargs="+", default=["hrnet18s", "hrnet18"], choices=sorted(TRAIN_PRESETS))
    parser.add_argument("--batch", type=flags.count(1, 4096), default=None, help="default: 4 on CPU, the preset's on CUDA")
    parser.add_argument("--crop", type=flags.count(32, 4096), nargs=2, default=(320, 480))
    parser.add_argument("--steps", type=flags.count(1, 10_000), default=4)
    parser.add_argument("--warmup", type=flags.count(0, 1000), default=1)
    parser.add_argument("--workers", type=flags.count(0, 64), default=2)
    args = parser.parse_args(argv)

    cuda = args.device.startswith("cuda")
    precisions = [False, True] if cuda else [False]
    print(f"device: {torch.cuda.get_device_name() if cuda else 'CPU'} ({torch.get_num_threads()} threads), "
          f"crop {args.crop[0]}x{args.crop[1]}, data: {data_root()}")
    print(f"{'preset':17s} {'precision':9s} {'memory':6s} {'batch':>5s} {'images/s':>9s} {'step s':>7s} "
          f"{'data %':>7s} {'clicks %':>8s} {'clicks/batch':>12s}")
    for preset in args.presets:
        batch = args.batch or (get_preset(TRAIN_PRESETS[preset]).batch_size if cuda else 4)
        for amp in precisions:
            for channels_last in (False, True):
                r = measure(preset, args.device, amp, channels_last, batch, tuple(args.crop), args.steps,
                            args.warmup, args.workers)
                precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if amp else "fp32"
                memory = "NHWC" if channels_last else "NCHW"
                print(f"{preset:17s} {precision:9s} {memory:6s} {batch:5d} {r['images/s']:9.2f} {r['step s']:7.2f} "
                      f"{r['data %']:7.1f} {r['clicks %']:8.1f} {r['clicks/batch']:12.2f}")


if __name__ == "__main__":
    main()
