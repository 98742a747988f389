"""Training logs: a CSV file always, TensorBoard when it is installed."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any


class RunLog:
    """Append rows of scalars to ``<out>/<name>.csv`` and to TensorBoard (``<out>/tensorboard``).

    Only the main process should create one. ``rows`` keeps what this process logged.
    """

    def __init__(self, out_dir: str | Path, tensorboard: bool = True):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # pragma: no cover - tensorboard is in the course extra
                warnings.warn("tensorboard is not installed: logging to CSV only", stacklevel=2)
            else:
                self._writer = SummaryWriter(log_dir=str(self.out_dir / "tensorboard"))

    def log(self, name: str, step: int, **values: float) -> None:
        """Record ``values`` at ``step`` in ``<name>.csv`` and as TensorBoard scalars ``name/key``."""
        row = {"step": step, **values}
        self.rows.setdefault(name, []).append(row)
        path = self.out_dir / f"{name}.csv"
        new_file = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new_file:
                writer.writeheader()
            writer.writerow(row)
        if self._writer is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self._writer.add_scalar(f"{name}/{key}", value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def read_log(path: str | Path) -> list[dict[str, float]]:
    """Read a CSV written by :class:`RunLog` back as a list of dicts of floats."""
    with Path(path).open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
