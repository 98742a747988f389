"""The original's optimisation: Adam with a 10x smaller learning rate for the backbone.

RITM marks every HRNet parameter — its classification and auxiliary heads included — with a
learning-rate multiplier of 0.1, then resets it to 1.0 for the OCR modules
(``ocr_distri_head``, ``ocr_gather_head``, ``conv3x3_ocr``). Conv1S (``maps_transform``) is
new and learns at the full rate. The schedule is ``MultiStepLR`` over epochs.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import TrainConfig

FULL_RATE_HEAD_MODULES = ("ocr_distri_head", "ocr_gather_head", "conv3x3_ocr")


def is_backbone_parameter(name: str) -> bool:
    """True for parameters trained with the backbone multiplier (0.1 in RITM)."""
    parts = name.split(".")
    if parts[0] == "module":  # DistributedDataParallel wrapper
        parts = parts[1:]
    return parts[0] == "feature_extractor" and parts[1] not in FULL_RATE_HEAD_MODULES


def parameter_groups(model: nn.Module, lr: float, backbone_lr_mult: float) -> list[dict]:
    """Two Adam parameter groups: ``new`` (Conv1S + OCR modules, ``lr``) and ``backbone``."""
    new, backbone = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (backbone if is_backbone_parameter(name) else new).append(param)
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
