"""Two-scale averaging: a model wrapper that also shows the network a shrunk copy of a large input.

Not in the paper or the original code: a test-time choice of this course, measured for its
weights (``ritm_lite/weights/MODEL_CARD.md``, "Two scales at every click"). A network trained
on small crops recognises a large object best when it is shown smaller, and a small object best
at full size. :class:`MultiScale` wraps the network: when its input is longer than ``size``
pixels, it runs the network twice, on the input and on a copy whose long side is ``size``
(LimitLongestSide's maths), and averages the two probability maps at the input's resolution:

    p = 0.5 * (sigmoid(f(I)) + resize(sigmoid(f(shrink(I)))))
    logits = log(p / (1 - p))          (returned, so the predictor's flip and sigmoid apply as usual)

It is a model, not a predictor option: the predictor's transforms (ZoomIn, LimitLongestSide,
flip) run first, so it acts on every network input longer than ``size``: the first click's whole
photo and, with ``size`` below ZoomIn's ``target_size`` (400), every ZoomIn crop too. The second
pass costs ``(size / long side)^2`` of the first: 0.64 at ``size`` 320 on a 400-px crop.
Checkpoints that need it say so in their ``meta["inference"]``
(:mod:`ritm_lite.inference.settings`), which wraps the model when it is loaded.
"""

from __future__ import annotations

import torch
from torch import nn

from ritm_lite.inference.limit_longest_side import LimitLongestSide, instances_at_input_size, instances_when_limited

LOGIT_EPS = 1e-6  # p is clamped to [eps, 1 - eps] before the logit, so the logits stay finite


class MultiScale(nn.Module):
    """``network`` whose answer is averaged with its answer on a copy shrunk to a long side of
    ``size`` pixels, whenever the input is longer than that.

    Args:
        network: called as ``network(image (B, 4, H, W), points (B, 2N, 3))`` returning
            ``{"instances": logits (B, 1, h, w)}``.
        size: the shrunk copy's longest side, in pixels (positive).

    ``forward`` returns ``{"instances": (B, 1, H, W) logits}`` of the averaged probabilities.
    """

    def __init__(self, network: nn.Module, size: int):
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"multi_scale must be a positive number of pixels (the shrunk copy's long side), got {size!r}")
        self.network = network
        self.size = size
        self.shrink = LimitLongestSide(size)

    def applies(self, height: int, width: int) -> bool:
        """Whether an ``height`` x ``width`` input gets a second, shrunk pass."""
        return max(height, width) > self.size

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = instances_at_input_size(self.network, image, points)
        if not self.applies(*image.shape[2:]):
            return {"instances": logits}
        small_probs = torch.sigmoid(instances_when_limited(self.network, self.shrink, image, points))  # at the copy's size
        probs = 0.5 * (torch.sigmoid(logits) + self.shrink.inv_transform(small_probs, image.shape[2:]))  # p = (p(I) + p(shrink I)) / 2
        return {"instances": torch.logit(probs, eps=LOGIT_EPS)}

    def extra_repr(self) -> str:
        return f"size={self.size}"
