"""Training presets: the ITER-M values of the original configs, and the schedule they give."""

from __future__ import annotations

import pytest
import torch

from ritm_lite.model.ocr import HRNetOCR
from ritm_lite.training.config import TRAINING_PRESETS, TrainConfig, get_preset
from ritm_lite.training.optim import make_optimizer, make_scheduler

# models/iter_mask/hrnet{18s,18,32}_cocolvis_itermask_3p.py: default batch per model.
ITER_M = {
    "hrnet18s_cocolvis_itermask": ("hrnet18s", 32),
    "hrnet18_cocolvis_itermask": ("hrnet18", 28),
    "hrnet32_cocolvis_itermask": ("hrnet32", 32),
}


@pytest.mark.parametrize("name", sorted(ITER_M))
def test_iter_m_presets_hold_the_original_schedule(name):
    config = get_preset(name)
    model, batch = ITER_M[name]
    assert (config.model, config.batch_size) == (model, batch)
    assert config.crop_size == (320, 480) and config.max_num_points == 24
    assert (config.epochs, config.epoch_len, config.val_epoch_len) == (230, 30_000, 2_000)
    assert config.milestones == (200, 220) and config.gamma == 0.1
    assert (config.lr, config.betas, config.eps) == (5e-4, (0.9, 0.999), 1e-8)
    assert config.backbone_lr_mult == 0.1 and config.max_num_next_clicks == 3
    assert (config.nfl_alpha, config.nfl_gamma, config.aux_loss_weight) == (0.5, 2.0, 0.4)
    assert (config.min_object_area, config.keep_background_prob) == (1000, 0.05)


def test_the_iter_m_learning_rate_over_230_epochs():
    """5e-4 until epoch 200, then /10, then /10 again from 220; backbone always x0.1."""
    config = get_preset("hrnet18_cocolvis_itermask")
    extractor = torch.nn.ModuleDict({"conv1": torch.nn.Conv2d(1, 1, 1), "conv3x3_ocr": torch.nn.Conv2d(1, 1, 1)})
    extractor.full_rate_modules = HRNetOCR.full_rate_modules  # the FeatureExtractor field the optimiser reads
    model = torch.nn.ModuleDict({"feature_extractor": extractor})
    optimizer = make_optimizer(model, config)
    assert all(g["betas"] == (0.9, 0.999) and g["eps"] == 1e-8 for g in optimizer.param_groups)
    scheduler = make_scheduler(optimizer, config)
    rates = []
    for _ in range(config.epochs):
        rates.append({g["name"]: g["lr"] for g in optimizer.param_groups})
        optimizer.step()
        scheduler.step()
    expected_rates = [(0, 5e-4), (199, 5e-4), (200, 5e-5), (219, 5e-5), (220, 5e-6), (229, 5e-6)]
    for epoch, expected in expected_rates:
        assert rates[epoch]["new"] == pytest.approx(expected), epoch
        assert rates[epoch]["backbone"] == pytest.approx(0.1 * expected), epoch


def test_presets_are_frozen_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown training preset"):
        get_preset("hrnet18_sbd")
    with pytest.raises(AttributeError):
        TRAINING_PRESETS["course"].epochs = 1  # type: ignore[misc]
    assert isinstance(TRAINING_PRESETS["course"], TrainConfig)


def test_no_training_preset_shares_a_name_with_a_set_of_weights():
    """A name means one thing: ``efficientnet_lite0_course`` is weights, its recipe is ``efficientnet_lite0_cpu``."""
    from ritm_lite.weights import COURSE_WEIGHTS

    assert not set(TRAINING_PRESETS) & set(COURSE_WEIGHTS)
    assert get_preset("efficientnet_lite0_cpu").model == "efficientnet_lite0"
    for name, path in COURSE_WEIGHTS.items():  # and each weights file is named as its weights
        assert path.name == f"{name}.pth" and path.is_file()


# ------------------------------------------------------------------------------------------------
# Bad input (`python -m pytest -k bad_input`): a TrainConfig value out of range is refused by name.


def test_bad_input_the_config_itself_refuses_zero_epochs():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


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


def test_bad_input_train_config_accepts_numpy_numbers_and_lists_for_tuples():
    import numpy as np

    config = TrainConfig(epochs=np.int64(3), lr=np.float32(1e-3), milestones=[1, 2], crop_size=[64, 96])
    assert config.milestones == (1, 2) and config.crop_size == (64, 96) and config.epochs == 3
