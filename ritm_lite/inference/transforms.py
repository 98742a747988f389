"""The predictor's transforms: one interface, applied in order, undone in reverse.

As in the original predictor, every test-time transform of the paper's protocol maps the network
input and its clicks forward, and maps the network's answer back:

    transform(image_nd, clicks_lists) -> (image_nd', clicks_lists', view)
    inv_transform(maps, view)         -> maps at the size before the transform

``view`` is whatever the inverse needs (ZoomIn's box, the size before LimitLongestSide;
``None`` for flip and the sigmoid), so the transforms keep no state between calls. The
predictor applies, in this order (each one optional except the sigmoid):

1. :class:`~ritm_lite.inference.zoom_in.ZoomIn` (bound to the box kept from the click before,
   :meth:`ZoomIn.at`): crop around the object;
2. :class:`~ritm_lite.inference.limit_longest_side.LimitLongestSide`: shrink what is still
   longer than ``max_size``;
3. :class:`Sigmoid`: nothing forward; logits -> probabilities on the way back;
4. :class:`~ritm_lite.inference.flip.HorizontalFlip`: add the mirror image (a batch of two).

On the way back the order reverses: flip averages the two *logit* maps, the sigmoid makes
probabilities, LimitLongestSide resizes them up, ZoomIn pastes the crop into the full image —
the original's ``AddHorizontalFlip``, ``SigmoidForPred``, ``LimitLongestSide``, ``ZoomIn``.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from ritm_lite.clicks import Click


class InferenceTransform(Protocol):
    """What the predictor needs from each transform (see the module docstring)."""

    def transform(
        self, image_nd: torch.Tensor, clicks_lists: list[list[Click]]
    ) -> tuple[torch.Tensor, list[list[Click]], Any]:
        """``(B, C, H, W)`` input and one click list per sample -> transformed, plus a view."""
        ...

    def inv_transform(self, maps: torch.Tensor, view: Any) -> torch.Tensor:
        """``(B', 1, h, w)`` maps of the transformed input -> maps of the input before it."""
        ...


class Sigmoid:
    """Logits -> probabilities on the way back (the original's ``SigmoidForPred``); forward: nothing.

    It sits between flip (which averages logits) and the resizing transforms (which resize
    probabilities), so the order of the list is the order of the maths.
    """

    def transform(
        self, image_nd: torch.Tensor, clicks_lists: list[list[Click]]
    ) -> tuple[torch.Tensor, list[list[Click]], None]:
        return image_nd, clicks_lists, None

    def inv_transform(self, maps: torch.Tensor, view: None = None) -> torch.Tensor:
        return torch.sigmoid(maps)  # p = 1 / (1 + exp(-logit))
