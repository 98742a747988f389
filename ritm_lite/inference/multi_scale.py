"""Two-scale averaging: the network also sees a shrunk copy of an input that is large.

Not in the paper or the original code: a test-time choice of this course, measured for its
weights (``ritm_lite/weights/MODEL_CARD.md``, "Two scales at every click"). A network
trained on small crops recognises a large object best when it is shown smaller, and a small
object best at full size. When what the network would see is longer than ``size`` pixels,
:class:`MultiScale` runs it twice, on the input and on a copy whose long side is ``size``
(:class:`~ritm_lite.inference.limit_longest_side.LimitLongestSide`), and averages the two
probability maps at the input's resolution:

    p = 0.5 * (sigmoid(f(I)) + resize(sigmoid(f(shrink(I)))))

It acts on every network input longer than ``size``: the first click's whole photo and,
with ``size`` below ZoomIn's ``target_size`` (400), every ZoomIn crop as well. The second pass
costs ``(size / long side)^2`` of the first: 0.64 at ``size`` 320 on a 400-px crop.
"""

from __future__ import annotations

from ritm_lite.inference.limit_longest_side import LimitLongestSide


class MultiScale:
    """Average the prediction with that of a copy shrunk to a long side of ``size`` pixels,
    whenever the input is longer than that.

    Args:
        size: the shrunk copy's longest side, in pixels (positive).
    """

    def __init__(self, size: int):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"multi_scale must be a positive number of pixels (the shrunk copy's long side), got {size!r}")
        self.shrink = LimitLongestSide(size)
        self.size = size

    def applies(self, height: int, width: int) -> bool:
        """Whether an ``height`` x ``width`` input gets a second, shrunk pass."""
        return max(height, width) > self.size

    def __repr__(self) -> str:
        return f"MultiScale(size={self.size})"
