"""Training logs: a CSV file always, TensorBoard when it is installed."""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class RunLog:
    """Append rows of scalars to ``<out>/<name>.csv`` and to TensorBoard (``<out>/tensorboard``).

    Only the main process should create one. ``rows`` keeps what this process logged. The
    TensorBoard writer is opened at the first row logged (and again after :meth:`rewind`).
    """

    def __init__(self, out_dir: str | Path, tensorboard: bool = True):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self._tensorboard = tensorboard
        self._purge_step: int | None = None
        self._writer = None

    def _summary_writer(self):
        """The TensorBoard writer (``None`` without TensorBoard), opened on first use."""
        if self._writer is None and self._tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # pragma: no cover - tensorboard is in the course extra
                warnings.warn("tensorboard is not installed: logging to CSV only", stacklevel=3)
                self._tensorboard = False
            else:
                self._writer = SummaryWriter(
                    log_dir=str(self.out_dir / "tensorboard"), purge_step=self._purge_step
                )
        return self._writer

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
        summary = self._summary_writer()
        if summary is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    summary.add_scalar(f"{name}/{key}", value, step)

    def rewind(self, step: int, names: Iterable[str]) -> None:
        """Forget what an earlier run logged after ``step`` (a resume from a checkpoint).

        A run killed after its last checkpoint logged rows that the resumed run logs again.
        Rows of ``<name>.csv`` with a larger step are dropped (the file is rewritten), and
        TensorBoard is (re)opened with ``purge_step=step + 1``, which hides the earlier
        events from that step on.
        """
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._purge_step = step + 1
        for name in names:
            if name in self.rows:
                self.rows[name] = [row for row in self.rows[name] if row["step"] <= step]
            path = self.out_dir / f"{name}.csv"
            if not path.exists():
                continue
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                fields, rows = reader.fieldnames, list(reader)
            kept = [row for row in rows if float(row["step"]) <= step]
            if len(kept) == len(rows):
                continue
            partial = path.with_name(path.name + ".tmp")
            with partial.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=fields)
                writer.writeheader()
                writer.writerows(kept)
            partial.replace(path)  # atomic: a kill here leaves the old or the new file

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def read_log(path: str | Path) -> list[dict[str, float]]:
    """Read a CSV written by :class:`RunLog` back as a list of dicts of floats."""
    with Path(path).open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
