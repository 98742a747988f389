"""Per-click latency of each fast-inference technique, against the plain eager model.

Every row is the Predictor with flip averaging and ZoomIn fixed to one crop size (the
original's ``fixed400`` mode: each click, the first included, is one forward pass of a
``(2, 4, h, w)`` batch), on a random 480x854 image, the same two clicks every time (the
predictor is reset before each click, so the crop and thus the RGB input stay the same, as
they do while ZoomIn keeps its box). Median over ``--repeats`` clicks after ``--warmup``;
the techniques take turns click by click, so that other work on a shared machine slows all
rows alike.

Techniques (each row adds to the one before, except where it says otherwise):

    eager            the plain model, as trained (torch.no_grad, NCHW, BatchNorm layers)
    inference_mode   the same under torch.inference_mode
    fold_bn          FastRITM: BatchNorm (and Conv1S's scale) folded into the convolutions
    channels_last    ... and NHWC memory format
    image_cache      ... and the image-only stem features reused while the crop is unchanged
                     (= optimize_for_inference(model), the default)
    compile          ... and torch.compile of the click-dependent part (opt-in: --compile;
                     minutes of compilation per input shape on a 2-core CPU)
    fp16             FastRITM under float16 autocast (CUDA only)
    cuda_graphs      FastRITM + torch.compile(mode="reduce-overhead") (CUDA only, --compile)
    bf16             FastRITM under bf16 autocast on the CPU (only where the CPU runs bf16
                     natively: elsewhere it is emulated, many times slower, and the row is skipped)
    onnxruntime      the exported ONNX file run by ONNX Runtime (CPU), `threads` intra-op threads
    ort_int8         ONNX Runtime on the int8 file of ritm_lite.inference.precision.quantize_onnx,
                     calibrated on this benchmark's own clicks (timing only: the accuracy is
                     measured with `python -m ritm_lite.evaluate --backend int8`)
    ort_split        ONNX Runtime, each of the flip pair's two images on its own thread
                     with one intra-op thread (CPU, 2 threads only)

Columns: ``ms/click`` is the whole ``predict`` call (transforms, model, copies back to NumPy),
``best ms`` the fastest click, ``model ms`` the model call alone (median); ``GFLOP/s`` is the
plain model's FLOPs per click (the same work for every row) divided by ``model ms``;
``speed-up`` is eager's ms/click over the row's.

    python benchmarks/fast_inference.py                             # CPU 2 and 1 threads (+CUDA)
    python benchmarks/fast_inference.py --presets hrnet18 --threads 2 --repeats 5
    python benchmarks/fast_inference.py --devices cuda --compile    # on a GPU machine

Timings mean something only on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from benchmarks import flags  # noqa: E402
from benchmarks.timing import TimedModel  # noqa: E402
from ritm_lite import MODEL_PRESETS, build_model
from ritm_lite.inference import Predictor, ZoomInConfig
from ritm_lite.inference.fast import FastRITM
from ritm_lite.inference.precision import isa_summary, native_bf16

CPU_TECHNIQUES = [
    "eager",
    "inference_mode",
    "fold_bn",
    "channels_last",
    "image_cache",
    "compile",
    "bf16",
    "onnxruntime",
    "ort_split",
    "ort_int8",
]
CUDA_TECHNIQUES = ["eager", "image_cache", "fp16", "bf16", "compile", "cuda_graphs"]
IMAGE_SHAPE = (480, 854, 3)
COORDS = np.array([[427.0, 240.0], [100.0, 400.0]])
LABELS = np.array([1, 0])


def build_network(
    technique: str,
    model: nn.Module,
    device: torch.device,
    threads: int,
    onnx_path: Callable[[], Path],
) -> nn.Module:
    """The model to give the Predictor for one technique."""
    if technique in ("eager", "inference_mode"):
        return model
    if technique == "fold_bn":
        return FastRITM(model, channels_last=False, cache_image_features=False)
    if technique == "channels_last":
        return FastRITM(model, channels_last=True, cache_image_features=False)
    if technique == "image_cache":
        return FastRITM(model)
    if technique == "compile":
        return FastRITM(model, compile_mode="default")
    if technique == "cuda_graphs":
        return FastRITM(model, compile_mode="reduce-overhead")
    if technique in ("fp16", "bf16"):
        return FastRITM(model, dtype=torch.float16 if technique == "fp16" else torch.bfloat16)
    from ritm_lite.inference.onnx_export import OnnxRuntimeModel

    if technique == "onnxruntime":
        return OnnxRuntimeModel(onnx_path(), threads=threads)
    if technique == "ort_split":
        return OnnxRuntimeModel(onnx_path(), threads=1, split_batch=True)
    if technique == "ort_int8":
        return OnnxRuntimeModel(int8_path(model, onnx_path()), threads=threads)
    raise ValueError(f"unknown technique {technique!r}")


def int8_path(model: nn.Module, float_path: Path) -> Path:
    """The int8 file of ``float_path``, calibrated on the benchmark's own interaction."""
    import warnings

    from ritm_lite.data.benchmarks import Sample
    from ritm_lite.inference.precision import calibration_inputs, quantize_onnx

    path = float_path.with_suffix(".int8.onnx")
    if not path.exists():
        image = np.random.default_rng(0).integers(0, 256, IMAGE_SHAPE, dtype=np.uint8)
        gt = np.zeros(IMAGE_SHAPE[:2], np.int32)
        gt[120:360, 200:650] = 1
        inputs = calibration_inputs(model, [Sample(image, gt, "benchmark")], objects=1, max_clicks=4,
                                    zoom_in=ZoomInConfig(target_size=400, skip_clicks=-1), flip=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the ISA line of the table says what the CPU has
            quantize_onnx(float_path, path, inputs)
    return path


def one_click(predictor: Predictor, inference_mode: bool) -> tuple[float, float]:
    """(predict wall time, model time) in seconds for one click from a reset predictor."""
    predictor.reset()
    predictor.model.seconds = 0.0  # a TimedModel: the network's time, measured around its call
    start = time.perf_counter()
    with torch.inference_mode() if inference_mode else torch.no_grad():
        predictor.predict(COORDS, LABELS)
    return time.perf_counter() - start, predictor.model.seconds


def measure(
    preset: str,
    device: torch.device,
    threads: int,
    size: tuple[int, int],
    techniques: list[str],
    args: argparse.Namespace,
) -> list[dict]:
    """One row per technique. Clicks are interleaved (one click of every technique per round),
    so that a burst of other work on a shared machine slows all rows alike."""
    torch.manual_seed(0)
    model = build_model(preset).eval().to(device)
    image = np.random.default_rng(0).integers(0, 256, IMAGE_SHAPE, dtype=np.uint8)
    zoom = ZoomInConfig(target_size=size, skip_clicks=-1)
    exported: list[Path] = []

    def onnx_path() -> Path:
        if not exported:
            from ritm_lite.inference.onnx_export import export_onnx

            exported.append(export_onnx(model, Path(args.onnx_dir) / f"{preset}.onnx"))
        return exported[0]

    techniques = [t for t in techniques if not (t == "ort_split" and threads != 2)]
    if device.type == "cpu" and "bf16" in techniques and not native_bf16():
        techniques.remove("bf16")
        print("(bf16 skipped: this CPU emulates it)", flush=True)
    predictors, first = {}, {}
    flops = None
    for technique in techniques:
        network = build_network(technique, model, device, threads, onnx_path)
        predictor = Predictor(TimedModel(network), zoom_in=zoom, flip=True)
        predictor.set_image(image)
        if flops is None:  # the plain model's work per click, the same for every row
            with FlopCounterMode(display=False) as counter:
                predictor.predict(COORDS, LABELS)
            flops = counter.get_total_flops()
        first[technique] = one_click(predictor, False)[0]  # compilation, session warm-up
        predictors[technique] = predictor
    times: dict[str, list[tuple[float, float]]] = {t: [] for t in techniques}
    for round_ in range(args.warmup + args.repeats):
        for technique, predictor in predictors.items():
            timing = one_click(predictor, technique == "inference_mode")
            if round_ >= args.warmup:
                times[technique].append(timing)

    rows = []
    for technique in techniques:
        wall = statistics.median(t[0] for t in times[technique])
        model_s = statistics.median(t[1] for t in times[technique])
        rows.append(
            {
                "technique": technique,
                "preset": preset,
                "device": f"cpu x{threads}"
                if device.type == "cpu"
                else torch.cuda.get_device_name(),
                "size": f"{size[0]}x{size[1]}",
                "first_s": first[technique],
                "wall_ms": 1e3 * wall,
                "best_ms": 1e3 * min(t[0] for t in times[technique]),
                "model_ms": 1e3 * model_s,
                "gflop_per_s": flops / 1e9 / model_s,
            }
        )
    eager = next((r["wall_ms"] for r in rows if r["technique"] == "eager"), float("nan"))
    for row in rows:
        row["speedup"] = eager / row["wall_ms"]
        print(_row(row), flush=True)
    return rows


COLUMNS = [  # (key, title, format)
    ("technique", "technique", "<14"),
    ("preset", "model", "<8"),
    ("device", "device", "<16"),
    ("size", "crop", "<7"),
    ("wall_ms", "ms/click", ">8.1f"),
    ("best_ms", "best ms", ">7.1f"),
    ("model_ms", "model ms", ">8.1f"),
    ("gflop_per_s", "GFLOP/s", ">7.1f"),
    ("speedup", "speed-up", ">8.2f"),
    ("first_s", "1st click s", ">11.1f"),
]


def _row(values: dict, header: bool = False) -> str:
    cells = []
    for key, _, spec in COLUMNS:
        if header:
            spec = spec[0] + spec[1:].split(".")[0]  # titles: keep alignment and width
        cells.append(format(values[key], spec))
    return "| " + " | ".join(cells) + " |"


def _size(text: str) -> tuple[int, int]:
    """``400`` -> (400, 400); ``480x854`` -> (480, 854)."""
    height, _, width = text.partition("x")
    side = flags.count(32, flags.MAX_SIDE)
    return side(height), side(width or height)


def _sizes(text: str) -> list[tuple[int, int]]:
    """A comma list of :func:`_size` crops."""
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("give at least one size, e.g. 400 or 480x854")
    return [_size(part.strip()) for part in parts]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", type=flags.names(MODEL_PRESETS), default="efficientnet_lite0,hrnet18s,hrnet18")
    parser.add_argument("--devices", type=flags.devices, default="auto", help="cpu, cuda or auto (cpu + cuda if any)")
    parser.add_argument("--threads", type=flags.counts(1, flags.MAX_THREADS), default="2,1", help="CPU thread counts to run")
    parser.add_argument("--cpu-sizes", type=_sizes, default="400", help="ZoomIn crops on CPU: 400, 480x854")
    parser.add_argument("--cuda-sizes", type=_sizes, default="400,480x854", help="ZoomIn crops on CUDA")
    parser.add_argument("--techniques", type=flags.names(dict.fromkeys(CPU_TECHNIQUES + CUDA_TECHNIQUES)), help="comma list (default: all but compile)")
    parser.add_argument("--compile", action="store_true", help="add the torch.compile rows")
    parser.add_argument("--warmup", type=flags.count(0, 1000), default=3)
    parser.add_argument("--repeats", type=flags.count(1), default=15)
    parser.add_argument("--onnx-dir", help="where ONNX files go (default: a new temporary folder)")
    args = parser.parse_args(argv)
    args.onnx_dir = args.onnx_dir or tempfile.mkdtemp(prefix="ritm_onnx_")
    devices = args.devices
    print(
        f"torch {torch.__version__}, {isa_summary()}; "
        f"flip + ZoomIn fixed crop; warm-up {args.warmup}, median of {args.repeats} clicks"
    )
    header = {key: title for key, title, _ in COLUMNS}
    print(_row(header, header=True))
    print("|" + "|".join("-" * len(cell) for cell in _row(header, True).split("|")[1:-1]) + "|")
    for device_name in devices:
        device = torch.device(device_name)
        if device.type == "cuda":
            techniques, sizes, thread_counts = (
                CUDA_TECHNIQUES,
                args.cuda_sizes,
                [torch.get_num_threads()],
            )
        else:
            techniques, sizes = CPU_TECHNIQUES, args.cpu_sizes
            thread_counts = args.threads
        if args.techniques:
            techniques = [t for t in args.techniques if t in techniques]
        elif not args.compile:
            techniques = [t for t in techniques if t not in ("compile", "cuda_graphs")]
        for threads in thread_counts:
            torch.set_num_threads(threads)
            for preset in args.presets:
                for size in sizes:
                    measure(preset, device, threads, size, techniques, args)
                    print(f"(load average {os.getloadavg()[0]:.2f})", flush=True)


if __name__ == "__main__":
    main()
