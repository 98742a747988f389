"""The NoC evaluation loop: a simulated user clicks until the object is good enough.

For every object: start from an empty prediction; the automatic clicker adds one click where
the error is largest; the predictor returns probabilities; ``pred = probs > 0.49``; record the
IoU; stop once IoU >= the target (0.9) or after ``max_clicks`` (20) clicks. Seconds per click
are the wall time of ``predict`` (transforms and network; a peer that reports its own
``last_model_seconds``, the OpenCV GrabCut peer, is timed by that), not image loading or clicking.

Any object with ``set_image(image)`` and ``predict(point_coords, point_labels)`` works as the
predictor: :class:`ritm_lite.inference.Predictor` or the OpenCV GrabCut peer.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from ritm_lite.clicks import Click
from ritm_lite.evaluation.clicker import Clicker
from ritm_lite.evaluation.metrics import NocTable, iou, mean_iou_per_click, noc


class ClickPredictor(Protocol):
    """What the loop needs from a predictor."""

    def set_image(self, image: np.ndarray) -> None: ...

    def predict(self, point_coords: np.ndarray, point_labels: np.ndarray) -> np.ndarray: ...


@dataclass
class SampleResult:
    """One object's interaction.

    Attributes:
        clicks: the clicks made, in order (integer ``(x, y)``).
        ious: ``(num_clicks,)`` float32 IoU after each click.
        probs: ``(H, W)`` float32 probabilities after the last click.
        seconds: ``(num_clicks,)`` model seconds per click.
    """

    clicks: list[Click]
    ious: np.ndarray
    probs: np.ndarray
    seconds: np.ndarray


def _model_seconds(predictor: Any, wall: float) -> float:
    seconds = getattr(predictor, "last_model_seconds", None)
    return float(seconds) if seconds is not None else wall


def check_protocol(target_iou: float, pred_thr: float, min_clicks: int, max_clicks: int) -> None:
    """``ValueError`` unless ``0 < pred_thr < 1``, ``target_iou > 0`` and ``1 <= min_clicks <= max_clicks``."""
    if not 0.0 < pred_thr < 1.0:
        raise ValueError(f"pred_thr is a probability threshold in (0, 1), got {pred_thr}")
    if not target_iou > 0.0:
        raise ValueError(f"target_iou must be positive (above 1: never stop early), got {target_iou}")
    if not 1 <= min_clicks <= max_clicks:
        raise ValueError(f"need 1 <= min_clicks <= max_clicks, got {min_clicks} and {max_clicks}")


def evaluate_sample(
    image: np.ndarray,
    gt_mask: np.ndarray,
    predictor: ClickPredictor,
    target_iou: float = 0.9,
    pred_thr: float = 0.49,
    min_clicks: int = 1,
    max_clicks: int = 20,
    callback: Callable[[int, list[Click], np.ndarray], None] | None = None,
) -> SampleResult:
    """Click on one object until IoU >= ``target_iou`` (after at least ``min_clicks``) or
    ``max_clicks`` clicks.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        gt_mask: ``(H, W)`` int, 1 object, 0 background, -1 ignored.
        predictor: see :class:`ClickPredictor`.
        target_iou: stop once the IoU reaches it (the paper: 0.9; > 1 never stops early).
        pred_thr: probability threshold of the predicted mask (the paper: 0.49).
        callback: called after every click as ``callback(click_index, clicks, probs)``.

    Raises:
        ValueError: the image is not ``(H, W, 3)``, the mask is not ``(H, W)``, the object has
            no pixel (it would count as solved at once), or a protocol setting is out of range.
    """
    check_protocol(target_iou, pred_thr, min_clicks, max_clicks)
    image, gt_mask = np.asarray(image), np.asarray(gt_mask)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got shape {image.shape}")
    if gt_mask.shape != image.shape[:2]:
        raise ValueError(f"gt_mask {gt_mask.shape} does not have the image's size {image.shape[:2]}")
    if not (gt_mask == 1).any():
        raise ValueError("gt_mask has no object pixel (value 1): an empty object cannot be evaluated")
    clicker = Clicker(gt_mask)
    pred_mask = np.zeros(np.shape(gt_mask), dtype=bool)
    ious: list[float] = []
    seconds: list[float] = []
    predictor.set_image(image)
    probs = np.zeros(np.shape(gt_mask), dtype=np.float32)
    for click_index in range(max_clicks):
        clicker.make_next_click(pred_mask)
        start = time.perf_counter()
        probs = predictor.predict(clicker.point_coords, clicker.point_labels)
        seconds.append(_model_seconds(predictor, time.perf_counter() - start))
        pred_mask = probs > pred_thr
        ious.append(iou(gt_mask, pred_mask))
        if callback is not None:
            callback(click_index, list(clicker.clicks), probs)
        if ious[-1] >= target_iou and click_index + 1 >= min_clicks:
            break
    return SampleResult(
        clicks=list(clicker.clicks),
        ious=np.array(ious, dtype=np.float32),
        probs=probs,
        seconds=np.array(seconds, dtype=np.float64),
    )


@dataclass
class DatasetResult:
    """A predictor evaluated on a set of objects.

    Attributes:
        names: object names, in evaluation order.
        ious: one IoU curve per object.
        clicks: one click list per object.
        seconds: model seconds per click, one array per object.
        max_clicks, target_iou, pred_thr, thresholds: the protocol used.
    """

    names: list[str]
    ious: list[np.ndarray]
    clicks: list[list[Click]]
    seconds: list[np.ndarray]
    max_clicks: int
    target_iou: float
    pred_thr: float
    thresholds: tuple[float, ...] = (0.85, 0.9)
    noc_table: NocTable = field(init=False)

    def __post_init__(self) -> None:
        self.noc_table = noc(self.ious, self.thresholds, self.max_clicks)

    @property
    def seconds_per_click(self) -> float:
        """Mean model time per click over all clicks of all objects (the paper's SPC)."""
        total_clicks = sum(len(s) for s in self.seconds)
        return float(sum(s.sum() for s in self.seconds) / max(total_clicks, 1))

    def mean_iou_per_click(self) -> np.ndarray:
        """``(max_clicks,)`` mean IoU after each click (finished objects keep their last IoU)."""
        return mean_iou_per_click(self.ious, self.max_clicks)

    def summary(self) -> dict[str, float]:
        """The paper's table row: NoC@85, NoC@90, >=20@85, >=20@90, SPC."""
        return {**self.noc_table.as_dict(), "SPC": self.seconds_per_click}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: protocol, table row, mIoU curve, every object's curve and clicks."""
        return {
            "protocol": {
                "max_clicks": self.max_clicks,
                "target_iou": self.target_iou,
                "pred_thr": self.pred_thr,
                "thresholds": list(self.thresholds),
            },
            "table": self.summary(),
            "mean_iou_per_click": self.mean_iou_per_click().tolist(),
            "objects": [
                {
                    "name": name,
                    "ious": [float(v) for v in curve],
                    "clicks": [[float(c.x), float(c.y), bool(c.is_positive)] for c in clicks],
                    "noc": [int(v) for v in per_object],
                }
                for name, curve, clicks, per_object in zip(
                    self.names, self.ious, self.clicks, self.noc_table.per_object
                )
            ],
        }


def _iterate(samples: Iterable[Any], limit: int | None) -> tuple[Iterator[Any], int | None]:
    """Iterate lazily over ``samples`` (a sequence is indexed, so images load one at a time)."""
    if hasattr(samples, "__len__") and hasattr(samples, "__getitem__"):
        count = len(samples) if limit is None else min(len(samples), limit)
        return (samples[i] for i in range(count)), count
    iterator = iter(samples)
    return (iterator if limit is None else itertools.islice(iterator, limit)), limit


def evaluate_dataset(
    samples: Iterable[Any],
    predictor: ClickPredictor,
    target_iou: float = 0.9,
    pred_thr: float = 0.49,
    min_clicks: int = 1,
    max_clicks: int = 20,
    thresholds: Sequence[float] = (0.85, 0.9),
    limit: int | None = None,
    progress: bool = True,
    desc: str = "objects",
) -> DatasetResult:
    """Run :func:`evaluate_sample` on every object, with a progress bar.

    Args:
        samples: objects with ``image``, ``gt_mask`` and ``name`` attributes (e.g. a
            benchmark from :mod:`ritm_lite.data.benchmarks`).
        limit: evaluate only the first ``limit`` objects.
        progress: show a tqdm progress bar over objects.
    """
    check_protocol(target_iou, pred_thr, min_clicks, max_clicks)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    sample_iter, total = _iterate(samples, limit)
    names: list[str] = []
    all_ious: list[np.ndarray] = []
    all_clicks: list[list[Click]] = []
    all_seconds: list[np.ndarray] = []
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    for index, sample in enumerate(sample_iter):
        name = str(getattr(sample, "name", index))
        try:
            result = evaluate_sample(
                sample.image, sample.gt_mask, predictor, target_iou, pred_thr, min_clicks, max_clicks
            )
        except ValueError as err:
            raise ValueError(f"object {name!r}: {err}") from err
        names.append(name)
        all_ious.append(result.ious)
        all_clicks.append(result.clicks)
        all_seconds.append(result.seconds)
        bar.update(1)
        bar.set_postfix(clicks=len(result.ious), iou=f"{result.ious[-1]:.3f}")
    bar.close()
    if not names:
        raise ValueError("evaluate_dataset got no samples")
    return DatasetResult(
        names=names,
        ious=all_ious,
        clicks=all_clicks,
        seconds=all_seconds,
        max_clicks=max_clicks,
        target_iou=target_iou,
        pred_thr=pred_thr,
        thresholds=tuple(thresholds),
    )
