"""Interactive-segmentation metrics (paper, Sec. 5): IoU, NoC@t, the ">= max clicks" count, mIoU.

* ``IoU = |pred & gt| / |pred | gt|`` over pixels whose ground truth is not ``ignore_label``.
* ``NoC@t`` of one object: the number of clicks (1-based) after which IoU first reaches ``t``;
  ``max_clicks`` if it never does. A dataset's NoC@t is the mean over its objects.
* ``>=20@t``: the number of objects whose NoC@t equals ``max_clicks``. Like the original code,
  this counts an object that reaches ``t`` exactly at the last click as well as one that never
  does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def iou(gt_mask: np.ndarray, pred_mask: np.ndarray, ignore_label: int = -1) -> float:
    """Intersection over union of ``pred_mask`` with the object of ``gt_mask``.

    Args:
        gt_mask: ``(H, W)`` int, 1 object, 0 background, ``ignore_label`` ignored.
        pred_mask: ``(H, W)`` bool prediction.

    Returns:
        IoU in ``[0, 1]``; 1.0 when both object and prediction are empty (the original
        divides 0 by 0 there).
    """
    gt_mask = np.asarray(gt_mask)
    pred_mask = np.asarray(pred_mask, dtype=bool)
    if gt_mask.shape != pred_mask.shape:
        raise ValueError(f"gt_mask {gt_mask.shape} and pred_mask {pred_mask.shape} differ in shape")
    valid = gt_mask != ignore_label
    gt = gt_mask == 1
    intersection = np.count_nonzero(pred_mask & gt & valid)  # |P ∩ G| over non-ignored pixels
    union = np.count_nonzero((pred_mask | gt) & valid)  # |P ∪ G| over non-ignored pixels
    return 1.0 if union == 0 else intersection / union  # IoU = |P ∩ G| / |P ∪ G|


def clicks_to_reach(
    ious: Sequence[float] | np.ndarray, threshold: float, max_clicks: int = 20
) -> int:
    """NoC@threshold of one object: first 1-based click with IoU >= threshold, else max_clicks."""
    reached = np.flatnonzero(np.asarray(ious) >= threshold)
    return int(reached[0]) + 1 if reached.size else max_clicks  # NoC = min{k : IoU_k >= t}, else max_clicks


@dataclass(frozen=True)
class NocTable:
    """NoC results of a set of objects.

    Attributes:
        thresholds: IoU thresholds, e.g. ``(0.85, 0.9)``.
        noc: mean NoC per threshold.
        over_max: per threshold, objects with NoC == ``max_clicks`` (the ">=20" column).
        per_object: ``(num_objects, num_thresholds)`` int NoC of every object.
        max_clicks: the click budget.
    """

    thresholds: tuple[float, ...]
    noc: tuple[float, ...]
    over_max: tuple[int, ...]
    per_object: np.ndarray
    max_clicks: int

    def as_dict(self) -> dict[str, float]:
        """``{"NoC@85": ..., "NoC@90": ..., ">=20@85": ..., ">=20@90": ...}``."""
        row: dict[str, float] = {}
        for t, value in zip(self.thresholds, self.noc):
            row[f"NoC@{round(100 * t)}"] = float(value)
        for t, count in zip(self.thresholds, self.over_max):
            row[f">={self.max_clicks}@{round(100 * t)}"] = int(count)
        return row


def noc(
    all_ious: Sequence[Sequence[float] | np.ndarray],
    thresholds: Sequence[float] = (0.85, 0.9),
    max_clicks: int = 20,
) -> NocTable:
    """NoC@t and the ">= max_clicks" count over objects.

    Args:
        all_ious: one IoU curve per object (IoU after click 1, 2, ...; may stop early).
        thresholds: IoU thresholds.
        max_clicks: the click budget (an object that never reaches ``t`` counts this many).
    """
    if len(all_ious) == 0:
        raise ValueError("noc needs at least one object's IoU curve")
    per_object = np.array(
        [[clicks_to_reach(curve, t, max_clicks) for t in thresholds] for curve in all_ious],
        dtype=np.int64,
    ).reshape(len(all_ious), len(thresholds))
    return NocTable(
        thresholds=tuple(float(t) for t in thresholds),
        noc=tuple(float(x) for x in per_object.mean(axis=0)),  # NoC@t = mean over objects
        over_max=tuple(int(x) for x in (per_object == max_clicks).sum(axis=0)),
        per_object=per_object,
        max_clicks=max_clicks,
    )


def mean_iou_per_click(
    all_ious: Sequence[Sequence[float] | np.ndarray], max_clicks: int
) -> np.ndarray:
    """``(max_clicks,)`` mean IoU after each click.

    An object whose evaluation stopped early (it reached the target IoU) keeps its last IoU
    for the remaining clicks, as if the user stopped clicking. For the curve without that
    assumption, evaluate with a target IoU above 1 (the original's ``--iou-analysis``).
    """
    padded = np.zeros((len(all_ious), max_clicks), dtype=np.float64)
    for row, curve in zip(padded, all_ious):
        curve = np.asarray(curve, dtype=np.float64)[:max_clicks]
        if curve.size == 0:
            raise ValueError("every IoU curve needs at least one click")
        row[: curve.size] = curve
        row[curve.size :] = curve[-1]
    return padded.mean(axis=0)
