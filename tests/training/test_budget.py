"""The cost estimate of a training schedule: its arithmetic against hand-worked cases."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ritm_lite.training.budget import (activation_bytes, cost_markdown, cost_table, schedule_samples, shortened,
                                       training_flops, training_hours, training_memory_bytes)
from ritm_lite.training.config import TrainConfig, get_preset

SMALL = TrainConfig(epochs=10, epoch_len=100, val_epoch_len=20, val_interval=2, max_num_next_clicks=2,
                    batch_size=4, milestones=(8,))


def test_schedule_flops_hours_and_memory_by_hand():
    assert schedule_samples(SMALL) == (1000, 100)  # 10 x 100; 5 validated epochs x 20
    # 1000 x 1e9 x (3 + 2/2) + 100 x 1e9 x (1 + 2/2) = 4e12 + 2e11
    assert training_flops(SMALL, 1e9) == pytest.approx(4.2e12)
    assert training_hours(SMALL, 1e9, 1.0) == pytest.approx(4.2 / 3600)  # 4.2e12 / 1e12 FLOP/s
    assert training_memory_bytes(1000, 500, 4) == 16 * 1000 + 4 * 500
    assert schedule_samples(SMALL.replace(val_interval=0))[1] == 0


def test_the_full_iter_m_schedule():
    full = get_preset("hrnet18_cocolvis_itermask")
    assert schedule_samples(full) == (6_900_000, 460_000)
    # 6.9e6 x 3e10 x 4.5 + 4.6e5 x 3e10 x 2.5 = 9.315e17 + 3.45e16
    assert training_hours(full, 3e10, 100.0) == pytest.approx(9.66e17 / 1e14 / 3600)


def test_cost_table_rows_and_markdown():
    rows = cost_table({"a": SMALL}, 1e9, parameters=1000, activation_bytes_per_crop=2**30, utilisation=0.5,
                      gpus={"X": 2.0})
    (row,) = rows
    assert row.sustained_tflops == 1.0 and row.hours == pytest.approx(4.2 / 3600)
    assert row.samples_per_second == pytest.approx(1000 / 4.2)
    assert row.memory_gib == pytest.approx((16_000 + 4 * 2**30) / 2**30)
    assert "| a | 1,000 | X | 1 |" in cost_markdown(rows)
    with pytest.raises(ValueError, match="utilisation"):
        cost_table({"a": SMALL}, 1e9, 1000, 1, utilisation=0.0)
    with pytest.raises(ValueError, match="sustained_tflops"):
        training_hours(SMALL, 1e9, 0.0)


def test_shortened_scales_the_milestones():
    full = get_preset("hrnet18_cocolvis_itermask")
    assert shortened(full, 15).milestones == (13, 14) and shortened(full, 15).epochs == 15  # 200/230 x 15 = 13.04
    assert shortened(full, 10).milestones == (9,)  # 220/230 x 10 = 9.6 -> 10: the last epoch, dropped
    assert shortened(full, 230) == full
    with pytest.raises(ValueError):
        shortened(full, 0)


class _ConvReLU(nn.Module):
    """(B, 4, H, W) -> conv 3x3 to 2 channels -> ReLU; takes (and ignores) the click points."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(image)))


def test_activation_bytes_counts_what_autograd_saves_per_crop():
    model = _ConvReLU().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    measured = activation_bytes(model, 8, 8)
    # per crop, fp32: the conv's input (4 x 8 x 8), BatchNorm's input (2 x 8 x 8), the ReLU's
    # output (2 x 8 x 8); and, for the batch of two, BatchNorm's batch mean, inverse std, running
    # mean and running variance (2 numbers each), halved with the rest
    assert measured == 4 * (4 * 64 + 2 * 64 + 2 * 64) + 4 * (4 * 2) // 2
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN statistics restored
