"""LimitLongestSide: run the network on a smaller copy of an image that is too large.

The original predictor (``BasePredictor(max_size=...)``, used with ``max_size=800`` by its demo)
shrinks any input whose long side exceeds ``max_size`` before the network sees it and
resizes the probabilities back afterwards. It sits after ZoomIn, so in practice it acts on
the clicks that see the whole image (the first one, under the paper's ZoomIn); a ZoomIn crop
is already ``target_size`` (400) pixels long.

Two reasons to use it: a 12-megapixel photo costs seconds per click on a CPU at full size,
and a network trained on small crops recognises objects best at the scale it was trained
at (``MODEL_CARD.md`` in ``ritm_lite/weights`` measures this for the course weights).

The maths is ZoomIn's with the whole image as the box:

    s = max_size / max(H, W);  (h, w) = (round(s H), round(s W))      (only when s < 1)
    x' = w (x - 0) / W,  y' = h (y - 0) / H                            (clicks, float)

and the probabilities go back with the same bilinear resize (``align_corners=True``).
Both directions are pure functions: :meth:`LimitLongestSide.inv_transform` is told the
size to return to.

:class:`MaxSize` is the same limit as a model wrapper: the form a checkpoint stores it in
(``meta["inference"]["max_size"]``, :mod:`ritm_lite.inference.settings`), so that weights meant to
see photos at a smaller scale are run that way by whoever loads them. Inside the predictor it
runs after ZoomIn and flip (the predictor's own ``max_size`` runs before flip, so the mirror
image's clicks differ by ``1 - w / W`` of a pixel): it shrinks every network input longer than
``max_size`` (the first click's whole photo, and ZoomIn's crops when ``max_size`` is below their
400 px).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ritm_lite.clicks import Click, clicks_from_points, points_tensor
from ritm_lite.inference.zoom_in import Box, clicks_to_crop, crop_and_resize, crop_size


MIN_SIZE = 16
"""The smallest long side a network is shown: its coarsest features are 1/32 of the input."""


class LimitLongestSide:
    """Shrink inputs whose long side exceeds ``max_size`` pixels (aspect ratio kept).

    Args:
        max_size: the longest side, in pixels, the network may see (at least :data:`MIN_SIZE`).
    """

    def __init__(self, max_size: int):
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < MIN_SIZE:
            raise ValueError(f"max_size must be a whole number of pixels >= {MIN_SIZE} (smaller, the network's "
                             f"1/32 features are at most half a cell: nothing left to segment), got {max_size!r}")
        self.max_size = max_size

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """``(h, w)`` the network sees for an ``height`` x ``width`` input."""
        if max(height, width) <= self.max_size:
            return height, width
        return crop_size(Box(0, height - 1, 0, width - 1), self.max_size)

    def transform(
        self, image_nd: torch.Tensor, clicks_lists: list[list[Click]]
    ) -> tuple[torch.Tensor, list[list[Click]], tuple[int, int]]:
        """``(B, C, H, W)`` -> ``(B, C, h, w)`` and the clicks in the smaller image's pixels;
        the inputs unchanged when ``max(H, W) <= max_size``. The view is ``(H, W)``, the size
        :meth:`inv_transform` returns to."""
        height, width = image_nd.shape[2:]
        size = self.output_size(height, width)
        if size == (height, width):
            return image_nd, clicks_lists, (height, width)
        box = Box(0, height - 1, 0, width - 1)
        return crop_and_resize(image_nd, box, size), [clicks_to_crop(c, box, size) for c in clicks_lists], (height, width)

    @staticmethod
    def inv_transform(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``(B, 1, h, w)`` maps -> ``(B, 1, *size)`` (bilinear, ``align_corners=True``)."""
        if tuple(maps.shape[2:]) == tuple(size):
            return maps
        return F.interpolate(maps, size=tuple(size), mode="bilinear", align_corners=True)


def instances_at_input_size(network: nn.Module, image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``network(image, points)["instances"]`` ``(B, 1, h, w)`` resized to the input's ``(H, W)``
    (bilinear, ``align_corners=True``, as the predictor resizes it)."""
    logits = network(image, points)["instances"]
    if logits.shape[2:] != image.shape[2:]:
        logits = F.interpolate(logits, size=image.shape[2:], mode="bilinear", align_corners=True)
    return logits


def instances_when_limited(
    network: nn.Module, limit: LimitLongestSide, image: torch.Tensor, points: torch.Tensor
) -> torch.Tensor:
    """``network``'s logits for ``image`` ``(B, C, H, W)`` shrunk by ``limit`` (its clicks
    ``points`` ``(B, 2N, 3)`` moved with it), at the size the network saw,
    ``limit.output_size(H, W)``; ``network``'s own output when the input is within the limit."""
    height, width = image.shape[2:]
    if limit.output_size(height, width) == (height, width):
        return network(image, points)["instances"]
    num_points = points.shape[1] // 2
    clicks_lists = [clicks_from_points(sample) for sample in points]
    small, small_clicks, _ = limit.transform(image, clicks_lists)  # x' = w x / W, y' = h y / H
    small_points = points_tensor(small_clicks, num_points=num_points, device=points.device)
    return instances_at_input_size(network, small, small_points)


class MaxSize(nn.Module):
    """``network`` shown its input shrunk to a long side of ``max_size`` pixels whenever it is longer.

    Args:
        network: called as ``network(image (B, 4, H, W), points (B, 2N, 3))`` returning
            ``{"instances": logits (B, 1, h, w)}``.
        max_size: the longest side, in pixels, the network may see (at least :data:`MIN_SIZE`).

    ``forward`` returns ``{"instances": logits}`` at the size the network saw,
    ``LimitLongestSide(max_size).output_size(H, W)`` (or the network's own output size when the
    input is within the limit); the predictor resizes them to the input, as it does any smaller
    answer.
    """

    def __init__(self, network: nn.Module, max_size: int):
        super().__init__()
        self.network = network
        self.limit = LimitLongestSide(max_size)

    @property
    def max_size(self) -> int:
        return self.limit.max_size

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"instances": instances_when_limited(self.network, self.limit, image, points)}

    def extra_repr(self) -> str:
        return f"max_size={self.max_size}"
