"""IoU, NoC and the evaluation loop on analytic cases, plus NoC against the original's numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ritm_lite.data.benchmarks import Sample
from ritm_lite.evaluation import (
    DatasetResult,
    clicks_to_reach,
    evaluate_dataset,
    evaluate_sample,
    format_table,
    iou,
    mean_iou_per_click,
    noc,
    plot_miou_curves,
)


def test_iou_ignores_the_ignore_label():
    gt = np.array([[1, 1, 0, -1], [1, 0, 0, -1]])
    pred = np.array([[1, 0, 1, 1], [1, 0, 0, 1]], bool)
    # intersection 2; union over valid pixels: (0,0) (0,1) (0,2) (1,0) -> 4
    assert iou(gt, pred) == 0.5
    assert iou(gt, np.zeros_like(pred)) == 0.0
    assert iou(np.zeros((2, 2), np.int32), np.zeros((2, 2), bool)) == 1.0  # both empty
    with pytest.raises(ValueError):
        iou(gt, pred[:, :2])


def test_noc_on_analytic_curves():
    curves = [[0.5, 0.86, 0.91], [0.2, 0.3], [0.95]]
    assert clicks_to_reach(curves[0], 0.85) == 2 and clicks_to_reach(curves[0], 0.9) == 3
    assert clicks_to_reach(curves[1], 0.85, max_clicks=20) == 20
    table = noc(curves, (0.85, 0.9), max_clicks=20)
    assert table.noc == pytest.approx(((2 + 20 + 1) / 3, (3 + 20 + 1) / 3))
    assert table.over_max == (1, 1)
    np.testing.assert_array_equal(table.per_object, [[2, 3], [20, 20], [1, 1]])
    assert table.as_dict() == {
        "NoC@85": table.noc[0],
        "NoC@90": table.noc[1],
        ">=20@85": 1,
        ">=20@90": 1,
    }


def test_reaching_the_target_at_the_last_click_counts_in_the_over_max_column():
    """The original's ">=20" counts NoC == max_clicks, so a success at click 20 is counted."""
    curve = [0.1] * 19 + [0.95]
    assert noc([curve], (0.9,), max_clicks=20).over_max == (1,)


def test_noc_matches_the_original(reference_dir):
    example = torch.load(reference_dir / "ritm_eval_trajectory_reference.pt", weights_only=True)[
        "noc_example"
    ]
    table = noc(example["all_ious"], example["thrs"], example["max_clicks"])
    assert table.noc == pytest.approx(tuple(example["noc"]))
    assert table.over_max == tuple(example["over_max"])


def test_mean_iou_per_click_keeps_the_last_value_of_finished_objects():
    curve = mean_iou_per_click([[0.5, 0.95], [0.2, 0.4, 0.6, 0.8]], max_clicks=5)
    np.testing.assert_allclose(
        curve,
        [(0.5 + 0.2) / 2, (0.95 + 0.4) / 2, (0.95 + 0.6) / 2, (0.95 + 0.8) / 2, (0.95 + 0.8) / 2],
    )


class DiskPredictor:
    """A predictor that paints a disk of radius r around every positive click and erases one
    around every negative click; its 'model time' is a fixed 0.25 s."""

    def __init__(self, radius: int):
        self.radius = radius
        self.last_model_seconds = 0.0
        self.images = 0

    def set_image(self, image):
        self.shape = image.shape[:2]
        self.images += 1

    def predict(self, point_coords, point_labels):
        rows, cols = np.mgrid[: self.shape[0], : self.shape[1]]
        probs = np.zeros(self.shape, np.float32)
        for (x, y), label in zip(point_coords, point_labels):
            probs[(rows - y) ** 2 + (cols - x) ** 2 <= self.radius**2] = float(label)
        self.last_model_seconds = 0.25
        return probs


def disk_gt(radius=6, size=(30, 30), centre=(15, 15)) -> np.ndarray:
    rows, cols = np.mgrid[: size[0], : size[1]]
    return ((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2).astype(np.int32)


def test_evaluate_sample_stops_at_the_target_iou():
    gt = disk_gt()
    image = np.zeros((30, 30, 3), np.uint8)
    result = evaluate_sample(image, gt, DiskPredictor(radius=6), target_iou=0.9)
    assert len(result.clicks) == 1 and result.ious[0] == 1.0  # the first click hits the centre
    assert result.clicks[0].x == 15 and result.clicks[0].y == 15 and result.clicks[0].is_positive
    never = evaluate_sample(image, gt, DiskPredictor(radius=1), target_iou=0.9, max_clicks=4)
    assert len(never.ious) == 4 and never.ious[-1] < 0.9
    assert all(c.is_positive for c in never.clicks) and len({(c.x, c.y) for c in never.clicks}) == 4
    np.testing.assert_allclose(never.seconds, 0.25)


def test_evaluate_dataset_collects_curves_table_and_timing(tmp_path):
    image = np.zeros((30, 30, 3), np.uint8)
    samples = [
        Sample(image, disk_gt(6), "hit"),
        Sample(image, disk_gt(12), "big"),
        Sample(image, disk_gt(3), "small"),
    ]
    result = evaluate_dataset(samples, DiskPredictor(radius=6), max_clicks=5, progress=False)
    assert result.names == ["hit", "big", "small"]
    assert result.noc_table.per_object[0].tolist() == [1, 1]
    assert result.noc_table.per_object[2].tolist() == [5, 5]  # the disk overshoots the small object
    assert result.seconds_per_click == pytest.approx(0.25)
    limited = evaluate_dataset(
        iter(samples), DiskPredictor(radius=6), max_clicks=5, limit=2, progress=False
    )
    assert limited.names == ["hit", "big"]

    data = json.loads(json.dumps(result.to_dict()))
    assert data["table"]["NoC@90"] == pytest.approx(result.noc_table.noc[1])
    assert data["objects"][0] == {
        "name": "hit",
        "ious": [1.0],
        "clicks": [[15.0, 15.0, True]],
        "noc": [1, 1],
    }
    assert len(data["mean_iou_per_click"]) == 5

    table = format_table({"disk": result}, "toy")
    assert "NoC@85" in table and ">=5@90" in table and "disk" in table
    assert f"{result.noc_table.noc[1]:.2f}" in table
    fig = plot_miou_curves({"disk": result}, "toy")
    fig.savefig(tmp_path / "miou.png")
    assert (tmp_path / "miou.png").stat().st_size > 0


def test_dataset_result_needs_objects():
    with pytest.raises(ValueError):
        evaluate_dataset([], DiskPredictor(3), progress=False)
    with pytest.raises(ValueError):
        DatasetResult([], [], [], [], max_clicks=20, target_iou=0.9, pred_thr=0.49)


def test_published_comparison_puts_measured_noc_beside_the_readme_row():
    from ritm_lite.evaluation.report import PUBLISHED_NOC, published_comparison

    text = published_comparison({"GrabCut": {"NoC@85": 3.5, "NoC@90": 5.25}, "SBD": "not downloaded"},
                                "hrnet18_cocolvis_itermask")
    lines = text.splitlines()
    assert lines[2] == "| GrabCut | 3.50 | 5.25 | 1.42 | 1.54 |"
    assert lines[3] == "| SBD | skipped: not downloaded |  | 3.80 | 6.06 |"
    assert all(line.count("|") == 6 for line in lines)  # every row has the header's five columns
    assert PUBLISHED_NOC["hrnet18s_cocolvis_itermask"]["GrabCut"] == (1.54, 1.68)  # as the weights registry says
    assert "| GrabCut | 3.50 | 5.25 | - | - |" in published_comparison({"GrabCut": {"NoC@85": 3.5, "NoC@90": 5.25}}, "course")
