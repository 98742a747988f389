"""Models for numerical tests (shared by the test modules and benchmarks/precision.py): the
golden fixtures' weights, and well-conditioned random models."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ritm_lite import build_model
from ritm_lite.clicks import Click, points_tensor
from ritm_lite.model.ritm import RITMModel


def load_reference_fixture(reference_dir: str | os.PathLike, preset: str) -> tuple[RITMModel, dict]:
    """The model stored in a golden fixture of the original RITM implementation.

    ``reference_dir`` holds ``ritm_{preset}_reference.pt`` (``../shared/fixtures/ritm_reference``;
    its README says what each tensor is): the original's weights as float16 under
    ``"state_dict"``, beside its ``input``, ``points`` and outputs.

    Returns:
        the model built from ``preset`` with those weights back in float32 (loaded strictly),
        in eval mode, and the whole fixture record.
    """
    path = Path(reference_dir) / f"ritm_{preset}_reference.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no reference fixture {path}")
    record = torch.load(path, weights_only=True)
    model = build_model(preset, init=False)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in record["state_dict"].items()})
    return model.eval(), record


def calibrated_model(preset: str, seed: int = 0) -> nn.Module:
    """Random weights, BatchNorm statistics gathered on random inputs, then randomised.

    Calibrating keeps the activations at a trained network's scale (an uncalibrated random
    HRNet has logits in the thousands, where float32 rounding alone moves probabilities by
    1e-3); the random affine parameters and the perturbed statistics make sure that folding
    really has to use each layer's own running mean and variance.
    """
    torch.manual_seed(seed)
    model = build_model(preset)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batches
    image, points = example_inputs(2, 64, 96, seed)
    model.train()
    with torch.no_grad():
        model(image, points)
        generator = torch.Generator().manual_seed(seed)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                shape = module.weight.shape
                module.weight.copy_(0.4 + 0.4 * torch.rand(shape, generator=generator))
                module.bias.copy_(0.4 * torch.rand(shape, generator=generator) - 0.2)
                # OCR's object vectors average over all pixels, so they hardly vary between
                # random images: keep their variance from becoming a huge gain
                module.running_var.clamp_(min=0.05)
                spread = module.running_var.sqrt()
                module.running_mean.add_(0.2 * spread * torch.randn(shape, generator=generator))
                module.running_var.mul_(0.7 + 0.6 * torch.rand(shape, generator=generator))
    return model.eval()


def example_inputs(
    batch: int, height: int, width: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random ``(batch, 4, H, W)`` input and the same three clicks (sub-pixel) per sample."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 4, height, width, generator=generator)
    clicks = [
        Click(x=width / 2, y=height / 2, is_positive=True, index=0),
        Click(x=width / 5, y=height / 4, is_positive=False, index=1),
        Click(x=width / 3 + 0.5, y=height / 2 - 0.25, is_positive=True, index=2),
    ]
    return image, points_tensor([clicks] * batch)
