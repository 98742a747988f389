"""Reporting evaluation results: the paper-style table, the mIoU-vs-clicks plot, and a
model's NoC on the benchmarks beside the published numbers (:data:`PUBLISHED_NOC`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ritm_lite.evaluation.loop import DatasetResult

PUBLISHED_NOC: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "hrnet18s_cocolvis_itermask": {"GrabCut": (1.54, 1.68), "Berkeley": (None, 2.60), "SBD": (4.04, 6.48),
                                   "DAVIS": (4.70, 5.98), "PascalVOC": (2.57, None), "COCO_MVal": (None, 3.33)},
    "hrnet18_cocolvis_itermask": {"GrabCut": (1.42, 1.54), "Berkeley": (None, 2.26), "SBD": (3.80, 6.06),
                                  "DAVIS": (4.36, 5.74), "PascalVOC": (2.28, None), "COCO_MVal": (None, 2.98)},
    "hrnet32_cocolvis_itermask": {"GrabCut": (1.46, 1.56), "Berkeley": (None, 2.10), "SBD": (3.59, 5.71),
                                  "DAVIS": (4.11, 5.34), "PascalVOC": (2.57, None), "COCO_MVal": (None, 2.97)},
}
"""Training preset -> benchmark -> ``(NoC@85, NoC@90)`` of the released checkpoint trained with it
(COCO+LVIS, ITER-M), as the original repository's README tables them
(SamsungLabs/ritm_interactive_segmentation); ``None``: the README gives only the other number."""


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


def published_comparison(measured: Mapping[str, Mapping[str, float] | str], preset: str) -> str:
    """A markdown table: each benchmark's measured NoC@85 / NoC@90 beside :data:`PUBLISHED_NOC`.

    Args:
        measured: benchmark -> its result's table (``{"NoC@85": ..., "NoC@90": ...}``, as
            :meth:`DatasetResult.summary` and the evaluation JSON give it), or a string saying
            why it was skipped.
        preset: the training preset whose published row goes beside (``-`` where none).
    """
    published = PUBLISHED_NOC.get(preset, {})

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = ["| benchmark | NoC@85 | NoC@90 | published NoC@85 | published NoC@90 |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, row in measured.items():
        paper85, paper90 = published.get(name, (None, None))
        ours = (f"skipped: {row} | " if isinstance(row, str)
                else f"{row['NoC@85']:.2f} | {row['NoC@90']:.2f}")
        lines.append(f"| {name} | {ours} | {number(paper85)} | {number(paper90)} |")
    return "\n".join(lines)
