"""Run the paper's ablations at course scale: one arm and seed at a time, resumable.

Each arm (``ritm_lite.paper_claims.ARMS``) trains the course's EfficientNet-Lite0 model on the
COCO_MVal training split at the same budget (default 300 steps of 8 crops of 320x320 at
image scale 0.625, the last third at the learning rate x0.1; ``--duts-share`` draws that share
of the samples from DUTS-TR, ``data/DUTS-TR``), then is scored with the
evaluation CLI (ZoomIn, no flip) on GrabCut and on COCO_MVal's validation split. One JSON per
arm, seed and budget goes to ``benchmarks/results/ablations/``; a run whose JSON exists is
skipped, and a run stopped part-way continues from its last checkpoint (``--work``) when the
same command is given again. Notebook 11 reads the JSONs.

    python benchmarks/ablations.py --arms base conv1e scratch --seeds 0 1     # ~20 min per arm and seed
    python benchmarks/ablations.py                                            # every arm, seeds 0 and 1
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import flags  # noqa: E402
from ritm_lite.data.locate import benchmark_folder  # noqa: E402
from ritm_lite.paper_claims import ARMS, Budget, metric, run_arm  # noqa: E402
from ritm_lite.utils import PROJECT_ROOT  # noqa: E402

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "ablations"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", type=flags.count(0, 2**31 - 1), nargs="+", default=[0, 1])
    defaults = Budget()
    parser.add_argument("--steps", type=flags.count(1, 10**7), default=defaults.steps)
    parser.add_argument("--epochs", type=flags.count(1, 10**6), default=defaults.epochs, help="the steps split into this many epochs")
    parser.add_argument("--batch-size", type=flags.count(1, 4096), default=defaults.batch_size)
    parser.add_argument("--crop-size", type=flags.count(32, 4096), nargs=2, default=list(defaults.crop_size), metavar=("H", "W"))
    parser.add_argument("--image-scale", type=flags.number(0.1, 4.0, include_low=True), default=defaults.image_scale)
    parser.add_argument("--duts-share", type=flags.number(0.0, 1.0, include_low=True), default=defaults.duts_share,
                        help="the share of samples drawn from DUTS-TR (in --data); the rest from COCO_MVal's training split")
    parser.add_argument("--data", type=Path, help="folder with COCO_MVal, GrabCut and DUTS-TR (default: where "
                        "ritm_lite.data.locate finds COCO_MVal: $RITM_DATA, else data/)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / "runs" / "ablations", help="checkpoints")
    parser.add_argument("--progress", action="store_true", help="progress bars")
    args = parser.parse_args(argv)
    if args.epochs > args.steps:
        parser.error(f"--epochs ({args.epochs}) cannot exceed --steps ({args.steps})")
    try:
        budget = Budget(steps=args.steps, epochs=args.epochs, batch_size=args.batch_size,
                        crop_size=tuple(args.crop_size), image_scale=args.image_scale, duts_share=args.duts_share)
    except ValueError as err:
        parser.error(str(err))
    coco_mval = None if args.data else benchmark_folder("COCO_MVal")
    data = args.data or (coco_mval.parent if coco_mval else None)
    if data is None:
        parser.error("--data is required (COCO_MVal was not found)")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}; budget {budget}")
    for seed in args.seeds:
        for name in args.arms:
            path = args.results / f"{name}_seed{seed}_{budget.tag()}.json"
            if path.exists():
                print(f"{path} exists: skipped")
                continue
            started = time.perf_counter()
            record = run_arm(name, seed, budget, data, args.results, args.work, progress=args.progress)
            scores = "; ".join(
                f"{key}: NoC@85/90 {metric(record, key, 'NoC@85'):.2f}/{metric(record, key, 'NoC@90'):.2f}, "
                f"mIoU@1 {metric(record, key, 'mIoU@1'):.3f}, mIoU@1-20 {metric(record, key, 'mIoU@1-20'):.3f}"
                for key in record["evaluate"])
            print(f"{name} seed {seed}: {(time.perf_counter() - started) / 60:.1f} min "
                  f"(median step {np.round(record['train']['median_step_seconds'], 2)} s); {scores} -> {path}",
                  flush=True)


if __name__ == "__main__":
    main()
