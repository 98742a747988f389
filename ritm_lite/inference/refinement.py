"""Mask refinement: a model wrapper that asks the network again, its own answer as the previous mask.

Not in the paper or the original code: a test-time choice of this course, measured for its
weights (``ritm_lite/weights/MODEL_CARD.md``, "Refining each click"). ITER-M trains the network
to improve a previous mask (its own earlier prediction) given the clicks. At a click, the
previous mask it sees is the answer to the clicks *before*; at the first click it is empty, so
one disk has to find the whole object. Asking the same clicks again, with the answer just given
in the mask channel (the input's last channel), lets the network do what it was trained for,
grow or trim a mask it is shown:

    p_0 = f(I, clicks, m)                      the usual pass (m: the previous click's answer, or zeros)
    p_k = f(I, clicks, sigmoid(p_(k-1))),  k = 1..n   the same clicks, the last answer as the mask

and :class:`Refine` returns ``p_n`` (logits). It wraps the network, so it runs inside the
predictor's transforms: on the same ZoomIn crop, each half of the flip batch refining its own
answer. Each extra pass costs one pass of what it wraps (with :class:`~ritm_lite.inference.
multi_scale.MultiScale` inside, a two-scale pass): ``n = 1`` doubles the cost of a click.

The same thing by hand, with a plain model, is a second :meth:`~ritm_lite.inference.Predictor.
predict` call with the same clicks: the predictor's previous prediction is then the first
answer (notebook 08 shows both). Checkpoints that need it say so in their ``meta["inference"]``
(:mod:`ritm_lite.inference.settings`), which wraps the model when it is loaded.
"""

from __future__ import annotations

import torch
from torch import nn

from ritm_lite.inference.limit_longest_side import instances_at_input_size

MAX_PASSES = 8
"""More extra passes are refused: each one costs a whole network pass per click, and the measured
gain stops at one (``MODEL_CARD.md``: two extra passes on the first click were already worse)."""


class Refine(nn.Module):
    """``network`` asked ``passes`` more times per call, each pass seeing the last answer as its mask.

    Args:
        network: called as ``network(image (B, 4, H, W), points (B, 2N, 3))`` returning
            ``{"instances": logits (B, 1, h, w)}``; ``image``'s last channel is the previous mask.
        passes: extra passes per call, ``1..MAX_PASSES``.

    ``forward`` returns ``{"instances": (B, 1, H, W) logits}`` of the last pass.
    """

    def __init__(self, network: nn.Module, passes: int):
        super().__init__()
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
            raise ValueError(f"refine must be a positive number of extra passes per click, got {passes!r}")
        if passes > MAX_PASSES:
            raise ValueError(f"refine={passes} extra passes per click: at most {MAX_PASSES} (each is a whole "
                             "network pass per click, and the measured gain stops at one)")
        self.network = network
        self.passes = passes

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.ndim != 4 or image.shape[1] < 2:
            raise ValueError(f"Refine needs a (B, C, H, W) input whose last channel is the previous mask, "
                             f"got shape {tuple(image.shape)}")
        logits = instances_at_input_size(self.network, image, points)
        for _ in range(self.passes):  # p_k = f(I, clicks, sigmoid(p_(k-1)))
            image = torch.cat([image[:, :-1], torch.sigmoid(logits)], dim=1)
            logits = instances_at_input_size(self.network, image, points)
        return {"instances": logits}

    def extra_repr(self) -> str:
        return f"passes={self.passes}"
