"""The original's optimisation: Adam with a 10x smaller learning rate for the backbone.

RITM marks every HRNet parameter — its classification and auxiliary heads included — with a
learning-rate multiplier of 0.1, then resets it to 1.0 for the OCR modules
(``ocr_distri_head``, ``ocr_gather_head``, ``conv3x3_ocr``). Conv1S (``maps_transform``) is
new and learns at the full rate; the Conv1E ablation (``maps_transform`` a :class:`Conv1E`)
learns at the backbone's rate, as the original trains it. Each feature extractor names its
full-rate modules in
``full_rate_modules``, part of the :class:`~ritm_lite.model.build.FeatureExtractor` protocol
(EfficientNet-Lite: its FPN ``decoder``). The schedule is ``MultiStepLR`` over epochs.
"""

from __future__ import annotations

import torch
from torch import nn

from ..model.build import FeatureExtractor
from ..model.conv1s import Conv1E
from ..model.ocr import HRNetOCR
from .config import TrainConfig

FULL_RATE_HEAD_MODULES = HRNetOCR.full_rate_modules  # the default: HRNet + OCR's


def is_backbone_parameter(name: str, full_rate_modules: tuple[str, ...] = FULL_RATE_HEAD_MODULES) -> bool:
    """True for parameters trained with the backbone multiplier (0.1 in RITM)."""
    parts = name.split(".")
    if parts[0] == "module":  # DistributedDataParallel wrapper
        parts = parts[1:]
    return parts[0] == "feature_extractor" and parts[1] not in full_rate_modules


def parameter_groups(model: nn.Module, lr: float, backbone_lr_mult: float) -> list[dict]:
    """Two Adam parameter groups: ``new`` (Conv1S + the head's new modules, ``lr``) and ``backbone``."""
    net = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    extractor: FeatureExtractor = net.feature_extractor
    full_rate = extractor.full_rate_modules
    slow_clicks = isinstance(getattr(net, "maps_transform", None), Conv1E)  # original: x0.1 for conv_extend (DMF has none)
    new, backbone = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            slow = is_backbone_parameter(name, full_rate) or (slow_clicks and "maps_transform." in name)
            (backbone if slow else new).append(param)
    return [
        {"params": new, "lr": lr, "name": "new"},
        {"params": backbone, "lr": lr * backbone_lr_mult, "name": "backbone"},
    ]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Adam:
    """Adam with the original's hyper-parameters and learning-rate multipliers."""
    groups = parameter_groups(model, config.lr, config.backbone_lr_mult)
    return torch.optim.Adam(groups, lr=config.lr, betas=config.betas, eps=config.eps)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.MultiStepLR:
    """Learning rate x ``gamma`` at each milestone epoch (stepped once per epoch)."""
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(config.milestones), gamma=config.gamma)
