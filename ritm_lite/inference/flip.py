"""Horizontal-flip averaging: the network sees the image and its mirror image in one batch.

The predictor stacks the input and its left-right mirror into a batch of two, mirrors the
clicks with it (column ``x -> W - x - 1``), and averages the two *logit* maps after
mirroring the second one back:

    logits = 0.5 * (f(I, clicks) + flip(f(flip(I), flip(clicks))))

The sigmoid comes after the average (the original's order: flip averages logits, then
``SigmoidForPred`` turns them into probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ritm_lite.clicks import Click


def flip_clicks(clicks: Sequence[Click], width: int) -> list[Click]:
    """Mirror clicks left-right in an image ``width`` pixels wide: ``x -> width - x - 1``."""
    return [c.moved(x=width - c.x - 1, y=c.y) for c in clicks]


class HorizontalFlip:
    """The flip-averaging inference transform; it keeps no state between clicks."""

    def transform(
        self, image_nd: torch.Tensor, clicks_lists: list[list[Click]]
    ) -> tuple[torch.Tensor, list[list[Click]], None]:
        """``(B, C, H, W)`` -> ``(2B, C, H, W)``: the inputs followed by their mirror images.

        The click lists are doubled the same way (mirrored lists appended after the originals);
        the view is ``None`` (the inverse needs nothing).
        """
        if image_nd.ndim != 4:
            raise ValueError(f"expected a (B, C, H, W) input, got shape {tuple(image_nd.shape)}")
        width = image_nd.shape[3]
        doubled = torch.cat([image_nd, torch.flip(image_nd, dims=[3])], dim=0)
        return doubled, list(clicks_lists) + [flip_clicks(clicks, width) for clicks in clicks_lists], None

    def inv_transform(self, maps: torch.Tensor, view: None = None) -> torch.Tensor:
        """``(2B, 1, H, W)`` logits -> ``(B, 1, H, W)``: mean of each map and its mirrored twin."""
        if maps.ndim != 4 or maps.shape[0] % 2:
            raise ValueError(f"expected (2B, 1, H, W) maps, got shape {tuple(maps.shape)}")
        half = maps.shape[0] // 2
        return 0.5 * (maps[:half] + torch.flip(maps[half:], dims=[3]))
