"""Command line: evaluate a model (or the OpenCV GrabCut peer) on a benchmark, NoC protocol.

    python -m ritm_lite.evaluate --checkpoint model.pth --dataset GrabCut \\
        --data-root data/GrabCut --json grabcut.json   # and grabcut.png
    # random weights, a smoke run:
    python -m ritm_lite.evaluate --preset hrnet18s --dataset GrabCut --limit 5 --max-clicks 5
    python -m ritm_lite.evaluate --peer opencv-grabcut --dataset GrabCut

It prints the paper's table (NoC@85, NoC@90, >=20@85, >=20@90, seconds per click) and
writes a JSON file (protocol, table, mIoU per click, every object's IoU curve and clicks)
and an mIoU-vs-clicks plot: by default ``<dataset>_<method>.json`` in the current folder
with the plot beside it (``.png``); ``--json`` and ``--plot`` name them. The protocol is
the paper's: automatic clicker, threshold 0.49, up to 20 clicks, stop at IoU 0.9, ZoomIn
(400 px, 600 px on DAVIS) and flip averaging. Settings a checkpoint is meant to be run with
(a largest size, two scales, refinement: its ``meta["inference"]``) are applied from the
checkpoint itself (:mod:`ritm_lite.inference.settings`); there are no flags for them
(``--max-size`` is the predictor's own limit, applied on top of a stored one).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from ritm_lite.data.benchmarks import BENCHMARKS, PAPER_ZOOM_IN_TARGET_SIZE
from ritm_lite.data.locate import benchmark_folder, shown_path
from ritm_lite.evaluation import DatasetResult, GrabCutPeer, evaluate_dataset, format_table, plot_miou_curves
from ritm_lite.evaluation.benchmark import benchmark_samples
from ritm_lite.inference import InferenceSettings, Predictor, ZoomInConfig, unwrap
from ritm_lite.inference.backends import BACKENDS, with_backend
from ritm_lite.utils import default_device

PEERS = ("opencv-grabcut",)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ritm_lite.evaluate",
        description="NoC evaluation of an interactive segmentation model.",
    )
    method = parser.add_mutually_exclusive_group(required=True)
    method.add_argument(
        "--checkpoint", type=Path, help="model checkpoint (ritm_lite or official RITM .pth)"
    )
    method.add_argument(
        "--preset", help="build this model preset with RANDOM weights (smoke runs only)"
    )
    method.add_argument(
        "--peer", choices=PEERS, help="evaluate a classic method instead of a network"
    )
    parser.add_argument(
        "--dataset", default="GrabCut", choices=sorted(BENCHMARKS), help="benchmark name"
    )
    parser.add_argument(
        "--data-root", type=Path, help="benchmark folder (default: $RITM_DATA/<dataset>, else data/<dataset>)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="per-object IoU curves and the table (default: ./<dataset>_<method>.json)",
    )
    parser.add_argument(
        "--plot", type=Path, help="the mIoU-vs-clicks plot (default: the JSON path with .png)"
    )
    parser.add_argument("--max-clicks", type=int, default=20, help="click budget per object")
    parser.add_argument(
        "--target-iou", type=float, default=0.9, help="stop clicking at this IoU (>1: never)"
    )
    parser.add_argument(
        "--pred-thr", type=float, default=0.49, help="probability threshold of the mask"
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N objects")
    parser.add_argument(
        "--training-split", choices=["train", "val"],
        help="img/ + gt/ data (COCO_MVal): only this side of the training CLI's split by image id "
             "(split_by_image_id with --val-fraction and --split-seed, as `ritm_lite.train` makes it)",
    )
    parser.add_argument("--val-fraction", type=float, default=0.2, help="with --training-split")
    parser.add_argument("--split-seed", type=int, default=0, help="with --training-split (train's --seed)")
    parser.add_argument("--no-zoom-in", action="store_true", help="run without ZoomIn")
    parser.add_argument("--no-flip", action="store_true", help="run without flip averaging")
    parser.add_argument(
        "--zoom-in-size", type=int, help="ZoomIn crop size (default: 400, 600 on DAVIS)"
    )
    parser.add_argument(
        "--zoom-in-skip-clicks", type=int,
        help="ZoomIn lets the first N clicks see the whole image (default: 1, the paper's; "
             "-1: the whole image at the crop size first, then zoomed in, as the original's "
             "'fixed' evaluation modes)",
    )
    parser.add_argument(
        "--max-size", type=int,
        help="shrink what the network sees to this long side (LimitLongestSide; default: never)",
    )
    parser.add_argument(
        "--backend", choices=BACKENDS, default="eager",
        help="run the network as trained (eager), optimize_for_inference (fast), that in bf16 "
             "(emulated, slowly, on CPUs without native bf16), ONNX Runtime, or ONNX Runtime int8 "
             "calibrated on --calibration-data's training split (CPU only for the last two)",
    )
    parser.add_argument(
        "--calibration-data", type=Path,
        help="--backend int8: img/ + gt/ folder whose training split (--val-fraction, --split-seed) "
             "calibrates the activation ranges (default: $RITM_DATA/COCO_MVal, else data/COCO_MVal)",
    )
    parser.add_argument(
        "--calibration-objects", type=int, default=16,
        help="--backend int8: objects clicked (4 automatic clicks each) for calibration",
    )
    parser.add_argument("--device", help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument(
        "--seed", type=int, default=0, help="torch seed for --preset's random weights"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.data_root is None:
        args.data_root = benchmark_folder(args.dataset)  # prints which data, or what is missing
        if args.data_root is None:
            parser.error(f"--data-root is required ({args.dataset} was not found)")
    if args.max_clicks < 1:
        parser.error("--max-clicks must be at least 1")
    if not 0.0 < args.pred_thr < 1.0:
        parser.error(f"--pred-thr is a probability threshold in (0, 1), got {args.pred_thr}")
    if not args.target_iou > 0.0:
        parser.error(f"--target-iou must be positive (above 1: never stop early), got {args.target_iou}")
    if args.peer and args.backend != "eager":
        parser.error("--backend applies to a network, not to --peer")
    if args.backend in ("onnxruntime", "int8") and args.device not in (None, "cpu"):
        parser.error(f"--backend {args.backend} runs on the CPU; drop --device {args.device}")
    if args.backend == "int8" and args.calibration_data is None:
        args.calibration_data = benchmark_folder("COCO_MVal")
        if args.calibration_data is None:
            parser.error("--backend int8 needs --calibration-data (COCO_MVal was not found)")
    if args.backend != "int8" and args.calibration_data is not None:
        parser.error("--calibration-data applies to --backend int8 only")
    for flag in ("limit", "zoom_in_size", "max_size", "calibration_objects"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    if args.zoom_in_skip_clicks is not None and args.zoom_in_skip_clicks < -1:
        parser.error(f"--zoom-in-skip-clicks must be -1 or more, got {args.zoom_in_skip_clicks}")
    zoom_flags = [f for f in ("zoom_in_size", "zoom_in_skip_clicks") if getattr(args, f) is not None]
    if args.peer and (zoom_flags or args.max_size is not None):
        parser.error("--zoom-in-size, --zoom-in-skip-clicks and --max-size apply to a network, not to --peer")
    if args.no_zoom_in and zoom_flags:
        flag = "--" + zoom_flags[0].replace("_", "-")
        parser.error(f"{flag} sets ZoomIn: drop it or --no-zoom-in")
    if not 0.0 < args.val_fraction < 1.0:
        parser.error(f"--val-fraction must be in (0, 1), got {args.val_fraction}")
    return args


def method_name(args: argparse.Namespace, settings: InferenceSettings | None = None) -> str:
    """A short row name for the table (``settings``: those the checkpoint stores, e.g. ``ms320``)."""
    if args.peer:
        return args.peer
    name = args.checkpoint.stem if args.checkpoint else f"{args.preset} (random)"
    extras = [x for x, off in (("zoom", args.no_zoom_in), ("flip", args.no_flip)) if not off]
    if not args.no_zoom_in and zoom_in_skip_clicks(args) != ZoomInConfig.skip_clicks:
        extras.append(f"skip{zoom_in_skip_clicks(args)}")
    if args.max_size is not None:
        extras.append(f"max{args.max_size}")
    if settings is not None and settings.max_size is not None:
        extras.append(f"max{settings.max_size}")
    if settings is not None and settings.multi_scale is not None:
        extras.append(f"ms{settings.multi_scale}")
    if settings is not None and settings.refine is not None:
        extras.append(f"refine{settings.refine}")
    if args.backend != "eager":
        extras.append(args.backend)
    return f"{name}+{'+'.join(extras)}" if extras else name


def output_paths(args: argparse.Namespace, settings: InferenceSettings | None = None) -> tuple[Path, Path]:
    """``(json, plot)`` paths: ``--json`` / ``--plot``, else ``./<dataset>_<method>.json|png``.

    The method part is :func:`method_name` with every run of characters other than
    letters, digits, ``.`` and ``-`` replaced by ``_`` (``hrnet18s (random)+zoom+flip`` ->
    ``hrnet18s_random_zoom_flip``).
    """
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", method_name(args, settings)).strip("_")
    json_path = args.json or Path(f"{args.dataset}_{slug}.json")
    return json_path, args.plot or json_path.with_suffix(".png")


def check_writable(path: Path) -> None:
    """Make ``path``'s folder and check that a file can be written there (``OSError`` if not)."""
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; name a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists()
    with open(path, "a"):
        pass
    if not existed:
        path.unlink()


def build_predictor(args: argparse.Namespace):
    """The model's :class:`Predictor` (or the peer) described by the arguments: the checkpoint
    loaded with its stored settings (``ritm_lite.load_checkpoint``), run by ``--backend``."""
    if args.peer == "opencv-grabcut":
        return GrabCutPeer()
    import ritm_lite

    device = torch.device(args.device) if args.device else default_device()
    if args.backend in ("onnxruntime", "int8"):
        device = torch.device("cpu")
    if args.checkpoint is not None:
        model = ritm_lite.load_checkpoint(args.checkpoint, map_location="cpu")
    else:
        torch.manual_seed(args.seed)
        model = ritm_lite.build_model(args.preset)
    size = args.zoom_in_size or PAPER_ZOOM_IN_TARGET_SIZE.get(args.dataset, 400)
    zoom_in = None if args.no_zoom_in else ZoomInConfig(target_size=size, skip_clicks=zoom_in_skip_clicks(args))
    options = dict(zoom_in=zoom_in, flip=not args.no_flip, max_size=args.max_size)
    calibration = None
    if args.backend == "int8":
        calibration = benchmark_samples("COCO_MVal", args.calibration_data, "train", args.val_fraction, args.split_seed)
        print(f"int8: calibrating on {min(args.calibration_objects, len(calibration))} training objects")
    network = with_backend(model.to(device).eval(), args.backend, calibration, args.calibration_objects, options)
    return Predictor(network, **options)


def zoom_in_skip_clicks(args: argparse.Namespace) -> int:
    """ZoomIn's ``skip_clicks`` the arguments ask for (the paper's 1 unless given)."""
    return ZoomInConfig.skip_clicks if args.zoom_in_skip_clicks is None else args.zoom_in_skip_clicks


def run(args: argparse.Namespace, predictor) -> DatasetResult:
    """Evaluate ``predictor`` as the arguments say; print the table, write JSON and plot.

    The files go where :func:`output_paths` says; their paths are printed after the table.
    """
    settings = unwrap(predictor.model)[1] if isinstance(predictor, Predictor) else None
    json_path, plot_path = output_paths(args, settings)
    for path in (json_path, plot_path):  # found unwritable now, not after the whole run
        check_writable(path)
    samples = benchmark_samples(args.dataset, args.data_root, args.training_split, args.val_fraction, args.split_seed)
    if args.training_split is not None:
        print(f"{args.dataset}, the training CLI's {args.training_split} split: {len(samples)} objects")
    result = evaluate_dataset(
        samples,
        predictor,
        desc=f"{args.dataset} objects",
        target_iou=args.target_iou,
        pred_thr=args.pred_thr,
        max_clicks=args.max_clicks,
        limit=args.limit,
        progress=not args.quiet,
    )
    name = method_name(args, settings)
    print(format_table({name: result}, args.dataset))
    if args.preset:
        print(
            f"note: {args.preset} has random weights: "
            "these numbers say nothing about RITM's accuracy"
        )
    record = {
        "method": name,
        "dataset": args.dataset,
        "data_root": shown_path(args.data_root),  # paths as the course prints them: no folder of this machine
        "checkpoint": shown_path(args.checkpoint) if args.checkpoint else None,
        "preset": args.preset,
        "peer": args.peer,
        "training_split": args.training_split,
        "zoom_in": not args.no_zoom_in and not args.peer,
        "flip": not args.no_flip and not args.peer,
        "zoom_in_skip_clicks": None if args.no_zoom_in or args.peer else zoom_in_skip_clicks(args),
        "max_size": args.max_size,
        "inference": settings.to_meta() if settings is not None else None,  # the checkpoint's stored settings
        "backend": None if args.peer else args.backend,
        "calibration_data": shown_path(args.calibration_data) if args.calibration_data else None,
        "calibration_objects": args.calibration_objects if args.backend == "int8" else None,
        **result.to_dict(),
    }
    json_path.write_text(json.dumps(record, indent=1))
    figure = plot_miou_curves({name: result}, args.dataset)
    figure.savefig(plot_path, dpi=120, bbox_inches="tight")
    print(f"wrote {json_path} and {plot_path}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args, build_predictor(args))
    except (ValueError, OSError) as err:  # bad data, checkpoint or output path: one line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
