"""Reporting evaluation results: the paper-style table and the mIoU-vs-clicks plot."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ritm_lite.evaluation.loop import DatasetResult


def format_table(results: Mapping[str, DatasetResult], dataset: str) -> str:
    """The paper's results table, one row per method.

    Args:
        results: ``{method name: result}``, all evaluated with the same protocol.
        dataset: dataset name for the second column.

    Returns:
        A text table with columns Method, Dataset, NoC@85, NoC@90, >=N@85, >=N@90, SPC,s.
    """
    if not results:
        raise ValueError("format_table needs at least one result")
    first = next(iter(results.values()))
    levels = [round(100 * t) for t in first.thresholds]
    n = first.max_clicks
    width = max(13, *(len(name) + 2 for name in results))
    header = f"|{'Method':^{width}}|{'Dataset':^11}|"
    header += "".join(f"{f'NoC@{lv}':^9}|" for lv in levels)
    header += "".join(f"{f'>={n}@{lv}':^9}|" for lv in levels)
    header += f"{'SPC,s':^8}|"
    rule = "-" * len(header)
    rows = [rule, header, rule]
    for name, result in results.items():
        if [round(100 * t) for t in result.thresholds] != levels or result.max_clicks != n:
            raise ValueError("all results in one table must share thresholds and max_clicks")
        table = result.noc_table
        row = f"|{name:^{width}}|{dataset:^11}|"
        row += "".join(f"{v:^9.2f}|" for v in table.noc)
        row += "".join(f"{v:^9d}|" for v in table.over_max)
        row += f"{result.seconds_per_click:^8.3f}|"
        rows.append(row)
    rows.append(rule)
    return "\n".join(rows)


def plot_miou_curves(results: Mapping[str, DatasetResult], dataset: str = "", ax=None):
    """Plot mean IoU after each click, one line per method; returns the matplotlib Figure.

    Without ``ax`` a new :class:`matplotlib.figure.Figure` is made without pyplot (so no GUI
    backend is needed: ``fig.savefig(path)``). Objects that stopped early keep their last IoU
    (see :func:`ritm_lite.evaluation.metrics.mean_iou_per_click`).
    """
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for name, result in results.items():
        curve = result.mean_iou_per_click()
        ax.plot(np.arange(1, len(curve) + 1), curve, marker="o", markersize=3, label=name)
    for t in next(iter(results.values())).thresholds if results else ():
        ax.axhline(t, color="grey", linewidth=0.8, linestyle=":")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of clicks")
    ax.set_ylabel("mean IoU")
    ax.set_ylim(0, 1)
    ax.set_title(f"mIoU vs clicks{' on ' + dataset if dataset else ''}")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
