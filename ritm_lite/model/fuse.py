"""BatchNorm folding: turning ``conv -> BatchNorm`` into one convolution for inference.

In eval mode a BatchNorm layer is a fixed per-channel affine map of its input, using the
*running* statistics gathered during training:

    bn(y) = gamma * (y - mu) / sqrt(sigma^2 + eps) + beta

When ``y = W * x + b`` is a convolution, the two compose into one convolution
(``s = gamma / sqrt(sigma^2 + eps)`` per output channel):

    bn(W * x + b) = (s W) * x + (s (b - mu) + beta)          W' = s W,  b' = s (b - mu) + beta

so the network does the same arithmetic with one memory pass less per BatchNorm (HRNet-W18
has 314 of them). The result differs from the unfolded network only by float rounding (a few
1e-7 relative). The formula itself is torch's (``torch.nn.utils.fusion.fuse_conv_bn_weights``);
this module finds the pairs to fold in the model tree. This holds **only in eval mode**: in training BatchNorm normalises with the
statistics of the current batch, and folding would be wrong.

Which BatchNorm follows which convolution is read from the module tree, using the two patterns
this package's model is built from (:mod:`ritm_lite.model.hrnet`, :mod:`ritm_lite.model.ocr`):

* in an ``nn.Sequential``: a ``Conv2d`` directly followed by a ``BatchNorm2d``, or by an
  ``nn.Sequential`` whose first layer is a ``BatchNorm2d`` (OCR's nested ``bn_relu``);
  Conv1S's final ``ScaleLayer`` (``y = |s| x``) is folded into its convolution the same way;
* in any other module: children named ``convK`` and ``bnK`` (same ``K``), whose ``forward``
  applies ``bnK`` right after ``convK`` (HRNet's stem, ``BasicBlock``, ``Bottleneck``);
* timm's EfficientNet blocks and stem, by their documented pairs (:data:`TIMM_PAIRS`), where
  the BatchNorm is timm's ``BatchNormAct2d`` (BatchNorm, then its activation).

A folded BatchNorm (or scale) is replaced by ``nn.Identity`` (a ``BatchNormAct2d`` by its
activation), so the module's ``forward`` is unchanged. The folded convolution keeps its class
(timm's ``Conv2dSame`` keeps its TensorFlow-style padding).
"""

from __future__ import annotations

import copy
import itertools
import re

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from .conv1s import ScaleLayer


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new ``Conv2d`` (with bias) computing ``bn(conv(x))`` with ``bn`` in eval mode.

    The arithmetic is torch's own (``torch.nn.utils.fusion.fuse_conv_bn_weights``:
    ``W' = s W``, ``b' = s (b - mu) + beta``), run in float64 and rounded once to ``conv``'s dtype.

    Args:
        conv: the convolution, ``out_channels == bn.num_features``; not modified.
        bn: the BatchNorm with running statistics (``track_running_stats=True``).

    Returns:
        A convolution with the folded weight and bias (``conv``'s class, dtype and device).
    """
    if conv.out_channels != bn.num_features:
        raise ValueError(
            f"conv has {conv.out_channels} output channels but BatchNorm has {bn.num_features}"
        )
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("BatchNorm without running statistics cannot be folded")
    weight, bias = fuse_conv_bn_weights(
        conv.weight.double(), _double(conv.bias), bn.running_mean.double(), bn.running_var.double(), bn.eps,
        _double(bn.weight), _double(bn.bias),  # None without affine: gamma 1, beta 0
    )
    fused = copy.deepcopy(conv)  # same class, padding and stride (timm's Conv2dSame included)
    fused.weight.copy_(weight.to(conv.weight.dtype))
    fused.bias = nn.Parameter(bias.detach().to(conv.weight.dtype), requires_grad=conv.weight.requires_grad)
    return fused


def _double(tensor: torch.Tensor | None) -> torch.Tensor | None:
    return None if tensor is None else tensor.double()


@torch.no_grad()
def fold_conv_scale(conv: nn.Conv2d, scale: ScaleLayer) -> nn.Conv2d:
    """A new ``Conv2d`` computing ``scale(conv(x)) = |s| (W * x + b)`` (Conv1S's last two layers)."""
    factor = torch.abs(scale.scale * scale.lr_mult).to(conv.weight.dtype)
    fused = copy.deepcopy(conv)
    fused.weight.mul_(factor)
    if fused.bias is not None:
        fused.bias.mul_(factor)
    return fused


_CONV_NAME = re.compile(r"conv(\d*)$")

TIMM_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    # class name -> (conv, BatchNorm) children that forward applies one right after the other
    "DepthwiseSeparableConv": (("conv_dw", "bn1"), ("conv_pw", "bn2")),
    "InvertedResidual": (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")),
    "EfficientNetLiteFPN": (("conv_stem", "bn1"),),
}


def _after_folding(bn: nn.BatchNorm2d) -> nn.Module:
    """What replaces a folded BatchNorm: nothing, or a timm ``BatchNormAct2d``'s activation."""
    act = getattr(bn, "act", None)
    return act if isinstance(act, nn.Module) else nn.Identity()


def _fold_children(module: nn.Module) -> int:
    """Fold the conv/BN pairs among ``module``'s direct children in place; return how many."""
    folded = 0
    children = dict(module.named_children())
    if isinstance(module, nn.Sequential):
        names = list(children)
        for name, following in itertools.pairwise(names):
            conv, after = children[name], children[following]
            if not isinstance(conv, nn.Conv2d):
                continue
            if isinstance(after, nn.BatchNorm2d):
                setattr(module, name, fold_conv_bn(conv, after))
                setattr(module, following, nn.Identity())
                folded += 1
            elif isinstance(after, nn.Sequential) and isinstance(after[0], nn.BatchNorm2d):
                setattr(module, name, fold_conv_bn(conv, after[0]))
                after[0] = nn.Identity()
                folded += 1
            elif isinstance(after, ScaleLayer):
                setattr(module, name, fold_conv_scale(conv, after))
                setattr(module, following, nn.Identity())
                folded += 1
        return folded
    for conv_name, bn_name in TIMM_PAIRS.get(type(module).__name__, ()):
        conv, bn = children.get(conv_name), children.get(bn_name)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            setattr(module, conv_name, fold_conv_bn(conv, bn))
            setattr(module, bn_name, _after_folding(bn))
            folded += 1
    for name, conv in children.items():
        match = _CONV_NAME.match(name)
        bn = children.get(f"bn{match.group(1)}") if match else None
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            setattr(module, name, fold_conv_bn(conv, bn))
            setattr(module, f"bn{match.group(1)}", nn.Identity())
            folded += 1
    return folded


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every ``conv -> BatchNorm`` pair folded.

    Args:
        model: any module built from the patterns in the module docstring; not modified.

    Returns:
        A deep copy in eval mode, where each folded BatchNorm is an ``nn.Identity`` and its
        convolution carries the folded weight and bias. BatchNorm layers that follow no
        convolution are left as they are (:func:`count_batchnorm` tells how many remain).
    """
    folded = copy.deepcopy(model).eval()
    for module in list(folded.modules()):
        _fold_children(module)
    return folded


def count_batchnorm(model: nn.Module) -> int:
    """Number of ``BatchNorm2d`` layers in ``model`` (0 after folding a whole RITM model)."""
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
