"""The original's weight initialisation (MXNet Gluon's Xavier, as RITM's training scripts use it).

Every ITER-M training script calls ``model.apply(XavierGluon(rnd_type='gaussian', magnitude=2))``
before loading ImageNet weights into the backbone:

* convolution / linear weights ~ N(0, sigma^2) with ``sigma = sqrt(magnitude / ((fan_in + fan_out) / 2))``
  (``'uniform'``: U(-s, s) with the same ``s``), biases 0;
* normalisation layers: gamma 1, beta 0.

Parameters that are not called ``weight``/``bias`` (Conv1S's ``scale``) keep their values.
"""

from __future__ import annotations

import math

import torch
from torch import nn

_NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


@torch.no_grad()
def xavier_gluon_init(model: nn.Module, rnd_type: str = "gaussian", magnitude: float = 2.0,
                      factor_type: str = "avg") -> nn.Module:
    """Initialise ``model`` in place, like the original's ``XavierGluon`` initializer.

    Args:
        model: any module; every submodule with ``weight``/``bias`` is initialised.
        rnd_type: ``"gaussian"`` (RITM) or ``"uniform"``.
        magnitude: scale factor inside the square root (2 in RITM).
        factor_type: ``"avg"`` ((fan_in + fan_out) / 2), ``"in"`` or ``"out"``.

    Returns:
        ``model``, for chaining.
    """
    if rnd_type not in {"gaussian", "uniform"}:
        raise ValueError(f"rnd_type must be 'gaussian' or 'uniform', got {rnd_type!r}")
    if factor_type not in {"avg", "in", "out"}:
        raise ValueError(f"factor_type must be 'avg', 'in' or 'out', got {factor_type!r}")
    for module in model.modules():
        weight = getattr(module, "weight", None)
        bias = getattr(module, "bias", None)
        if isinstance(module, _NORM_LAYERS):
            if isinstance(weight, torch.Tensor):
                weight.fill_(1.0)
            if isinstance(bias, torch.Tensor):
                bias.zero_()
            continue
        if isinstance(weight, torch.Tensor) and weight.ndim >= 2:
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(weight)
            factor = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[factor_type]
            scale = math.sqrt(magnitude / factor)
            if rnd_type == "gaussian":
                weight.normal_(0.0, scale)
            else:
                weight.uniform_(-scale, scale)
        if isinstance(bias, torch.Tensor):
            bias.zero_()
    return model
