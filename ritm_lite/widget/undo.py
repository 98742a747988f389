"""A bounded undo stack: predictor snapshots kept within a memory budget, oldest dropped first.

Each click of the widget pushes one step: the predictor's snapshot (``get_state()``: RITM's
previous mask at image size, ZoomIn's box) and the object's probability map before the click.
On a 12-megapixel photo that is two ``float32`` maps, ~96 MB per click, so an unbounded stack
grows without limit. :class:`UndoStack` keeps at most ``budget_mb`` MiB of steps (512 by
default: about five clicks on 12 MP, hundreds on a small photo): pushing past it drops the
oldest steps, counted in :attr:`UndoStack.dropped`, and always keeps the newest one, so the
last click can always be undone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import numpy as np

UNDO_MEMORY_MB = 512.0
"""Default memory the undo stack of one object may hold, in MiB."""


def snapshot_nbytes(value: Any) -> int:
    """Bytes held by the arrays/tensors in ``value`` (nested dicts, sequences, dataclasses)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return 0
    if isinstance(value, bytes):
        return len(value)
    nbytes = getattr(value, "nbytes", None)  # numpy arrays and torch tensors
    if isinstance(nbytes, int):
        return nbytes
    if isinstance(value, dict):
        return sum(snapshot_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(snapshot_nbytes(v) for v in value)
    if is_dataclass(value):
        return sum(snapshot_nbytes(getattr(value, f.name)) for f in fields(value))
    return 0


@dataclass(frozen=True)
class UndoStep:
    """What one click changed, to be restored by undoing it."""

    predictor_state: Any  # predictor snapshot taken just before the click
    probability: np.ndarray | None  # the current object's map just before the click

    @property
    def nbytes(self) -> int:
        return snapshot_nbytes(self.predictor_state) + snapshot_nbytes(self.probability)


class UndoStack:
    """Undo steps of one object, within ``budget_mb`` MiB (see the module docstring).

    Raises:
        ValueError: ``budget_mb`` is not a finite number >= 0.
    """

    def __init__(self, budget_mb: float = UNDO_MEMORY_MB):
        if isinstance(budget_mb, bool) or not isinstance(budget_mb, (int, float, np.number)) \
                or not 0 <= float(budget_mb) < math.inf:
            raise ValueError(f"undo_memory_mb must be a finite number of MiB >= 0, got {budget_mb!r}")
        self.budget_mb = float(budget_mb)
        self.clear()

    def clear(self) -> None:
        """Forget every step (a new object)."""
        self._steps: list[UndoStep] = []
        self._sizes: list[int] = []
        self.dropped = 0  # the object's first clicks whose steps the budget dropped

    def push(self, step: UndoStep) -> None:
        """Add ``step``; drop the oldest while the stack holds more than the budget."""
        self._steps.append(step)
        self._sizes.append(step.nbytes)
        drop = 0
        total, budget = sum(self._sizes), self.budget_mb * 2**20
        while total > budget and drop < len(self._steps) - 1:  # the newest step is always kept
            total -= self._sizes[drop]
            drop += 1
        if drop:
            del self._steps[:drop], self._sizes[:drop]
            self.dropped += drop

    def pop(self) -> UndoStep:
        """The newest step, removed (``IndexError`` when empty)."""
        self._sizes.pop()
        return self._steps.pop()

    def __len__(self) -> int:
        return len(self._steps)

    @property
    def nbytes(self) -> int:
        """Bytes the steps hold."""
        return sum(self._sizes)
