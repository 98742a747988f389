"""Mask refinement: each click asked again, with the model's own answer as the previous mask.

Not in the paper or the original code: a test-time choice of this course, measured for its
weights (``ritm_lite/weights/MODEL_CARD.md``, "Refining each click"). ITER-M trains the
network to improve a previous mask (its own earlier prediction) given the clicks. At a click,
the previous mask it sees is the answer to the clicks *before*; at the first click it is empty,
so one disk has to find the whole object. Asking the same clicks again, with the answer just
given in the mask channel, lets the network do what it was trained for, grow or trim a mask it
is shown:

    p_0 = f(I, clicks, m)                  the usual pass (m: the previous click's answer, or zeros)
    p_k = f(I, clicks, p_(k-1)),  k = 1..n   the same clicks, the last answer as the mask

and the predictor returns (and keeps, as the next click's mask) ``p_n``. Each extra pass costs
one pass of the predictor's own kind (ZoomIn, flip, ``multi_scale``): ``n = 1`` doubles the
cost of the clicks it applies to.
"""

from __future__ import annotations


class MaskRefinement:
    """Run each of the first ``clicks`` clicks (all: ``None``) ``passes`` more times, each
    pass seeing the last one's answer as its mask.

    Args:
        passes: extra passes per click (positive).
        clicks: refine the first this many clicks only (positive); ``None``: every click.
    """

    def __init__(self, passes: int, clicks: int | None = None):
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
            raise ValueError(f"refine must be a positive number of extra passes per click, got {passes!r}")
        if clicks is not None and (isinstance(clicks, bool) or not isinstance(clicks, int) or clicks < 1):
            raise ValueError(f"refine_clicks must be a positive number of clicks or None (every click), got {clicks!r}")
        self.passes = passes
        self.clicks = clicks

    def extra_passes(self, num_clicks: int) -> int:
        """How many extra passes the prediction for ``num_clicks`` clicks gets."""
        return self.passes if self.clicks is None or num_clicks <= self.clicks else 0

    def __repr__(self) -> str:
        return f"MaskRefinement(passes={self.passes}, clicks={self.clicks})"
