"""Per-click latency of the predictor, and the FLOP rate it achieves.

For HRNet-W18-small and HRNet-W18 (random weights: speed does not depend on them), with and
without flip averaging, the predictor runs with ZoomIn fixed at 400x400 (the original's
``fixed400`` mode: every click, including the first, sees a 400x400 crop), so each click is
one forward of a (1 or 2, 4, 400, 400) input. After warm-up clicks, the median over repeated
clicks of

* ``predict`` wall time (transforms, model, copies back to NumPy), and
* the model call alone (what the paper's "seconds per click" counts),

are printed with the FLOPs of one click (``torch.utils.flop_counter.FlopCounterMode`` around
a whole ``predict`` call: convolutions and matrix products, multiply-add = 2) and the FLOP
rate, FLOPs / median model time.

    python benchmarks/click_latency.py                     # CPU, and CUDA when available
    python benchmarks/click_latency.py --devices cpu --repeats 5 --threads 1

On a CPU shared with other work, pass ``--threads 1``: PyTorch's busy-waiting worker threads
stall each other when the cores are oversubscribed (2 threads measured 3-20x slower than 1
thread on a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # run from a checkout without installing

from benchmarks import flags  # noqa: E402
from benchmarks.timing import TimedModel  # noqa: E402
from ritm_lite import MODEL_PRESETS, build_model
from ritm_lite.inference import Predictor, ZoomInConfig

CROP = 400  # the paper's ZoomIn size


def measure(preset: str, flip: bool, device: torch.device, warmup: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = TimedModel(build_model(preset).to(device))  # the network's time, measured around its call
    predictor = Predictor(
        model,
        zoom_in=ZoomInConfig(target_size=(CROP, CROP), skip_clicks=-1),
        flip=flip,
    )
    image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    predictor.set_image(image)
    coords, labels = np.array([[320.0, 240.0], [100.0, 400.0]]), np.array([1, 0])

    with FlopCounterMode(display=False) as counter:
        predictor.predict(coords, labels)
    flops = counter.get_total_flops()

    walls, models = [], []
    for i in range(warmup + repeats):
        predictor.reset()  # same work every click: the 400x400 crop of the whole image
        model.seconds = 0.0
        start = time.perf_counter()
        predictor.predict(coords, labels)
        wall = time.perf_counter() - start
        if i >= warmup:
            walls.append(wall)
            models.append(model.seconds)
    model_s = statistics.median(models)
    return {
        "preset": preset,
        "flip": flip,
        "device": device.type if device.type == "cpu" else torch.cuda.get_device_name(device),
        "batch": 2 if flip else 1,
        "gflops": flops / 1e9,
        "wall_ms": 1e3 * statistics.median(walls),
        "model_ms": 1e3 * model_s,
        "gflop_per_s": flops / 1e9 / model_s,
    }


COLUMNS = [  # (key, title, format)
    ("preset", "model", "<9"),
    ("flip", "flip", "<4"),
    ("device", "device", "<22"),
    ("batch", "batch", ">5"),
    ("gflops", "GFLOPs/click", ">12.2f"),
    ("wall_ms", "ms/click", ">9.1f"),
    ("model_ms", "model ms", ">9.1f"),
    ("gflop_per_s", "GFLOP/s", ">8.1f"),
]


def _row(values: dict, header: bool = False) -> str:
    cells = []
    for key, _, spec in COLUMNS:
        value = values[key]
        if header:
            spec = spec[0] + spec[1:].split(".")[0]  # titles are text: keep alignment and width
        elif key == "flip":
            value = "yes" if value else "no"
        elif key == "device":
            value = value[:22]
        cells.append(format(value, spec))
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", type=flags.names(MODEL_PRESETS), default="hrnet18s,hrnet18")
    parser.add_argument(
        "--devices", type=flags.devices, default="auto", help="comma list of cpu/cuda; auto = cpu (+cuda if present)"
    )
    parser.add_argument("--warmup", type=flags.count(0, 1000), default=3)
    parser.add_argument("--repeats", type=flags.count(1), default=10)
    parser.add_argument("--threads", type=flags.count(1, flags.MAX_THREADS), help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices

    print(
        f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}, "
        f"ZoomIn crop {CROP}x{CROP}, warm-up {args.warmup}, median of {args.repeats} clicks"
    )
    print(_row({key: title for key, title, _ in COLUMNS}, header=True))
    print("-" * len(_row({key: title for key, title, _ in COLUMNS}, header=True)))
    with torch.no_grad():
        for device in devices:
            for preset in args.presets:
                for flip in (False, True):
                    result = measure(preset, flip, torch.device(device), args.warmup, args.repeats)
                    print(_row(result), flush=True)

if __name__ == "__main__":
    main()
