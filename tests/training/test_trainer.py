"""The trainer: optimisation groups, exact resume, divergence guard, CLI, DDP on CPU (gloo)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from ritm_lite import build_model, load_checkpoint
from ritm_lite import train
from ritm_lite.clicks import Click, points_array
from ritm_lite.training.config import TRAINING_PRESETS, TrainConfig
from ritm_lite.training.logs import read_log
from ritm_lite.training.optim import make_optimizer
from ritm_lite.training.trainer import Trainer, TrainingDiverged
from ritm_lite.utils import PROJECT_ROOT
from tests.cli_support import run_main


class ToyShapes(Dataset):
    """A deterministic toy dataset: item (epoch, i) is an ellipse on noise with one click."""

    def __init__(self, length: int, size=(48, 64), seed=0):
        self.length, self.size, self.seed, self.epoch = length, size, seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        h, w = self.size
        rows, cols = np.mgrid[:h, :w]
        cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
        mask = ((rows - cy) / (0.25 * h)) ** 2 + ((cols - cx) / (0.2 * w)) ** 2 <= 1
        image = (rng.uniform(0, 0.3, (3, h, w)) + 0.6 * mask).astype(np.float32)
        points = points_array([Click(x=round(cx), y=round(cy), is_positive=True)], num_points=4)
        return {"images": torch.from_numpy(image), "points": torch.from_numpy(points),
                "instances": torch.from_numpy(mask.astype(np.float32))[None]}


TINY = TRAINING_PRESETS["course"].replace(crop_size=(48, 64), batch_size=2, epochs=2, epoch_len=6, val_epoch_len=2,
                                 max_num_points=4, max_num_next_clicks=2, workers=0, checkpoint_every_steps=100,
                                 checkpoint_interval=1, milestones=(1,))


def make_trainer(out, **kwargs):
    kwargs.setdefault("progress", False)
    return Trainer(TINY, ToyShapes(6), out, val_set=ToyShapes(2, seed=9), **kwargs)


def test_backbone_learns_ten_times_slower():
    model = build_model("hrnet18s")
    groups = {g["name"]: g for g in make_optimizer(model, TINY).param_groups}
    ids = {name: {id(p) for p in g["params"]} for name, g in groups.items()}
    named = dict(model.named_parameters())
    assert groups["backbone"]["lr"] == pytest.approx(0.1 * groups["new"]["lr"])
    for name in ["maps_transform.3.scale", "maps_transform.0.weight",
                 "feature_extractor.conv3x3_ocr.0.weight", "feature_extractor.ocr_distri_head.conv_bn_dropout.0.weight"]:
        assert id(named[name]) in ids["new"], name
    for name in ["feature_extractor.conv1.weight", "feature_extractor.cls_head.weight",
                 "feature_extractor.aux_head.0.weight", "feature_extractor.stage4.0.branches.0.0.bn1.weight"]:
        assert id(named[name]) in ids["backbone"], name
    assert len(ids["new"] | ids["backbone"]) == len(named)


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path):
    uninterrupted = make_trainer(tmp_path / "a")
    uninterrupted.fit()
    first = make_trainer(tmp_path / "b", max_steps=4)  # "killed" in the middle of epoch 2
    state = first.fit()
    assert (state.epoch, state.step, state.global_step) == (1, 1, 4)
    resumed = make_trainer(tmp_path / "b")
    resumed.resume()
    resumed.fit()
    a, b = uninterrupted.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from uninterrupted ones"
    assert resumed.state.global_step == uninterrupted.state.global_step == 6
    assert (tmp_path / "b" / "checkpoints" / "epoch_002.pth").exists()
    loaded = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pth")  # a plain model loader reads it too
    assert torch.equal(loaded.state_dict()["maps_transform.3.scale"], b["maps_transform.3.scale"])


@pytest.mark.slow
def test_resume_after_a_kill_logs_every_step_once(tmp_path):
    """Killed at step 5 with the last checkpoint at step 4: row 5 is logged again, not twice."""
    config = TINY.replace(checkpoint_every_steps=2)
    killed = Trainer(config, ToyShapes(6), tmp_path, val_set=ToyShapes(2, seed=9), progress=False)
    train_step = killed.train_step

    def step_or_die(batch):
        if killed.state.global_step == 5:
            raise KeyboardInterrupt  # a real kill: no checkpoint on the way out
        return train_step(batch)

    killed.train_step = step_or_die
    with pytest.raises(KeyboardInterrupt):
        killed.fit()
    before = read_log(tmp_path / "train.csv")
    assert [r["step"] for r in before] == [1, 2, 3, 4, 5]

    resumed = Trainer(config, ToyShapes(6), tmp_path, val_set=ToyShapes(2, seed=9), progress=False)
    assert resumed.resume().global_step == 4
    assert [r["step"] for r in read_log(tmp_path / "train.csv")] == [1, 2, 3, 4]
    resumed.fit()
    after = read_log(tmp_path / "train.csv")
    assert [r["step"] for r in after] == [1, 2, 3, 4, 5, 6]
    assert after[4]["loss"] == before[4]["loss"]  # the same step 5, run again exactly
    assert [r["step"] for r in read_log(tmp_path / "val.csv")] == [3, 6]


def test_resume_refuses_another_experiment(tmp_path):
    make_trainer(tmp_path, max_steps=1).fit()
    other = Trainer(TINY.replace(lr=1e-3), ToyShapes(6), tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"differs in \['lr'\]"):
        other.resume()


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    make_trainer(tmp_path, max_steps=2).fit()
    good = torch.load(tmp_path / "checkpoints" / "last.pth", weights_only=True)["state_dict"]
    trainer = make_trainer(tmp_path)
    trainer.resume()
    with torch.no_grad():
        trainer.model.feature_extractor.cls_head.bias.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"loss became nan .*last\.pth"):
        trainer.fit()
    kept = torch.load(tmp_path / "checkpoints" / "last.pth", weights_only=True)["state_dict"]
    assert all(torch.equal(good[k], kept[k]) for k in good)


def test_a_per_process_batch_of_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match="batch of at least 2"):
        Trainer(TINY.replace(batch_size=1), ToyShapes(6), tmp_path, progress=False)


@pytest.mark.slow
def test_losses_decrease_on_a_toy_problem(tmp_path):
    config = TINY.replace(epochs=1, epoch_len=96, batch_size=4, max_num_next_clicks=0, lr=2e-3, milestones=(5,))
    trainer = Trainer(config, ToyShapes(96), tmp_path, progress=False)
    trainer.fit()
    losses = [row["loss"] for row in trainer.log.rows["train"]]
    assert len(losses) == 24
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5])  # seen: 0.86 -> 0.62


def _write_folder_dataset(root, count=6, size=(64, 80)):
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        image = rng.integers(0, 120, (*size, 3), dtype=np.uint8)
        mask = np.zeros(size, np.uint8)
        y, x = rng.integers(10, 30), rng.integers(10, 40)
        mask[y:y + 30, x:x + 35] = 255
        image[mask > 0] += 100
        name = f"thing{i % 2:02d}_{1000 + i // 2:012d}"
        cv2.imwrite(str(root / "img" / f"{name}.jpg"), image)
        cv2.imwrite(str(root / "gt" / f"{name}.png"), mask)


CLI_ARGS = ["--preset", "course", "--crop-size", "48", "64", "--batch-size", "2", "--epoch-len", "4",
            "--val-epoch-len", "2", "--epochs", "2", "--workers", "0", "--min-object-area", "50", "--no-progress"]


def _env():
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}


@pytest.mark.slow
def test_command_line_trains_and_resumes(tmp_path):
    _write_folder_dataset(tmp_path / "data")
    base = [sys.executable, "-m", "ritm_lite.train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *CLI_ARGS]
    first = subprocess.run(base + ["--max-steps", "3"], capture_output=True, text=True, env=_env(), timeout=300)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(base + ["--resume"], capture_output=True, text=True, env=_env(), timeout=300)
    assert second.returncode == 0, second.stderr
    assert "resumed at epoch 1, step 1" in second.stderr
    rows = (tmp_path / "run" / "train.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 4  # header + 4 steps (3 before the stop, 1 after)
    assert (tmp_path / "run" / "val.csv").exists() and (tmp_path / "run" / "tensorboard").is_dir()
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "epoch_002.pth").config.backbone == "hrnet18s"


@pytest.mark.slow
def test_init_checkpoint_starts_training_from_its_weights(tmp_path, capsys):
    from ritm_lite import save_checkpoint
    from ritm_lite.train import main

    _write_folder_dataset(tmp_path / "data")
    torch.manual_seed(1)
    start = build_model("hrnet18s")
    start.conv1s[3].set_value(0.7)  # neither a fresh model's nor the preset's Conv1S scale
    save_checkpoint(start, tmp_path / "start.pth")
    args = ["--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *CLI_ARGS,
            "--max-steps", "1", "--lr", "0"]  # lr 0: one real step that cannot move a weight
    assert main(args + ["--init-checkpoint", str(tmp_path / "start.pth")]) == 0
    trained = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pth")
    for (name, expected), got in zip(start.named_parameters(), trained.parameters()):
        assert torch.equal(expected, got), name

    save_checkpoint(build_model("hrnet18", init=False), tmp_path / "w18.pth")
    assert main(args + ["--init-checkpoint", str(tmp_path / "w18.pth")]) == 2
    assert "the preset trains hrnet18s" in capsys.readouterr().err
    assert main(args + ["--init-checkpoint", str(tmp_path / "w18.pth"), "--resume"]) == 2


DDP_SCRIPT = textwrap.dedent("""
    import sys, torch
    from ritm_lite.train import main
    from ritm_lite.training.distributed import DistEnv
    import ritm_lite.training.trainer as trainer_module

    original_fit = trainer_module.Trainer.fit
    def fit_and_dump(self):
        state = original_fit(self)
        torch.save(self.model.state_dict(), sys.argv[1] + f"/rank{self.env.rank}.pt")
        return state
    trainer_module.Trainer.fit = fit_and_dump
    sys.exit(main(sys.argv[2:]))
""")


def _torchrun_two_processes(tmp_path, script_text: str, port: int, *args: str):
    """Train on a tiny folder dataset with 2 CPU processes (gloo) under torchrun, through
    ``script_text`` (which receives ``tmp_path`` and then the ``ritm_lite.train`` arguments)."""
    _write_folder_dataset(tmp_path / "data")
    script = tmp_path / "ddp_script.py"
    script.write_text(script_text)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           str(script), str(tmp_path), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
           "--device", "cpu", *CLI_ARGS, "--batch-size", "4", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env={**_env(), "OMP_NUM_THREADS": "1"}, timeout=600)


@pytest.mark.slow
def test_two_process_ddp_with_gloo_keeps_replicas_identical(tmp_path):
    result = _torchrun_two_processes(tmp_path, DDP_SCRIPT, 29517, "--max-steps", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0 if k.endswith(("weight", "bias", "scale")))
    torch.manual_seed(TRAINING_PRESETS["course"].seed)  # the run's initialisation
    start = build_model("hrnet18s").state_dict()
    assert any(not torch.equal(rank0[k], start[k]) for k in rank0 if k.endswith("weight"))  # it trained
    saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pth").state_dict()
    assert all(torch.equal(saved[k], rank0[k]) for k in rank0)  # rank 0 wrote the checkpoint


DDP_DIVERGE_SCRIPT = textwrap.dedent("""
    import sys, torch
    from ritm_lite.train import main
    import ritm_lite.training.trainer as trainer_module

    # Rank 1's loss becomes NaN at global step 1 (the second step); rank 0's stays finite.
    original_losses = trainer_module.Trainer._losses
    def losses(self, *args):
        out = original_losses(self, *args)
        if self.env.rank == 1 and self.state.global_step == 1 and torch.is_grad_enabled():
            out["loss"] = out["loss"] + float("nan")
        return out
    trainer_module.Trainer._losses = losses

    original_fit = trainer_module.Trainer.fit
    def fit_and_dump(self):
        try:
            return original_fit(self)
        except trainer_module.TrainingDiverged as err:
            prefix = sys.argv[1] + f"/rank{self.env.rank}"
            open(prefix + ".txt", "w").write(str(err))
            torch.save(self.model.state_dict(), prefix + ".pt")
            raise
    trainer_module.Trainer.fit = fit_and_dump
    sys.exit(main(sys.argv[2:]))
""")


@pytest.mark.slow
def test_ddp_divergence_on_one_rank_stops_every_rank_and_keeps_the_last_checkpoint(tmp_path):
    result = _torchrun_two_processes(tmp_path, DDP_DIVERGE_SCRIPT, 29523, "--epoch-len", "8",
                                     "--val-interval", "0", "--checkpoint-every-steps", "1")
    assert result.returncode != 0
    messages = {r: (tmp_path / f"rank{r}.txt").read_text() for r in (0, 1)}  # both stopped cleanly
    assert messages[1].startswith("loss became nan on rank 1 at epoch 0, step 1 (global step 1)")
    assert messages[0].startswith("loss became non-finite on rank 1 at epoch 0, step 1")
    assert all("last.pth" in m for m in messages.values())
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.pth", weights_only=True)
    assert checkpoint["trainer_state"]["global_step"] == 1  # the step before the NaN
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    saved = checkpoint["state_dict"]
    # No optimiser step after the NaN on either rank (BatchNorm buffers did see the last forward).
    learned = [k for k in saved if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert all(torch.equal(saved[k], rank0[k]) and torch.equal(saved[k], rank1[k]) for k in learned)


def test_image_scale_rescales_the_augmentation():
    from ritm_lite.train import dataset_config

    config = TRAINING_PRESETS["course"].replace(image_scale=0.5)
    assert dataset_config(config, train=True).augmentation.scale_range == (0.375, 0.7)
    assert dataset_config(config, train=False).augmentation.scale_range == (0.5, 0.5)
    assert dataset_config(TRAINING_PRESETS["course"], train=False).augmentation.scale_range is None
    with pytest.raises(ValueError, match="image_scale"):
        TRAINING_PRESETS["course"].replace(image_scale=0.0)


def test_conv1s_init_scale_sets_the_fresh_models_click_branch(tmp_path):
    default = Trainer(TINY, ToyShapes(6), tmp_path / "a", progress=False)
    assert default.model.conv1s[3](torch.ones(1)).item() == pytest.approx(0.05)  # the original's
    config = TINY.replace(conv1s_init_scale=1.0)
    larger = Trainer(config, ToyShapes(6), tmp_path / "b", progress=False)
    assert larger.model.conv1s[3](torch.ones(1)).item() == pytest.approx(1.0)
    given = build_model("hrnet18s")
    assert Trainer(config, ToyShapes(6), tmp_path / "c", model=given, progress=False).model is given
    assert given.conv1s[3](torch.ones(1)).item() == pytest.approx(0.05)  # a given model is left as it is
    with pytest.raises(ValueError, match="conv1s_init_scale"):
        TINY.replace(conv1s_init_scale=0.0)


# ------------------------------------------------------------------------------------------------
# Bad input (`python -m pytest -k bad_input`) to `python -m ritm_lite.train`: one `error: ...` line
# and exit code 2, as the merge CLI does, before any training step; never a run that trains on
# nothing and exits 0.


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


def test_bad_input_all_empty_masks_stop_with_the_file_named(tmp_path, capsys):
    code, err = _run(_argv(_folder(tmp_path / "data", 0), tmp_path / "run"), capsys)
    assert code == 2 and err.startswith("error:") and "thing0_" in err and "no object pixel" in err
    assert "Traceback" not in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_bad_input_a_missing_data_folder_is_one_line(tmp_path, capsys):
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
def test_bad_input_settings_out_of_range_are_refused_before_training(tmp_path, capsys, flags, message):
    code, err = _run(_argv(_folder(tmp_path / "data", 255), tmp_path / "run", *flags), capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "run" / "checkpoints").exists()

def test_bad_input_a_merged_set_without_images_says_how_to_train_it(tmp_path, capsys):
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


@pytest.mark.parametrize("flags, message", [
    (["--nfl-gamma", "nan"], "nfl_gamma must be a finite number"),
    (["--crop-size", "100000", "64"], "crop_size must be"),
    (["--amp", "maybe"], "expected true or false, got 'maybe'"),
    (["--data-weights", "1", "2"], "2 data weights for 1 data folders"),
])
def test_bad_input_train_flags_name_the_setting(tmp_path, capsys, flags, message):
    code, err = _run(_argv(_folder(tmp_path / "data", 255), tmp_path / "run", *flags), capsys)
    assert code == 2 and message in err and "Traceback" not in err
