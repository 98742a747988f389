"""The paper's Table 4 measured here: parameters and GFLOPs of each model at 400x400.

Rows: HRNet-W18 (``hrnet18``), DeepLabV3+ ResNet-34 (``deeplab_r34``), HRNet-W18-small
(``hrnet18s``) — the paper's three — and the course's default ``efficientnet_lite0`` (not in
the paper). Parameters by ``count_parameters`` (BatchNorm statistics excluded), FLOPs by
``count_flops`` (PyTorch's FlopCounterMode: a multiply-add is 2 FLOPs, convolutions and
matrix products only) for one ``(1, 4, H, W)`` input with one click. The measuring is
:func:`ritm_lite.model.flops.complexity_table`; this script only prints it.

    python benchmarks/complexity.py
    python benchmarks/complexity.py --size 480 854 --presets deeplab_r34,hrnet18

Counts, not timings: the numbers are the same on every machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from benchmarks import flags  # noqa: E402
from ritm_lite import MODEL_PRESETS  # noqa: E402
from ritm_lite.model.flops import complexity_markdown, complexity_table  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", type=flags.names(MODEL_PRESETS), default="hrnet18,deeplab_r34,hrnet18s,efficientnet_lite0")
    parser.add_argument("--size", type=flags.count(32, flags.MAX_SIDE), nargs=2, default=[400, 400], metavar=("H", "W"))
    args = parser.parse_args(argv)
    height, width = args.size
    command = "python benchmarks/complexity.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    print(f"`{command.strip()}`; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    rows = complexity_table(tuple(args.presets), height, width)
    print(complexity_markdown(rows, height, width))


if __name__ == "__main__":
    main()
