"""Counting a model's floating-point operations, the way the paper's table reports them.

We use PyTorch's own :class:`torch.utils.flop_counter.FlopCounterMode`, which counts a
multiply-add as 2 FLOPs over convolutions and matrix products (bilinear resampling, BatchNorm
and activations are not counted, as in most papers). For HRNet-W18 at 400x400 it gives
30.57 GFLOPs — the number the original implementation's counter gives (the paper: 30.80).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..clicks import Click, points_tensor


@torch.no_grad()
def count_flops(model: nn.Module, height: int = 400, width: int = 400) -> int:
    """FLOPs of one forward pass on a ``(1, 4, height, width)`` input with one click.

    The model is run in eval mode on its own device and left in the mode it was in.
    """
    if height < 8 or width < 8:
        raise ValueError(f"image must be at least 8x8, got {height}x{width}")
    device = next(model.parameters()).device
    image = torch.zeros(1, 4, height, width, device=device)
    points = points_tensor([[Click(x=width // 2, y=height // 2, is_positive=True)]], device=device)
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            model(image, points)
    finally:
        model.train(was_training)
    return counter.get_total_flops()


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (buffers such as BatchNorm statistics excluded)."""
    return sum(p.numel() for p in model.parameters())
