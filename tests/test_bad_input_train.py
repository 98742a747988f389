"""Bad input to `python -m ritm_lite.train`: one `error: ...` line and exit code 2, as the merge
CLI does, before any training step; never a run that trains on nothing and exits 0."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from ritm_lite import train
from tests.cli_support import run_main
from ritm_lite.training.config import TrainConfig


def _folder(root: Path, value: int) -> Path:
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        name = f"thing0_{i:012d}"
        cv2.imwrite(str(root / "img" / f"{name}.jpg"), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
        mask = np.zeros((64, 64), np.uint8)
        mask[10:50, 10:50] = value
        cv2.imwrite(str(root / "gt" / f"{name}.png"), mask)
    return root


def _run(argv: list[str], capsys) -> tuple[int, str]:
    return run_main(train.main, argv, capsys)


def _argv(data: Path, out: Path, *extra: str) -> list[str]:
    return ["--preset", "course", "--data", str(data), "--out", str(out), "--no-progress",
            "--workers", "0", *extra]


def test_all_empty_masks_stop_with_the_file_named(tmp_path, capsys):
    code, err = _run(_argv(_folder(tmp_path / "data", 0), tmp_path / "run"), capsys)
    assert code == 2 and err.startswith("error:") and "thing0_" in err and "no object pixel" in err
    assert "Traceback" not in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_missing_data_folder_is_one_line(tmp_path, capsys):
    code, err = _run(_argv(tmp_path / "nowhere", tmp_path / "run"), capsys)
    assert code == 2 and err.startswith("error:") and "Traceback" not in err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--epochs", "0"], "epochs"),
        (["--max-steps", "0"], "--max-steps"),
        (["--lr", "-1"], "lr"),
        (["--milestones", "5", "3"], "milestones"),
        (["--batch-size", "0"], "batch_size"),
        (["--keep-background-prob", "2"], "keep_background_prob"),
        (["--resume", "--imagenet-weights"], "--resume"),
    ],
)
def test_settings_out_of_range_are_refused_before_training(tmp_path, capsys, flags, message):
    code, err = _run(_argv(_folder(tmp_path / "data", 255), tmp_path / "run", *flags), capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_config_itself_refuses_zero_epochs():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


def test_a_merged_set_without_images_says_how_to_train_it(tmp_path, capsys):
    from ritm_lite.data.coco_lvis import merge_coco_lvis
    from ritm_lite.data.samples import SamplePaths
    from ritm_lite.utils import PROJECT_ROOT

    samples = SamplePaths.under(PROJECT_ROOT / "data" / "samples")
    merge_coco_lvis(samples.coco_json, samples.lvis_json, tmp_path / "merged", progress=False)
    code, err = _run(_argv(tmp_path / "merged", tmp_path / "run", "--max-steps", "1"), capsys)
    assert code == 2 and "--images COCO_ROOT" in err and "Traceback" not in err
    config = train.config_from_args(train.parse_args(_argv(tmp_path / "merged", tmp_path / "run")))
    train_set, _ = train.build_datasets(tmp_path / "merged", config, images_dir=samples.images_dir)
    assert train_set.load(0).image.ndim == 3  # --images makes the same set trainable


@pytest.mark.parametrize("change, message", [
    (dict(nfl_gamma=float("nan")), "nfl_gamma must be a finite number"),
    (dict(aux_loss_weight=float("inf")), "aux_loss_weight must be a finite number"),
    (dict(conv1s_init_scale=float("nan")), "conv1s_init_scale must be a finite number"),
    (dict(lr="5e-4"), "lr must be a finite number"),
    (dict(epochs=2.5), "epochs must be an integer"),
    (dict(batch_size=True), "batch_size must be an integer"),
    (dict(amp="no"), "amp must be True or False"),
    (dict(loss=None), "loss must be a string"),
    (dict(crop_size=(320,)), "crop_size must be"),
    (dict(crop_size=(320.5, 480)), "crop_size must be a tuple of integers"),
    (dict(crop_size=(100_000, 480)), "crop_size must be .* to 4096"),
    (dict(betas=(0.9, float("nan"))), "betas must be a tuple of finite numbers"),
    (dict(betas=(0.9,)), "betas are two numbers"),
    (dict(milestones=None), "milestones must be a tuple"),
    (dict(max_num_points=10**9), "max_num_points must be at most 512"),
    (dict(max_num_points=0), "max_num_points >= 1"),
    (dict(min_object_area=-1), "min_object_area"),
])
def test_bad_input_train_config_values_are_refused_by_name(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**change)


def test_train_config_accepts_numpy_numbers_and_lists_for_tuples():
    import numpy as np

    config = TrainConfig(epochs=np.int64(3), lr=np.float32(1e-3), milestones=[1, 2], crop_size=[64, 96])
    assert config.milestones == (1, 2) and config.crop_size == (64, 96) and config.epochs == 3


@pytest.mark.parametrize("flags, message", [
    (["--nfl-gamma", "nan"], "nfl_gamma must be a finite number"),
    (["--crop-size", "100000", "64"], "crop_size must be"),
    (["--amp", "maybe"], "expected true or false, got 'maybe'"),
    (["--data-weights", "1", "2"], "2 data weights for 1 data folders"),
])
def test_bad_input_train_flags_name_the_setting(tmp_path, capsys, flags, message):
    code, err = _run(_argv(_folder(tmp_path / "data", 255), tmp_path / "run", *flags), capsys)
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("change, message", [
    ({"min_object_area": float("nan")}, "min_object_area must be an integer"),
    ({"min_object_area": -1}, "min_object_area must be an integer"),
    ({"max_augment_tries": 10**9}, "max_augment_tries must be an integer in [1, 10000]"),
    ({"max_augment_tries": 0}, "max_augment_tries must be an integer in [1, 10000]"),
])
def test_bad_input_dataset_config_values_are_refused_by_name(change, message):
    from ritm_lite.data.datasets import DatasetConfig

    with pytest.raises(ValueError, match=re.escape(message)):
        DatasetConfig(**change)


def test_bad_input_in_memory_source_refuses_no_photos_and_non_arrays():
    from ritm_lite.data.datasets import InMemorySource

    with pytest.raises(ValueError, match="at least one photo"):
        InMemorySource([])
    with pytest.raises(ValueError, match="NumPy arrays"):
        InMemorySource([([[0, 0, 0]], [])])
