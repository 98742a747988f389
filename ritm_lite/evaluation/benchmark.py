"""One benchmark evaluated as the paper does: load it (or one side of the training split), run
the NoC loop, return the result. The evaluation CLI (``python -m ritm_lite.evaluate``) reads its
objects with :func:`benchmark_samples`; the paper-claims runner (:mod:`ritm_lite.paper_claims`)
calls :func:`evaluate_benchmark`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ritm_lite.data.benchmarks import load_benchmark
from ritm_lite.data.datasets import split_by_image_id
from ritm_lite.evaluation.loop import ClickPredictor, DatasetResult, evaluate_dataset


def benchmark_samples(
    dataset: str, data_root: Path, training_split: str | None = None, val_fraction: float = 0.2, split_seed: int = 0
) -> Any:
    """The benchmark ``dataset`` read from ``data_root``; with ``training_split`` (``"train"`` or
    ``"val"``, img/ + gt/ data such as COCO_MVal) only that side of the training CLI's split by
    image id (:func:`~ritm_lite.data.datasets.split_by_image_id`, ``val_fraction``, ``split_seed``)."""
    samples = load_benchmark(dataset, data_root)
    if training_split is None:
        return samples
    if training_split not in ("train", "val"):
        raise ValueError(f"training_split must be 'train', 'val' or None, got {training_split!r}")
    train_names, val_names = split_by_image_id(samples.names, val_fraction, seed=split_seed)
    return samples.subset(train_names if training_split == "train" else val_names)


def evaluate_benchmark(
    predictor: ClickPredictor,
    dataset: str,
    data_root: Path,
    training_split: str | None = None,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    **protocol: Any,
) -> DatasetResult:
    """:func:`~ritm_lite.evaluation.loop.evaluate_dataset` of ``predictor`` on the benchmark
    :func:`benchmark_samples` reads; ``protocol`` (``max_clicks``, ``target_iou``, ``pred_thr``,
    ``limit``, ``progress``, ...) goes to it."""
    samples = benchmark_samples(dataset, data_root, training_split, val_fraction, split_seed)
    protocol.setdefault("desc", f"{dataset} objects")
    return evaluate_dataset(samples, predictor, **protocol)
