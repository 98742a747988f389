"""What bf16 and int8 cost in accuracy, against float32, on this CPU.

Two tables (``ritm_lite.inference.precision``; the speed rows are ``benchmarks/fast_inference.py``'s):

1. **The reference fixture's weights** (the original code's HRNet-W18-small and W18,
   ``$RITM_REFERENCE``, see ``ritm_lite.data.locate``): the fixture's own input (320x480, 24 positive and
   24 negative clicks, a previous mask) through float32 eager, bf16
   (``FastRITM(model, dtype=torch.bfloat16)``) and int8 (ONNX Runtime, calibrated on the
   predictor's inputs for ``--calibration-objects`` COCO_MVal training objects, and on the
   fixture's input itself): the largest and the mean |probability difference| against float32
   and the share of pixels whose side of 0.49 changes. The fixture's weights are random, so
   photos are not their input distribution (the fixture's input is uniform noise): the second
   int8 row is quantisation alone, with in-distribution ranges. A yardstick row gives float32
   on the input with its RGB rounded to 1/255 (what every 8-bit photo already is): how
   sensitive the weights themselves are.
2. **GrabCut with the course weights**, the paper's protocol (ZoomIn 400 px, flip, 20 clicks):
   ``python -m ritm_lite.evaluate --backend B`` for each backend, its JSON under
   ``benchmarks/results/`` (the paper's protocol alone, without the settings the course weights
   store, ``multi_scale`` and ``refine``: the network is saved without them to a temporary file
   first, so the precisions are compared on the network, not on its wrappers); NoC@85 / NoC@90 and their change against float32 with the paired
   standard error over the 50 objects, and the largest change of the mean IoU at any click.

    python benchmarks/precision.py                        # both tables, ~5 min on a 2-core AVX-512 CPU
    python benchmarks/precision.py --skip-grabcut         # the fixture table only

bf16 is skipped (and said so) where the CPU emulates it: there it takes many times longer and
measures nothing anyone would run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the golden fixtures' loader

from benchmarks import flags  # noqa: E402
from ritm_lite.data.benchmarks import load_benchmark
from ritm_lite.data.datasets import split_by_image_id
from ritm_lite.inference import (
    FastRITM,
    ZoomInConfig,
    precision,
)
from ritm_lite.evaluate import BACKENDS
from ritm_lite.data.locate import benchmark_folder, reference_folder
from ritm_lite.utils import PROJECT_ROOT
from model_support import load_reference_fixture  # noqa: E402 (tests/model_support.py)

RESULTS = PROJECT_ROOT / "benchmarks" / "results"
THRESHOLD = 0.49


def probability_differences(reference: torch.Tensor, other: torch.Tensor) -> dict[str, float]:
    """``reference`` / ``other``: ``(B, 1, H, W)`` logits. max and mean |dp|, share of pixels
    on the other side of the threshold."""
    p, q = torch.sigmoid(reference), torch.sigmoid(other)
    return {
        "max_dp": (q - p).abs().max().item(),
        "mean_dp": (q - p).abs().mean().item(),
        "flipped": ((q > THRESHOLD) != (p > THRESHOLD)).float().mean().item(),
    }


def fixture_table(reference_dir: Path, coco_mval: Path, calibration_objects: int) -> None:
    from ritm_lite.inference.onnx_export import OnnxRuntimeModel, export_onnx, ort_feed

    print("\n| fixture weights | path | max abs dp | mean abs dp | pixels flipped at 0.49 |")
    print("| --- | --- | --- | --- | --- |")
    data = load_benchmark("COCO_MVal", coco_mval)
    train, _ = split_by_image_id(data.names, 0.2, seed=0)
    for preset in ("hrnet18s", "hrnet18"):
        model, record = load_reference_fixture(reference_dir, preset)
        image, points = record["input"], record["points"]
        with torch.no_grad():
            exact = model(image, points)["instances"]
        rows = {}
        with torch.no_grad():  # a yardstick: what a photo's own 8-bit rounding does to these weights
            rounded = torch.cat([(image[:, :3] * 255).round() / 255, image[:, 3:]], dim=1)
            rows["float32, RGB rounded to 1/255 (yardstick)"] = model(rounded, points)["instances"]
        if precision.native_bf16():
            with torch.no_grad():
                rows["bf16 (FastRITM autocast)"] = FastRITM(model, dtype=torch.bfloat16)(image, points)["instances"]
        else:
            print(f"| {preset} | bf16 | skipped: emulated on this CPU | | |")
        with tempfile.TemporaryDirectory(prefix="ritm_precision_") as folder:
            float_path = export_onnx(model, Path(folder) / "model.onnx")
            rows["float32 ONNX Runtime"] = OnnxRuntimeModel(float_path)(image, points)["instances"]
            calibrations = {
                "photos": precision.calibration_inputs(model, data.subset(train), objects=calibration_objects,
                                                       zoom_in=ZoomInConfig(target_size=400), flip=True),
                "the fixture's input": [ort_feed(image, points)],
            }
            for name, inputs in calibrations.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # reduce_range without VNNI: the ISA line says so
                    int8_path = precision.quantize_onnx(float_path, Path(folder) / "model.int8.onnx", inputs)
                rows[f"int8 ONNX Runtime, calibrated on {name}"] = OnnxRuntimeModel(int8_path)(image, points)["instances"]
        for name, logits in rows.items():
            d = probability_differences(exact, logits)
            print(f"| {preset} | {name} | {d['max_dp']:.4f} | {d['mean_dp']:.5f} | {100 * d['flipped']:.3f} % |",
                  flush=True)


def paired_noc_change(reference: dict, other: dict) -> list[tuple[float, float]]:
    """(mean change, paired standard error) of NoC@85 and NoC@90 over the objects."""
    by_name = {o["name"]: np.array(o["noc"], float) for o in reference["objects"]}
    diffs = np.array([np.array(o["noc"], float) - by_name[o["name"]] for o in other["objects"]])
    return [(diffs[:, k].mean(), diffs[:, k].std(ddof=1) / np.sqrt(len(diffs))) for k in range(diffs.shape[1])]


def grabcut_table(grabcut: Path, coco_mval: Path, backends: list[str]) -> None:
    import tempfile

    from ritm_lite import save_checkpoint
    from ritm_lite.evaluate import main as evaluate
    from ritm_lite.inference import unwrap
    from ritm_lite.weights import load_course_model

    network = Path(tempfile.mkdtemp(prefix="ritm_precision_")) / "efficientnet_lite0_course_network.pth"
    save_checkpoint(unwrap(load_course_model())[0], network, half=True)  # the same float16 weights, no stored settings
    results = {}
    for backend in backends:
        if backend == "bf16" and not precision.native_bf16():
            print("(GrabCut bf16 skipped: emulated on this CPU)")
            continue
        path = RESULTS / f"grabcut_efficientnet_lite0_course_{backend}.json"
        command = ["--checkpoint", str(network), "--dataset", "GrabCut", "--data-root", str(grabcut),
                   "--backend", backend, "--json", str(path), "--quiet"]
        if backend == "int8":
            command += ["--calibration-data", str(coco_mval)]
        started = time.perf_counter()
        if evaluate(command) != 0:
            raise SystemExit(f"python -m ritm_lite.evaluate {' '.join(command)} failed")
        print(f"(python -m ritm_lite.evaluate {' '.join(command)}: {time.perf_counter() - started:.0f} s)", flush=True)
        results[backend] = json.loads(path.read_text())
    reference = results[backends[0]]
    curve = np.array(reference["mean_iou_per_click"])
    print("\n| backend | NoC@85 | NoC@90 | change @85 / @90 (paired SE) | mIoU after 1 / 3 / 5 / 10 / 20 | "
          "largest mIoU change (click) | s per click |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for backend, result in results.items():
        table, other = result["table"], np.array(result["mean_iou_per_click"])
        change = " / ".join(f"{m:+.2f} ({s:.2f})" for m, s in paired_noc_change(reference, result))
        worst = int(np.abs(other - curve).argmax())
        points = " / ".join(f"{other[k - 1]:.3f}" for k in (1, 3, 5, 10, 20))
        print(f"| {backend} | {table['NoC@85']:.2f} | {table['NoC@90']:.2f} | {change} | {points} | "
              f"{other[worst] - curve[worst]:+.4f} ({worst + 1}) | {table['SPC']:.3f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, help="the golden outputs (default: $RITM_REFERENCE)")
    parser.add_argument("--threads", type=flags.count(1, flags.MAX_THREADS), default=2)
    parser.add_argument("--calibration-objects", type=flags.count(1, 10_000), default=16)
    parser.add_argument("--backends", type=flags.names(BACKENDS), default="eager,bf16,int8", help="GrabCut rows; the first is the reference")
    parser.add_argument("--skip-fixture", action="store_true")
    parser.add_argument("--skip-grabcut", action="store_true")
    args = parser.parse_args(argv)
    reference = args.reference or reference_folder()
    coco_mval, grabcut = benchmark_folder("COCO_MVal"), benchmark_folder("GrabCut")
    if coco_mval is None or (grabcut is None and not args.skip_grabcut):
        parser.error("COCO_MVal and GrabCut are needed: set $RITM_DATA or download them into data/")
    if reference is None and not args.skip_fixture:
        parser.error("--reference is required for the fixture table (or --skip-fixture)")
    torch.set_num_threads(args.threads)
    print(f"{time.strftime('%Y-%m-%d', time.gmtime())}; torch {torch.__version__}, {args.threads} threads; "
          f"{precision.isa_summary()}")
    if not args.skip_fixture:
        fixture_table(reference, coco_mval, args.calibration_objects)
    if not args.skip_grabcut:
        grabcut_table(grabcut, coco_mval, args.backends)


if __name__ == "__main__":
    main()
