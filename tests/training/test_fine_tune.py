"""Fine-tuning on your own masks (ritm_lite.training.fine_tune): the held-out split, the budget,
NoC on the held-out part only, the command-line equivalent, and bad folders named."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ritm_lite.model.checkpoint import load_checkpoint  # the bare network, as fine_tune measures it
from ritm_lite.data.datasets import FolderDataset, image_id_from_name
from ritm_lite.data.samples import make_sample_data
from ritm_lite.train import config_from_args, config_to_args, folder_split, parse_args
from ritm_lite.train import main as train_main
from ritm_lite.training import trainer as trainer_module
from ritm_lite.training.config import get_preset
from ritm_lite.training.fine_tune import (
    FINE_TUNE_PRESET,
    command_lines,
    evaluate_noc,
    fine_tune,
    held_out_benchmark,
)
from ritm_lite.training.trainer import Trainer
from ritm_lite.weights import COURSE_CHECKPOINT

# Small enough for a CPU test: 96x96 crops, batches of 2, no worker processes.
SMALL = get_preset(FINE_TUNE_PRESET).replace(crop_size=(96, 96), batch_size=2, workers=0, min_object_area=100)
FAST = dict(config=SMALL, max_clicks=3, zoom_in=False, flip=False, progress=False)


def first_click_ious(result) -> np.ndarray:
    """Each object's IoU after its first click. Runs are compared on it alone: the first click
    depends on the mask only (the disks below have one centre, no tied pixels), while later
    ones follow the prediction, and float rounding that differs between runs (the kernels
    torch picks) can move them on barely trained weights, whose probabilities sit near 0.49."""
    return np.array([ious[0] for ious in result.ious])


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The generated sample set's img/ + gt/ folder: 10 objects on 5 photos, COCO_MVal names."""
    return make_sample_data(tmp_path_factory.mktemp("samples")).folder_dir


def _write_folder(root: Path, disks: dict[str, tuple[int, list[tuple[int, int, int]]]]) -> Path:
    """An img/ + gt/ folder: ``{name: (photo, [(x, y, radius) of each disk of the photo])}``;
    ``name``'s mask is the photo's first disk listed for it, 0/255, centred on a pixel."""
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    ramp = np.linspace(40, 120, 128, dtype=np.float32)
    for name, (photo, photo_disks) in disks.items():
        image = np.repeat(np.stack([ramp, ramp[::-1], np.full(128, 80, np.float32)], -1)[None], 96, 0)
        image = np.ascontiguousarray(image + 10 * photo, dtype=np.uint8)
        for k, (x, y, r) in enumerate(photo_disks):
            cv2.circle(image, (x, y), r, (230 - 60 * k, 200, 40 + 80 * k), -1)
        mask = np.zeros((96, 128), np.uint8)
        cv2.circle(mask, photo_disks[0][:2], photo_disks[0][2], 255, -1)
        cv2.imwrite(str(root / "img" / f"{name}.jpg"), image)
        cv2.imwrite(str(root / "gt" / f"{name}.png"), mask)
    return root


def _photos(count: int) -> dict[str, tuple[int, list[tuple[int, int, int]]]]:
    """``count`` photos named as COCO_MVal; the odd ones hold two objects (two masks)."""
    disks = {}
    for photo in range(1, count + 1):
        first, second = (36 + 2 * photo, 44, 14 + photo), (98, 30 + photo, 12)
        disks[f"disk01_{photo:012d}"] = (photo, [first, second] if photo % 2 else [first])
        if photo % 2:
            disks[f"disk02_{photo:012d}"] = (photo, [second, first])
    return disks


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One 2-step fine-tuning run on 6 photos (9 objects), recording every photo the training reads."""
    folder = _write_folder(tmp_path_factory.mktemp("photos") / "data", _photos(6))
    read: list[Path] = []
    load = FolderDataset.load

    def recording_load(self, image_index):
        read.append(self._image_paths[image_index])
        return load(self, image_index)

    FolderDataset.load = recording_load
    try:
        result = fine_tune(folder, tmp_path_factory.mktemp("run"), steps=2, held_out_fraction=0.4, **FAST)
    finally:
        FolderDataset.load = load
    return result, read, folder


def _photo_ids(names):
    return {image_id_from_name(n) for n in names}


# --------------------------------------------------------------------------- the held-out split


@pytest.mark.parametrize("fraction", [0.2, 0.4, 0.6])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_the_split_keeps_every_photo_on_one_side(folder, fraction, seed):
    train, held_out = folder_split(folder, fraction, seed)
    stems = sorted(p.stem for p in (folder / "gt").iterdir())
    assert sorted(train + held_out) == stems
    assert train and held_out
    assert not _photo_ids(train) & _photo_ids(held_out)  # objects of one photo stay together
    assert len(_photo_ids(held_out)) == round(fraction * len(_photo_ids(stems)))


def test_the_training_never_reads_a_held_out_photo(run):
    result, read, folder = run
    assert read, "the training read no photo"
    held_out_photos = {folder / "img" / f"{n}.jpg" for n in result.held_out_names}
    assert held_out_photos and not set(read) & held_out_photos
    assert not _photo_ids(result.train_names) & _photo_ids(result.held_out_names)
    # several objects share a photo here: the split would be wrong if done by file
    assert len(result.held_out_names) > len(_photo_ids(result.held_out_names))


# --------------------------------------------------------------------------- NoC before and after


def test_noc_is_measured_on_the_held_out_objects_only(run):
    result, _, folder = run
    assert result.before.names == sorted(result.held_out_names) == result.after.names
    assert not set(result.before.names) & set(result.train_names)


def test_before_is_the_start_weights_and_after_the_written_checkpoint(run):
    result, _, folder = run
    benchmark = held_out_benchmark(folder, result.held_out_names)
    for weights, measured in ((COURSE_CHECKPOINT, result.before), (result.checkpoint, result.after)):
        again = evaluate_noc(load_checkpoint(weights), benchmark, max_clicks=1, zoom_in=False, flip=False,
                             progress=False)
        np.testing.assert_allclose(first_click_ious(again), first_click_ious(measured), rtol=0, atol=0.01)
    # the two weights tell apart at that tolerance (else the check above proves nothing)
    assert np.abs(first_click_ious(result.before) - first_click_ious(result.after)).max() > 0.05
    start = load_checkpoint(COURSE_CHECKPOINT).state_dict()
    tuned = load_checkpoint(result.checkpoint).state_dict()
    assert any(not torch.equal(start[k], tuned[k]) for k in start if start[k].is_floating_point())
    assert "before" in result.table() and f"after {result.steps} steps" in result.table()


# --------------------------------------------------------------------------- the budget


def test_a_step_budget_takes_exactly_that_many_steps(run):
    result, _, folder = run
    assert result.steps == 2 and len(result.log) == 2
    assert (result.checkpoint.parent.parent / "train.csv").read_text().count("\n") == 3  # header + 2


class FakeClock:
    """``time.monotonic`` that moves 30 s each time it is read."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 30.0
        return self.now


def test_a_time_budget_stops_at_the_first_step_past_it(folder, tmp_path, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(trainer_module.time, "monotonic", clock)
    # the deadline is read at 30 s (+2 minutes = 150 s); steps end at 60, 90, 120, 150 s
    result = fine_tune(folder, tmp_path, minutes=2, steps=10, **FAST)  # the steps cap a broken time budget
    assert result.steps == 4 and len(result.log) == 4
    assert result.checkpoint.is_file()


def test_whichever_budget_ends_first_stops_the_run(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module.time, "monotonic", FakeClock())
    assert fine_tune(folder, tmp_path / "a", steps=2, minutes=10, **FAST).steps == 2
    assert fine_tune(folder, tmp_path / "b", steps=50, minutes=0.5, **FAST).steps == 1


def test_the_training_cli_keeps_a_time_budget(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module.time, "monotonic", FakeClock())
    # the deadline is read at 30 s (+1 minute = 90 s); steps end at 60 and 90 s
    argv = ["--preset", FINE_TUNE_PRESET, "--data", str(folder), "--out", str(tmp_path), "--no-progress",
            "--init-checkpoint", str(COURSE_CHECKPOINT), *config_to_args(SMALL, FINE_TUNE_PRESET),
            "--max-minutes", "1", "--max-steps", "5"]
    assert train_main(argv) == 0
    assert (tmp_path / "train.csv").read_text().count("\n") == 3  # header + 2 steps
    assert (tmp_path / "checkpoints" / "last.pth").is_file()


def test_a_real_time_budget_is_kept(folder, tmp_path):
    result = fine_tune(folder, tmp_path, minutes=0.01, steps=50, **FAST)  # 0.6 s: a step or a few
    assert 1 <= result.steps < 50
    step = max(row["step_time"] + row["data_time"] for row in result.log)
    assert result.seconds < 0.6 + 2 * step + 1.0  # stops after the step that crosses it


@pytest.mark.parametrize("budget", [{}, {"steps": 0}, {"steps": 2.5}, {"steps": True}, {"minutes": 0},
                                    {"minutes": -1}, {"minutes": math.nan}])
def test_bad_budgets_are_refused(folder, tmp_path, budget):
    with pytest.raises(ValueError, match="budget|steps|minutes"):
        fine_tune(folder, tmp_path, **budget, **FAST)


@pytest.mark.parametrize("minutes", [0, -0.5, math.nan])
def test_the_trainer_and_the_cli_refuse_a_non_positive_time_budget(folder, tmp_path, minutes, capsys):
    with pytest.raises(ValueError, match="max_minutes must be positive"):
        Trainer(SMALL, [], tmp_path, max_minutes=minutes)
    code = train_main(["--preset", FINE_TUNE_PRESET, "--data", str(folder), "--out", str(tmp_path),
                       "--max-minutes", str(minutes)])
    assert code == 2 and "--max-minutes must be positive" in capsys.readouterr().err


@pytest.mark.parametrize("fraction", [0.0, 1.0, 0.01, 0.99])
def test_a_split_that_leaves_one_side_empty_is_refused(folder, tmp_path, fraction):
    with pytest.raises(ValueError, match="held_out_fraction"):
        fine_tune(folder, tmp_path, steps=1, held_out_fraction=fraction, **FAST)
    assert not (tmp_path / "checkpoints").exists()


# --------------------------------------------------------------------------- the command line


def test_config_to_args_inverts_config_from_args():
    changed = SMALL.replace(lr=1e-4, amp=False, milestones=(3, 5), seed=3)
    argv = ["--preset", FINE_TUNE_PRESET, "--data", "x", "--out", "y", *config_to_args(changed, FINE_TUNE_PRESET)]
    assert config_from_args(parse_args(argv)) == changed
    assert config_to_args(get_preset(FINE_TUNE_PRESET), FINE_TUNE_PRESET) == []
    with pytest.raises(ValueError, match="betas"):
        config_to_args(SMALL.replace(betas=(0.5, 0.9)), FINE_TUNE_PRESET)


def test_the_command_lines_do_what_fine_tune_does(run, tmp_path):
    """The training command trains the same recipe on the same split; the evaluation command
    measures the library's "after" on the same held-out objects."""
    result, _, folder = run
    out = result.checkpoint.parent.parent
    train, evaluate = command_lines(folder, out, steps=2, config=SMALL, held_out_fraction=0.4, max_clicks=3,
                                    zoom_in=False, flip=False)
    args = parse_args(train)
    assert config_from_args(args) == SMALL
    assert (args.data, args.init_checkpoint, args.val_fraction, args.max_steps) == ([folder], COURSE_CHECKPOINT,
                                                                                    0.4, 2)
    from ritm_lite.evaluate import main as evaluate_main

    assert evaluate[:2] == ["--checkpoint", str(result.checkpoint)]
    path = tmp_path / "after.json"
    assert evaluate_main([*evaluate, "--json", str(path), "--quiet"]) == 0
    objects = json.loads(path.read_text())["objects"]
    assert [o["name"] for o in objects] == result.after.names
    cli = np.array([o["ious"][0] for o in objects])
    np.testing.assert_allclose(cli, first_click_ious(result.after), rtol=0, atol=0.01)


# --------------------------------------------------------------------------- bad folders


def _good_folder(root: Path, n: int = 5) -> Path:
    """``n`` photos ``p0`` ... of one disk each (names that are not COCO_MVal's: one photo each)."""
    return _write_folder(root, {f"p{i}": (i, [(40 + 5 * i, 48, 16 + i)]) for i in range(n)})


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.7)])


def _a_training_photo(root: Path) -> str:
    """A photo on the training side: read by nothing but the training, unless checked first."""
    return f"{folder_split(root, 0.2, SMALL.seed)[0][0]}.jpg"


BAD_FOLDERS = {  # case: (how to break a good folder, the file or folder the error must name)
    "no gt folder": (lambda r: shutil.rmtree(r / "gt"), "gt/"),
    "no img folder": (lambda r: shutil.rmtree(r / "img"), "img/"),
    "no masks at all": (lambda r: [p.unlink() for p in (r / "gt").iterdir()], "p0.jpg"),
    "a photo without its mask": (lambda r: (r / "gt" / "p3.png").unlink(), "p3.jpg"),
    "a mask without its photo": (lambda r: (r / "img" / "p3.jpg").unlink(), "p3.png"),
    "a mask of another size": (lambda r: cv2.imwrite(str(r / "gt" / "p2.png"), np.full((97, 128), 255, np.uint8)),
                               "p2.png"),
    "an empty mask": (lambda r: cv2.imwrite(str(r / "gt" / "p1.png"), np.zeros((96, 128), np.uint8)), "p1.png"),
    "a photo that is not an image": (lambda r: (r / "img" / "p4.jpg").write_bytes(b"not a photo"), "p4.jpg"),
    "a mask that is not an image": (lambda r: (r / "gt" / "p4.png").write_bytes(b"not a mask"), "p4.png"),
    "a truncated photo": (lambda r: _truncate(r / "img" / _a_training_photo(r)), _a_training_photo),
    "a truncated mask": (lambda r: _truncate(r / "gt" / "p2.png"), "p2.png"),
}


def test_the_good_folder_is_good(tmp_path):
    result = fine_tune(_good_folder(tmp_path / "data"), tmp_path / "run", steps=1, **FAST)
    assert result.steps == 1


@pytest.mark.parametrize("case", sorted(BAD_FOLDERS))
def test_bad_input_a_bad_folder_is_one_error_naming_the_file(tmp_path, case):
    breaks, named = BAD_FOLDERS[case]
    root = _good_folder(tmp_path / "data")
    breaks(root)
    with pytest.raises((FileNotFoundError, ValueError)) as error:
        fine_tune(root, tmp_path / "run", steps=1, **FAST)
    named = named(root) if callable(named) else named
    assert named in str(error.value), f"{case}: {error.value}"
    assert not (tmp_path / "run").exists(), "the error came after training began"
