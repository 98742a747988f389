"""The automatic clicker of the NoC protocol: a simulated user who clicks where it hurts most.

Given the ground truth and the current prediction, the two error regions are

    FN = gt & ~pred & ~ignore        (missed object: the next click would be positive)
    FP = ~gt & pred & ~ignore        (leaked background: the next click would be negative)

and the next click goes to the pixel *farthest from the boundary* of the larger one, measured
with an exact Euclidean distance transform (OpenCV ``DIST_L2``, precise mask) on the region
padded by one pixel of zeros (so the image border counts as a boundary). The click is positive
iff the FN maximum is strictly larger than the FP maximum; among equally distant pixels it is
the first in row-major order; a pixel that was clicked before is never chosen again.

This is the clicker of Xu et al. (2016) as implemented by the RITM evaluation code. When the
prediction is already perfect, both maxima are 0 and the original returns a *negative* click
at the first unclicked pixel; so does :func:`next_click` (the loop normally stops before that).
"""

from __future__ import annotations

import cv2
import numpy as np

from ritm_lite.clicks import Click


def _distance_to_boundary(region: np.ndarray, padding: bool) -> np.ndarray:
    """Exact Euclidean distance of every region pixel to the nearest non-region pixel."""
    mask = region.astype(np.uint8)
    if padding:
        mask = np.pad(mask, 1, mode="constant")
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance[1:-1, 1:-1] if padding else distance


def error_regions(
    gt_mask: np.ndarray, pred_mask: np.ndarray, ignore_label: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """``(FN, FP)`` bool maps: missed object pixels and leaked background pixels.

    Args:
        gt_mask: ``(H, W)`` int, 1 object, 0 background, ``ignore_label`` ignored.
        pred_mask: ``(H, W)`` bool prediction.
    """
    gt_mask = np.asarray(gt_mask)
    pred_mask = np.asarray(pred_mask, dtype=bool)
    if gt_mask.shape != pred_mask.shape or gt_mask.ndim != 2:
        raise ValueError(
            f"gt_mask {gt_mask.shape} and pred_mask {pred_mask.shape} must be the same (H, W)"
        )
    valid = gt_mask != ignore_label
    gt = gt_mask == 1
    return gt & ~pred_mask & valid, ~gt & pred_mask & valid


def next_click(
    gt_mask: np.ndarray,
    pred_mask: np.ndarray,
    not_clicked: np.ndarray | None = None,
    padding: bool = True,
    ignore_label: int = -1,
    index: int = 0,
) -> Click:
    """The automatic clicker's next click.

    Args:
        gt_mask: ``(H, W)`` int, 1 object, 0 background, ``ignore_label`` ignored.
        pred_mask: ``(H, W)`` bool current prediction.
        not_clicked: ``(H, W)`` bool, ``False`` at pixels clicked before (never chosen again).
        padding: treat the image border as an error-region boundary.
        ignore_label: value of ignored pixels in ``gt_mask``.
        index: the ``index`` to give the click.

    Returns:
        A :class:`Click` at integer ``(x, y)``; positive iff it corrects a missed object.
    """
    fn, fp = error_regions(gt_mask, pred_mask, ignore_label)
    fn_distance = _distance_to_boundary(fn, padding)
    fp_distance = _distance_to_boundary(fp, padding)
    if not_clicked is not None:
        if not_clicked.shape != fn.shape:
            raise ValueError(f"not_clicked {not_clicked.shape} must have the mask shape {fn.shape}")
        fn_distance = fn_distance * not_clicked
        fp_distance = fp_distance * not_clicked
    is_positive = bool(fn_distance.max() > fp_distance.max())
    distance = fn_distance if is_positive else fp_distance
    row, col = np.unravel_index(np.argmax(distance), distance.shape)  # first maximum, row-major
    return Click(x=int(col), y=int(row), is_positive=is_positive, index=index)


class Clicker:
    """Clicks of one object's interaction, simulated against its ground truth.

    Args:
        gt_mask: ``(H, W)`` int, 1 object, 0 background, ``ignore_label`` ignored.
        ignore_label: value of ignored pixels.
    """

    def __init__(self, gt_mask: np.ndarray, ignore_label: int = -1):
        gt_mask = np.asarray(gt_mask)
        if gt_mask.ndim != 2:
            raise ValueError(f"gt_mask must be (H, W), got shape {gt_mask.shape}")
        self.gt_mask = gt_mask
        self.ignore_label = ignore_label
        self.reset()

    def reset(self) -> None:
        """Remove all clicks."""
        self.clicks: list[Click] = []
        self.not_clicked = np.ones(self.gt_mask.shape, dtype=bool)

    def make_next_click(self, pred_mask: np.ndarray) -> Click:
        """Choose the next click for ``pred_mask`` (``(H, W)`` bool), record it and return it."""
        click = next_click(
            self.gt_mask,
            pred_mask,
            self.not_clicked,
            ignore_label=self.ignore_label,
            index=len(self.clicks),
        )
        self.add_click(click)
        return click

    def add_click(self, click: Click) -> None:
        """Record a click (from the clicker or from outside)."""
        self.clicks.append(click)
        self.not_clicked[int(click.y), int(click.x)] = False

    def remove_last_click(self) -> Click:
        """Undo the last click and return it."""
        click = self.clicks.pop()
        if not any(int(c.y) == int(click.y) and int(c.x) == int(click.x) for c in self.clicks):
            self.not_clicked[int(click.y), int(click.x)] = True
        return click

    def get_state(self) -> list[Click]:
        return list(self.clicks)

    def set_state(self, clicks: list[Click]) -> None:
        self.reset()
        for click in clicks:
            self.add_click(click)

    @property
    def point_coords(self) -> np.ndarray:
        """``(N, 2)`` float ``(x, y)`` of the clicks so far (the predictor's input)."""
        return np.array([(c.x, c.y) for c in self.clicks], dtype=np.float64).reshape(-1, 2)

    @property
    def point_labels(self) -> np.ndarray:
        """``(N,)`` int labels, 1 positive, 0 negative."""
        return np.array([int(c.is_positive) for c in self.clicks], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.clicks)
