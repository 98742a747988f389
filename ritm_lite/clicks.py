"""Clicks: what the user gives, and the one place where ``(x, y)`` becomes RITM's ``(row, col)``.

Everything public in ``ritm_lite`` speaks in pixel coordinates ``(x, y)`` like SAM:
``x`` is the column, ``y`` the row, both measured from the top-left pixel's centre. The
original RITM network instead takes a *points tensor* of shape ``(B, 2N, 3)``: for every
sample, ``N`` positive clicks followed by ``N`` negative clicks, each written as
``(row, col, click_index)`` and padded with ``-1``. That tensor is built and read here and
nowhere else.

>>> clicks = [Click(x=10, y=4, is_positive=True, index=0), Click(x=2, y=3, is_positive=False, index=1)]
>>> points_tensor([clicks]).tolist()
[[[4.0, 10.0, 0.0], [3.0, 2.0, 1.0]]]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch

PAD = -1.0
"""Value of an unused slot in the points tensor (all three fields)."""


@dataclass(frozen=True)
class Click:
    """One click.

    Attributes:
        x: column in pixels (float allowed: ZoomIn and flip produce sub-pixel clicks).
        y: row in pixels.
        is_positive: ``True`` for a foreground click, ``False`` for background.
        index: order of the click in the interaction, starting at 0 (the original's
            ``click.indx``); the network receives it but HRNet models do not use it.
    """

    x: float
    y: float
    is_positive: bool
    index: int = 0

    def moved(self, x: float, y: float) -> "Click":
        """The same click at another position (used by ZoomIn and flip)."""
        return replace(self, x=x, y=y)


def clicks_from_prompts(
    point_coords: np.ndarray | Sequence[Sequence[float]],
    point_labels: np.ndarray | Sequence[int],
    image_size: tuple[int, int],
) -> list[Click]:
    """Validate SAM-style prompts and turn them into :class:`Click` objects.

    Args:
        point_coords: ``(N, 2)`` array of ``(x, y)`` pixel coordinates, in click order.
        point_labels: ``(N,)`` array, 1 for positive and 0 for negative clicks.
        image_size: ``(height, width)`` of the image the clicks refer to.

    Returns:
        ``N`` clicks with ``index`` 0..N-1.

    Raises:
        ValueError: wrong shapes, mismatched lengths, labels other than 0/1, non-finite
            coordinates, or a click outside the image.
    """
    coords = np.asarray(point_coords, dtype=np.float64)
    labels = np.asarray(point_labels)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"point_coords must have shape (N, 2) of (x, y) pixels, got {coords.shape}")
    if labels.ndim != 1:
        raise ValueError(f"point_labels must have shape (N,), got {labels.shape}")
    if len(labels) != len(coords):
        raise ValueError(
            f"got {len(coords)} point_coords but {len(labels)} point_labels: one label per click"
        )
    if labels.dtype.kind not in "biuf" or not np.all(np.isin(labels, (0, 1))):
        raise ValueError(f"point_labels must be 1 (positive) or 0 (negative), got {labels.tolist()}")
    if not np.all(np.isfinite(coords)):
        raise ValueError("point_coords must be finite numbers")
    height, width = image_size
    # Pixel i covers [i - 0.5, i + 0.5): a click anywhere on an edge pixel is on the image,
    # and is moved to that pixel's centre line so every click lies in [0, W-1] x [0, H-1].
    outside = (
        (coords[:, 0] < -0.5) | (coords[:, 0] >= width - 0.5)
        | (coords[:, 1] < -0.5) | (coords[:, 1] >= height - 0.5)
    )
    if np.any(outside):
        bad = coords[outside][0].tolist()
        raise ValueError(
            f"click (x, y) = {tuple(bad)} is outside the {width}x{height} (width x height) image"
        )
    coords = np.stack(
        [np.clip(coords[:, 0], 0, width - 1), np.clip(coords[:, 1], 0, height - 1)], axis=1
    )
    return [
        Click(x=float(x), y=float(y), is_positive=bool(label), index=i)
        for i, ((x, y), label) in enumerate(zip(coords, labels))
    ]


def _max_per_sign(batch: Sequence[Sequence[Click]]) -> int:
    counts = [sum(c.is_positive for c in clicks) for clicks in batch]
    counts += [sum(not c.is_positive for c in clicks) for clicks in batch]
    return max(counts, default=0)


def points_array(clicks: Sequence[Click], num_points: int) -> np.ndarray:
    """RITM's points layout for one sample.

    Args:
        clicks: the sample's clicks (any order of signs).
        num_points: ``N``, slots per sign.

    Returns:
        ``(2N, 3)`` float32 array: rows ``0..N-1`` hold positive clicks, ``N..2N-1``
        negative ones, each ``(row, col, index)``; unused rows are ``-1``.

    Raises:
        ValueError: more than ``num_points`` clicks of one sign.
    """
    points = np.full((2 * num_points, 3), PAD, dtype=np.float32)
    filled = [0, 0]  # positives, negatives
    for click in clicks:
        sign = 0 if click.is_positive else 1
        if filled[sign] >= num_points:
            kind = "positive" if click.is_positive else "negative"
            raise ValueError(f"more than {num_points} {kind} clicks do not fit the points tensor")
        points[sign * num_points + filled[sign]] = (click.y, click.x, click.index)
        filled[sign] += 1
    return points


def points_tensor(
    batch: Sequence[Sequence[Click]],
    num_points: int | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """RITM's ``(B, 2N, 3)`` points tensor for a batch of click lists.

    Args:
        batch: one click list per sample.
        num_points: ``N``; by default the largest number of same-sign clicks in the batch
            (at least 1), exactly as the original predictor sizes it.
        device: where to put the tensor.

    Returns:
        float32 tensor ``(B, 2N, 3)`` of ``(row, col, index)``, padded with ``-1``.
    """
    n = num_points if num_points is not None else max(1, _max_per_sign(batch))
    array = np.stack([points_array(clicks, n) for clicks in batch]) if batch else np.zeros((0, 2 * n, 3))
    return torch.as_tensor(array, dtype=torch.float32, device=device)


def clicks_from_points(points: np.ndarray | torch.Tensor) -> list[Click]:
    """Inverse of :func:`points_array`: the clicks stored in one sample's ``(2N, 3)`` points.

    Padding rows (negative coordinates) are dropped; the result is sorted by click index.
    """
    array = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
    if array.ndim != 2 or array.shape[1] != 3 or array.shape[0] % 2:
        raise ValueError(f"expected a (2N, 3) points array, got {array.shape}")
    half = array.shape[0] // 2
    clicks = [
        Click(x=float(col), y=float(row), is_positive=i < half, index=int(index))
        for i, (row, col, index) in enumerate(array)
        if max(row, col) >= 0
    ]
    return sorted(clicks, key=lambda c: c.index)


def set_click(points: torch.Tensor, sample: int, slot: int, click: Click) -> None:
    """Write ``click`` into slot ``slot`` of its sign's half of ``points[sample]`` (in place).

    Used by iterative training, which places the k-th simulated click at slot ``N - k``
    (positive) or ``2N - k`` (negative) — the original's rule.

    Args:
        points: ``(B, 2N, 3)`` points tensor.
        sample: batch index.
        slot: ``0..N-1`` within the positive or the negative half.
        click: the click to write.
    """
    half = points.shape[1] // 2
    if not 0 <= slot < half:
        raise ValueError(f"slot {slot} outside 0..{half - 1}")
    row = slot if click.is_positive else half + slot
    points[sample, row, 0] = float(click.y)
    points[sample, row, 1] = float(click.x)
    points[sample, row, 2] = float(click.index)
