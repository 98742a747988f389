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
from ritm_lite.evaluation import GrabCutPeer, evaluate_sample
from ritm_lite.inference import Predictor
from ritm_lite.utils import PROJECT_ROOT
from tests.cli_support import run_main


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


# ------------------------------------------------------------------------------------------------
# Bad input (`python -m pytest -k bad_input`) to `evaluate_sample` and `python -m
# ritm_lite.evaluate`: one line naming the problem (exit 2), never an object solved at the first
# click.


def test_bad_input_evaluate_sample_refuses_an_empty_or_misshapen_object():
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="no object pixel"):
        evaluate_sample(image, np.zeros((8, 8), np.int32), GrabCutPeer(), max_clicks=1)
    with pytest.raises(ValueError, match="size"):
        evaluate_sample(image, np.ones((8, 9), np.int32), GrabCutPeer(), max_clicks=1)


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    return run_main(evaluate.main, argv, capsys)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--pred-thr", "1.5"], "--pred-thr"),
        (["--pred-thr", "0"], "--pred-thr"),
        (["--target-iou", "-1"], "--target-iou"),
        (["--limit", "-1"], "--limit"),
        (["--limit", "0"], "--limit"),
        (["--max-clicks", "0"], "--max-clicks"),
        (["--val-fraction", "1.5"], "--val-fraction"),
    ],
)
def test_bad_input_evaluate_refuses_settings_out_of_range(tmp_path, capsys, flags, message):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    code, err = _cli(["--peer", "opencv-grabcut", "--data-root", str(data), *flags], capsys)
    assert code == 2 and message in err


@pytest.mark.parametrize("flags", [["--zoom-in-size", "0"], ["--zoom-in-size", "-5"], ["--max-size", "0"]])
def test_bad_input_evaluate_refuses_sizes_that_are_not_positive(tmp_path, capsys, flags):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    code, err = _cli(["--preset", "hrnet18s", "--data-root", str(data), *flags], capsys)
    assert code == 2 and flags[-2] in err  # the last flag named


def test_bad_input_evaluate_finds_an_unwritable_output_before_the_run(tmp_path, capsys):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code, err = _cli(["--peer", "opencv-grabcut", "--data-root", str(data),
                      "--json", str(blocker / "out.json")], capsys)
    assert code == 2 and err.startswith("error:") and "Traceback" not in err
    assert "GrabCut objects" not in err  # no progress bar: nothing was evaluated


@pytest.mark.parametrize("damage", ["empty", "size", "orphan"])
def test_bad_input_evaluate_reports_data_errors_in_one_line_naming_the_file(tmp_path, capsys, damage):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=2)
    if damage == "empty":
        cv2.imwrite(str(data / "boundary_GT" / "toy1.bmp"), np.zeros((48, 64), np.uint8))
    elif damage == "size":
        cv2.imwrite(str(data / "boundary_GT" / "toy1.bmp"), np.full((24, 64), 255, np.uint8))
    else:
        (data / "data_GT" / "toy1.png").unlink()
    out = tmp_path / "out.json"
    code, err = _cli(["--peer", "opencv-grabcut", "--data-root", str(data), "--max-clicks", "2",
                      "--json", str(out), "--quiet"], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error:") and "toy1" in err
    assert not out.exists()


def test_bad_input_evaluate_reports_a_missing_or_broken_checkpoint_in_one_line(tmp_path, capsys):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"\x00" * 64)
    for checkpoint in (tmp_path / "missing.pth", broken):
        code, err = _cli(["--checkpoint", str(checkpoint), "--data-root", str(data), "--quiet"], capsys)
        assert code == 2 and err.startswith("error:") and "Traceback" not in err


@pytest.mark.parametrize("flags", [["--no-zoom-in"], ["--no-zoom-in", "--no-flip", "--max-size", "32"]])
def test_bad_input_evaluate_runs_a_network_without_zoom_in(tmp_path, capsys, flags):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    out = tmp_path / "out.json"
    code, err = _cli(["--preset", "hrnet18s", "--data-root", str(data), "--max-clicks", "1", "--quiet",
                      "--json", str(out), *flags], capsys)
    assert code == 0, err
    record = __import__("json").loads(out.read_text())
    assert record["zoom_in"] is False and record["max_size"] == (32 if "--max-size" in flags else None)
    assert record["inference"] == {}  # random weights: no stored settings


@pytest.mark.parametrize("flags", [["--multi-scale", "320"], ["--refine", "1"], ["--refine-clicks", "1"]])
def test_bad_input_the_settings_flags_are_gone_they_come_from_the_checkpoint(tmp_path, capsys, flags):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    with pytest.raises(SystemExit):
        evaluate.parse_args(["--preset", "hrnet18s", "--data-root", str(data), *flags])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_bad_input_evaluate_refuses_a_max_size_for_a_peer(tmp_path, capsys):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    code, err = _cli(["--peer", "opencv-grabcut", "--data-root", str(data), "--max-size", "320"], capsys)
    assert code == 2 and "--max-size" in err


def test_bad_input_evaluate_refuses_a_zoom_in_size_without_zoom_in(tmp_path, capsys):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    code, err = _cli(["--preset", "hrnet18s", "--data-root", str(data), "--no-zoom-in", "--zoom-in-size", "300"], capsys)
    assert code == 2 and "--zoom-in-size" in err


@pytest.mark.parametrize("flags", [["--no-zoom-in", "--zoom-in-skip-clicks", "-1"], ["--zoom-in-skip-clicks", "-2"]])
def test_bad_input_evaluate_refuses_a_zoom_in_skip_without_zoom_in_or_below_minus_one(tmp_path, capsys, flags):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    code, err = _cli(["--preset", "hrnet18s", "--data-root", str(data), *flags], capsys)
    assert code == 2 and "--zoom-in-skip-clicks" in err


def test_bad_input_evaluate_zooms_from_the_first_click_with_skip_minus_one(tmp_path, capsys):
    from ritm_lite.evaluate import build_predictor, parse_args

    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    base = ["--preset", "hrnet18s", "--data-root", str(data)]
    assert build_predictor(parse_args(base)).zoom_in.config.skip_clicks == 1  # the paper's default
    assert build_predictor(parse_args([*base, "--zoom-in-skip-clicks", "-1"])).zoom_in.config.skip_clicks == -1
    out = tmp_path / "out.json"
    code, err = _cli([*base, "--max-clicks", "1", "--quiet", "--json", str(out), "--zoom-in-skip-clicks", "-1"], capsys)
    assert code == 0, err
    record = __import__("json").loads(out.read_text())
    assert record["zoom_in_skip_clicks"] == -1 and "skip-1" in record["method"]


def test_the_json_names_the_data_folder_without_this_machines_path(tmp_path, monkeypatch):
    """Results are committed: the data folder is recorded as the course prints it (shown_path)."""
    monkeypatch.setenv("RITM_DATA", str(tmp_path))
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    out = tmp_path / "peer.json"
    assert evaluate.main(["--peer", "opencv-grabcut", "--data-root", str(data), "--max-clicks", "1",
                          "--quiet", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["data_root"] == "$RITM_DATA/GrabCut"
