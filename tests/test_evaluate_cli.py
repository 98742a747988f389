"""`python -m ritm_lite.evaluate`: table on stdout, JSON and plot files, on tiny GrabCut data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from ritm_lite import evaluate
from ritm_lite.inference import Predictor
from ritm_lite.utils import PROJECT_ROOT


def make_grabcut_folder(root: Path, count: int = 2) -> Path:
    """``count`` easy images (a red disk on green) in the GrabCut layout, with a 128 band."""
    rng = np.random.default_rng(0)
    (root / "data_GT").mkdir(parents=True)
    (root / "boundary_GT").mkdir()
    rows, cols = np.mgrid[:48, :64]
    for i in range(count):
        distance = np.sqrt((rows - 24) ** 2 + (cols - 20 - 10 * i) ** 2)
        image = np.where((distance <= 12)[..., None], [200, 40, 40], [40, 160, 120]) + rng.normal(
            0, 10, (48, 64, 3)
        )
        cv2.imwrite(
            str(root / "data_GT" / f"toy{i}.png"),
            np.clip(image, 0, 255).astype(np.uint8)[:, :, ::-1],
        )
        mask = np.where(distance <= 11, 255, np.where(distance <= 13, 128, 0)).astype(np.uint8)
        cv2.imwrite(str(root / "boundary_GT" / f"toy{i}.bmp"), mask)
    return root


def test_cli_with_the_grabcut_peer_writes_table_json_and_plot(tmp_path):
    data = make_grabcut_folder(tmp_path / "GrabCut")
    out_json, out_png = tmp_path / "out" / "result.json", tmp_path / "out" / "miou.png"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ritm_lite.evaluate",
            "--peer",
            "opencv-grabcut",
            "--dataset",
            "GrabCut",
            "--data-root",
            str(data),
            "--max-clicks",
            "3",
            "--json",
            str(out_json),
            "--plot",
            str(out_png),
            "--quiet",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert (
        "NoC@85" in completed.stdout
        and "opencv-grabcut" in completed.stdout
        and ">=3@90" in completed.stdout
    )
    record = json.loads(out_json.read_text())
    assert record["dataset"] == "GrabCut" and record["protocol"]["max_clicks"] == 3
    assert [o["name"] for o in record["objects"]] == ["toy0", "toy1"]
    first = record["objects"][0]
    assert 1 <= len(first["ious"]) <= 3 and len(first["clicks"]) == len(first["ious"])
    assert first["clicks"][0][2] is True  # the first click is positive
    assert record["table"]["NoC@90"] == pytest.approx(
        np.mean([o["noc"][1] for o in record["objects"]])
    )
    assert f"{record['table']['NoC@90']:.2f}" in completed.stdout
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class ConstantNet(nn.Module):
    """Predicts a fixed disk wherever the clicks are: enough to drive the loop."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, image, points):
        height, width = image.shape[2:]
        rows = torch.arange(height).view(1, height, 1)
        cols = torch.arange(width).view(1, 1, width)
        first = points[:, 0]  # the first positive click of each sample
        inside = (rows - first[:, 0, None, None]) ** 2 + (
            cols - first[:, 1, None, None]
        ) ** 2 <= 100
        return {"instances": self.scale * (inside.float() - 0.5)[:, None]}


def test_run_evaluates_a_model_predictor(tmp_path, capsys):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    args = evaluate.parse_args(
        [
            "--preset",
            "any",
            "--data-root",
            str(data),
            "--max-clicks",
            "2",
            "--quiet",
            "--no-zoom-in",
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    result = evaluate.run(args, Predictor(ConstantNet(), zoom_in=False, flip=True))
    assert len(result.names) == 1 and result.ious[0][0] > 0.5
    out = capsys.readouterr().out
    assert "any (random)+flip" in out and "random weights" in out
    assert json.loads((tmp_path / "r.json").read_text())["flip"] is True


def test_main_with_a_random_weight_preset(tmp_path, capsys):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    out_json = tmp_path / "preset.json"
    code = evaluate.main(
        [
            "--preset",
            "hrnet18s",
            "--data-root",
            str(data),
            "--max-clicks",
            "2",
            "--zoom-in-size",
            "64",
            "--device",
            "cpu",
            "--quiet",
            "--json",
            str(out_json),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "hrnet18s (random)+zoom+flip" in out and "random weights" in out
    record = json.loads(out_json.read_text())
    assert record["preset"] == "hrnet18s" and record["zoom_in"] and record["flip"]
    assert 1 <= len(record["objects"][0]["ious"]) <= 2 and record["table"]["SPC"] > 0


def test_cli_refuses_missing_method_and_bad_dataset(tmp_path):
    with pytest.raises(SystemExit):
        evaluate.parse_args(["--dataset", "GrabCut", "--data-root", str(tmp_path)])
    with pytest.raises(SystemExit):
        evaluate.parse_args(
            ["--peer", "opencv-grabcut", "--dataset", "Nope", "--data-root", str(tmp_path)]
        )
    with pytest.raises(SystemExit):
        evaluate.parse_args(
            ["--checkpoint", "x.pth", "--preset", "hrnet18s", "--data-root", str(tmp_path)]
        )


def test_without_json_or_plot_both_files_get_default_names(tmp_path, monkeypatch, capsys):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    monkeypatch.chdir(tmp_path)
    args = ["--peer", "opencv-grabcut", "--data-root", str(data), "--max-clicks", "2", "--quiet"]
    assert evaluate.main(args) == 0
    out_json = tmp_path / "GrabCut_opencv-grabcut.json"
    out_png = tmp_path / "GrabCut_opencv-grabcut.png"
    record = json.loads(out_json.read_text())
    assert record["method"] == "opencv-grabcut"
    assert [o["name"] for o in record["objects"]] == ["toy0"]
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out_json.name} and {out_png.name}" in capsys.readouterr().out
    # --json alone puts the plot beside it; --plot alone keeps the default JSON name
    named = evaluate.parse_args(args + ["--json", "runs/a.json"])
    assert evaluate.output_paths(named) == (Path("runs/a.json"), Path("runs/a.png"))
    plotted = evaluate.parse_args(
        ["--preset", "hrnet18s", "--data-root", str(data), "--no-flip", "--dataset", "DAVIS",
         "--plot", "p.png"]
    )
    assert evaluate.output_paths(plotted) == (
        Path("DAVIS_hrnet18s_random_zoom.json"),
        Path("p.png"),
    )


@pytest.mark.parametrize(
    "dataset, extra, size",
    [("DAVIS", [], 600), ("GrabCut", [], 400), ("DAVIS", ["--zoom-in-size", "320"], 320)],
)
def test_the_predictor_zooms_to_600_px_on_davis_only(tmp_path, dataset, extra, size):
    args = evaluate.parse_args(
        ["--preset", "hrnet18s", "--dataset", dataset, "--data-root", str(tmp_path),
         "--device", "cpu", *extra]
    )
    predictor = evaluate.build_predictor(args)
    assert predictor.zoom_in is not None and predictor.zoom_in.config.target_size == size
    assert predictor.flip is not None


def make_mval_folder(root: Path) -> Path:
    """Six instances of four COCO image ids in the COCO_MVal layout (img/ + gt/)."""
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    rows, cols = np.mgrid[:40, :56]
    for k, name in enumerate(["disk00_000000000001", "disk01_000000000001", "disk00_000000000002",
                              "disk00_000000000003", "disk01_000000000003", "disk00_000000000004"]):
        inside = (rows - 20) ** 2 + (cols - 12 - 5 * k) ** 2 <= 64
        image = np.where(inside[..., None], [200, 40, 40], [40, 160, 120]).astype(np.uint8)
        cv2.imwrite(str(root / "img" / f"{name}.png"), image[:, :, ::-1])
        cv2.imwrite(str(root / "gt" / f"{name}.png"), inside.astype(np.uint8) * 255)
    return root


@pytest.mark.parametrize("side", ["train", "val"])
def test_training_split_evaluates_exactly_the_training_clis_split(tmp_path, side, capsys):
    from ritm_lite.data.datasets import split_by_image_id

    data = make_mval_folder(tmp_path / "mval")
    out = tmp_path / "split.json"
    evaluate.main(["--peer", "opencv-grabcut", "--dataset", "COCO_MVal", "--data-root", str(data),
                   "--training-split", side, "--val-fraction", "0.5", "--max-clicks", "1",
                   "--quiet", "--json", str(out)])
    names = sorted(p.stem for p in (data / "gt").iterdir())
    expected = dict(zip(["train", "val"], split_by_image_id(names, 0.5, seed=0)))[side]
    record = json.loads(out.read_text())
    assert sorted(o["name"] for o in record["objects"]) == expected and 0 < len(expected) < len(names)
    assert record["training_split"] == side
    assert f"{side} split: {len(expected)} objects" in capsys.readouterr().out


def test_backend_runs_the_same_network_another_way(tmp_path, capsys):
    """--backend fast gives the eager numbers (same network, BN folded); bf16 is marked in
    the row name and JSON; nonsense combinations are refused."""
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    common = ["--preset", "efficientnet_lite0", "--data-root", str(data), "--max-clicks", "2",
              "--zoom-in-size", "64", "--device", "cpu", "--quiet"]
    records = {}
    for backend in ("eager", "fast", "bf16"):
        out_json = tmp_path / f"{backend}.json"
        assert evaluate.main(common + ["--backend", backend, "--json", str(out_json)]) == 0
        records[backend] = json.loads(out_json.read_text())
    assert records["fast"]["backend"] == "fast" and records["fast"]["method"].endswith("+fast")
    assert records["eager"]["method"] == "efficientnet_lite0 (random)+zoom+flip"
    np.testing.assert_allclose(records["fast"]["objects"][0]["ious"], records["eager"]["objects"][0]["ious"],
                               atol=1e-3)
    assert records["bf16"]["method"].endswith("+bf16")
    bad = [
        ["--peer", "opencv-grabcut", "--backend", "fast"],
        ["--preset", "hrnet18s", "--backend", "onnxruntime", "--device", "cuda"],
        ["--preset", "hrnet18s", "--calibration-data", str(tmp_path)],
        ["--preset", "hrnet18s", "--backend", "int8", "--calibration-objects", "0",
         "--calibration-data", str(tmp_path)],
    ]
    for argv in bad:
        with pytest.raises(SystemExit):
            evaluate.parse_args(argv + ["--data-root", str(data)])
