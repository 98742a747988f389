"""Counting a model's floating-point operations, the way the paper's table reports them.

We use PyTorch's own :class:`torch.utils.flop_counter.FlopCounterMode`, which counts a
multiply-add as 2 FLOPs over convolutions and matrix products (bilinear resampling, BatchNorm
and activations are not counted, as in most papers). For HRNet-W18 at 400x400 it gives
30.57 GFLOPs — the number the original implementation's counter gives (the paper: 30.80).

:func:`complexity_table` measures the paper's Table 4 (parameters and GFLOPs of HRNet-W18,
DeepLabV3+ ResNet-34 and HRNet-W18-small at 400x400) beside the paper's numbers, with the
course's EfficientNet-Lite0 model as a fourth row; ``benchmarks/complexity.py`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..clicks import Click, points_tensor
from .build import build_model

# Table 4 of arXiv 2102.06583v1: preset -> (the paper's name, parameters in millions, GFLOPs)
TABLE_4: dict[str, tuple[str, float, float]] = {
    "hrnet18": ("HRNet-W18", 10.03, 30.80),
    "deeplab_r34": ("DeepLabV3+ ResNet-34", 19.17, 122.28),
    "hrnet18s": ("HRNet-W18-small", 4.22, 17.84),
}
OTHER_MODELS: dict[str, str] = {"efficientnet_lite0": "EfficientNet-Lite0 + FPN (course)"}  # not in the paper


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


@dataclass(frozen=True)
class ComplexityRow:
    """One model's size and cost, measured here and (if the paper has the model) in Table 4."""

    name: str  # the paper's name of the model
    preset: str  # its ritm_lite.MODEL_PRESETS key
    parameters: int  # count_parameters
    flops: int  # count_flops at the table's size, one click
    paper_parameters_m: float | None  # Table 4, millions (None: not in the paper)
    paper_gflops: float | None  # Table 4, GFLOPs at 400x400


def complexity_table(presets: tuple[str, ...] = ("hrnet18", "deeplab_r34", "hrnet18s", "efficientnet_lite0"),
                     height: int = 400, width: int = 400) -> list[ComplexityRow]:
    """Table 4 measured: each preset built (random weights) and counted, beside the paper's numbers.

    Args:
        presets: model presets, rows in this order (Table 4's three models and the course's).
        height, width: the input size of the FLOP count (the paper's numbers are at 400x400).

    Returns:
        One :class:`ComplexityRow` per preset.
    """
    rows = []
    for preset in presets:
        model = build_model(preset, init=False)
        name, paper_params, paper_gflops = TABLE_4.get(preset, (OTHER_MODELS.get(preset, preset), None, None))
        rows.append(ComplexityRow(name, preset, count_parameters(model), count_flops(model, height, width),
                                  paper_params, paper_gflops))
    return rows


def complexity_markdown(rows: list[ComplexityRow], height: int = 400, width: int = 400) -> str:
    """``rows`` as a markdown table: parameters (M) and GFLOPs here and in the paper."""
    def paper(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = [f"| model | preset | parameters, M | paper, M | GFLOPs {height}x{width} | paper GFLOPs (400x400) |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for row in rows:
        lines.append(f"| {row.name} | `{row.preset}` | {row.parameters / 1e6:.2f} | {paper(row.paper_parameters_m)} "
                     f"| {row.flops / 1e9:.2f} | {paper(row.paper_gflops)} |")
    return "\n".join(lines)
