"""Bad input to the benchmark readers, the training folders and `python -m ritm_lite.evaluate`.

The rule under test is one: a mask file means the same thing wherever it is read
(:mod:`ritm_lite.data.masks`), and an object with no pixel is an error naming its file, never
an object solved at the first click.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ritm_lite import evaluate
from tests.cli_support import run_main
from ritm_lite.data.benchmarks import load_benchmark
from ritm_lite.data.datasets import DatasetConfig, FolderDataset
from ritm_lite.data.masks import mask_labels, read_mask
from ritm_lite.evaluation import GrabCutPeer, evaluate_dataset, evaluate_sample
from tests.test_evaluate_cli import make_grabcut_folder


def _rewrite_masks(folder: Path, change) -> None:
    for path in sorted(folder.iterdir()):
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert cv2.imwrite(str(path), change(mask).astype(np.uint8))


def test_grabcut_masks_saved_as_0_1_are_objects_not_empty(tmp_path):
    grey = make_grabcut_folder(tmp_path / "a")
    _rewrite_masks(grey / "boundary_GT", lambda m: np.where(m > 128, 255, 0))  # 0/255, no band
    reference = load_benchmark("GrabCut", grey)
    relabelled = make_grabcut_folder(tmp_path / "b")
    _rewrite_masks(relabelled / "boundary_GT", lambda m: m > 128)  # the same object as 0/1
    for original, as_01 in zip(reference, load_benchmark("GrabCut", relabelled)):
        np.testing.assert_array_equal(as_01.gt_mask == 1, original.gt_mask == 1)
    # and the evaluation is the one of the 0/255 files, not a perfect NoC
    results = [
        evaluate_dataset(load_benchmark("GrabCut", root), GrabCutPeer(), max_clicks=3, progress=False)
        for root in (tmp_path / "a", relabelled)
    ]
    assert results[0].summary() | {"SPC": 0} == results[1].summary() | {"SPC": 0}


def test_an_empty_benchmark_mask_is_an_error_naming_the_file(tmp_path):
    data = make_grabcut_folder(tmp_path / "GrabCut")
    cv2.imwrite(str(data / "boundary_GT" / "toy1.bmp"), np.zeros((48, 64), np.uint8))
    samples = load_benchmark("GrabCut", data)
    samples[0]  # the other object is fine
    with pytest.raises(ValueError, match=r"toy1\.bmp.*no object pixel"):
        samples[1]


def test_an_ignore_band_without_object_is_an_error(tmp_path):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    _rewrite_masks(data / "boundary_GT", lambda m: np.where(m > 0, 128, 0))
    with pytest.raises(ValueError, match="no object pixel"):
        load_benchmark("GrabCut", data)[0]


def test_the_mask_rule(tmp_path):
    grey = np.array([[0, 3, 127], [128, 200, 255]], np.uint8)
    np.testing.assert_array_equal(mask_labels(grey, "m"), [[0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(mask_labels(grey, "m", ignore_band=True), [[0, 0, 0], [-1, 1, 1]])
    np.testing.assert_array_equal(mask_labels(np.array([[0, 1]], np.uint8), "m"), [[0, 1]])
    np.testing.assert_array_equal(mask_labels(np.array([[0, 40000]], np.uint16), "m"), [[0, 1]])
    np.testing.assert_array_equal(mask_labels(np.array([[False, True]]), "m"), [[0, 1]])
    for bad in (np.zeros((2, 2, 2), np.uint8), np.zeros((0, 3), np.uint8), np.ones((2, 2), np.float32)):
        with pytest.raises(ValueError, match="non-empty"):
            mask_labels(bad, "m")
    assert cv2.imwrite(str(tmp_path / "colour.png"), np.dstack([np.zeros((2, 2)), np.eye(2) * 255, np.zeros((2, 2))]))
    np.testing.assert_array_equal(read_mask(tmp_path / "colour.png"), np.eye(2))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read mask"):
        read_mask(tmp_path / "broken.png")


def _folder(root: Path, masks: dict[str, np.ndarray], size=(40, 48)) -> Path:
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    rng = np.random.default_rng(0)
    for name, mask in masks.items():
        image_id = name.split("_")[-1]
        image_path = root / "img" / f"{name}.png"
        cv2.imwrite(str(image_path), rng.integers(0, 256, (*size, 3), dtype=np.uint8))
        cv2.imwrite(str(root / "gt" / f"{name}.png"), mask)
        assert image_id
    return root


def _square(value: int, size=(40, 48)) -> np.ndarray:
    mask = np.zeros(size, np.uint8)
    mask[5:30, 8:40] = value
    return mask


def test_training_folders_read_0_1_label_maps_as_objects(tmp_path):
    config = DatasetConfig(augmentation=None, min_object_area=1, epoch_len=-1)
    grey = FolderDataset(_folder(tmp_path / "grey", {"a_000000000001": _square(255)}), config=config, seed=0)
    labels = FolderDataset(_folder(tmp_path / "labels", {"a_000000000001": _square(1)}), config=config, seed=0)
    objects = labels.load(0).masks
    assert objects.sum() == 25 * 32
    np.testing.assert_array_equal(objects, grey.load(0).masks)


def test_training_folders_refuse_empty_masks_when_made(tmp_path):
    data = _folder(tmp_path, {"a_000000000001": _square(255), "b_000000000002": _square(0)})
    with pytest.raises(ValueError, match=r"b_000000000002\.png.*no object pixel"):
        FolderDataset(data, config=DatasetConfig(augmentation=None), seed=0)


def test_training_folders_refuse_a_mask_of_another_size(tmp_path):
    data = _folder(tmp_path, {"a_000000000001": _square(255)})
    cv2.imwrite(str(data / "gt" / "a_000000000001.png"), _square(255, size=(20, 48)))
    dataset = FolderDataset(data, config=DatasetConfig(augmentation=None), seed=0)
    with pytest.raises(ValueError, match=r"a_000000000001\.png is 48x20 but its image"):
        dataset.load(0)


def test_a_mask_without_an_image_is_an_error_not_skipped(tmp_path):
    data = _folder(tmp_path, {"a_000000000001": _square(255)})
    cv2.imwrite(str(data / "gt" / "lonely_000000000009.png"), _square(255))
    with pytest.raises(FileNotFoundError, match="lonely_000000000009.png"):
        FolderDataset(data, config=DatasetConfig(augmentation=None), seed=0)
    with pytest.raises(FileNotFoundError, match="lonely_000000000009.png"):
        load_benchmark("COCO_MVal", data)


def test_evaluate_sample_refuses_an_empty_or_misshapen_object():
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
def test_evaluate_refuses_settings_out_of_range(tmp_path, capsys, flags, message):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    code, err = _cli(["--peer", "opencv-grabcut", "--data-root", str(data), *flags], capsys)
    assert code == 2 and message in err


@pytest.mark.parametrize("flags", [["--zoom-in-size", "0"], ["--zoom-in-size", "-5"], ["--max-size", "0"]])
def test_evaluate_refuses_sizes_that_are_not_positive(tmp_path, capsys, flags):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    code, err = _cli(["--preset", "hrnet18s", "--data-root", str(data), *flags], capsys)
    assert code == 2 and flags[-2] in err  # the last flag named


def test_evaluate_finds_an_unwritable_output_before_the_run(tmp_path, capsys):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code, err = _cli(["--peer", "opencv-grabcut", "--data-root", str(data),
                      "--json", str(blocker / "out.json")], capsys)
    assert code == 2 and err.startswith("error:") and "Traceback" not in err
    assert "GrabCut objects" not in err  # no progress bar: nothing was evaluated


@pytest.mark.parametrize("damage", ["empty", "size", "orphan"])
def test_evaluate_reports_data_errors_in_one_line_naming_the_file(tmp_path, capsys, damage):
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


def test_evaluate_reports_a_missing_or_broken_checkpoint_in_one_line(tmp_path, capsys):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"\x00" * 64)
    for checkpoint in (tmp_path / "missing.pth", broken):
        code, err = _cli(["--checkpoint", str(checkpoint), "--data-root", str(data), "--quiet"], capsys)
        assert code == 2 and err.startswith("error:") and "Traceback" not in err


@pytest.mark.parametrize("flags", [["--no-zoom-in"], ["--no-zoom-in", "--no-flip", "--max-size", "32"]])
def test_evaluate_runs_a_network_without_zoom_in(tmp_path, capsys, flags):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    out = tmp_path / "out.json"
    code, err = _cli(["--preset", "hrnet18s", "--data-root", str(data), "--max-clicks", "1", "--quiet",
                      "--json", str(out), *flags], capsys)
    assert code == 0, err
    record = __import__("json").loads(out.read_text())
    assert record["zoom_in"] is False and record["max_size"] == (32 if "--max-size" in flags else None)
    assert record["inference"] == {}  # random weights: no stored settings


@pytest.mark.parametrize("flags", [["--multi-scale", "320"], ["--refine", "1"], ["--refine-clicks", "1"]])
def test_the_settings_flags_are_gone_they_come_from_the_checkpoint(tmp_path, capsys, flags):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    with pytest.raises(SystemExit):
        evaluate.parse_args(["--preset", "hrnet18s", "--data-root", str(data), *flags])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_evaluate_refuses_a_max_size_for_a_peer(tmp_path, capsys):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    code, err = _cli(["--peer", "opencv-grabcut", "--data-root", str(data), "--max-size", "320"], capsys)
    assert code == 2 and "--max-size" in err


def test_evaluate_refuses_a_zoom_in_size_without_zoom_in(tmp_path, capsys):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    code, err = _cli(["--preset", "hrnet18s", "--data-root", str(data), "--no-zoom-in", "--zoom-in-size", "300"], capsys)
    assert code == 2 and "--zoom-in-size" in err


@pytest.mark.parametrize("flags", [["--no-zoom-in", "--zoom-in-skip-clicks", "-1"], ["--zoom-in-skip-clicks", "-2"]])
def test_evaluate_refuses_a_zoom_in_skip_without_zoom_in_or_below_minus_one(tmp_path, capsys, flags):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    code, err = _cli(["--preset", "hrnet18s", "--data-root", str(data), *flags], capsys)
    assert code == 2 and "--zoom-in-skip-clicks" in err


def test_evaluate_zooms_from_the_first_click_with_skip_minus_one(tmp_path, capsys):
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
