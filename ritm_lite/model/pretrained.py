"""Initialising the backbone from ImageNet-pretrained HRNet weights (a file you provide).

RITM starts every backbone from the HRNet image-classification weights
(``hrnetv2_w18_imagenet_pretrained.pth`` etc., published by the HRNet authors:
https://github.com/HRNet/HRNet-Image-Classification). Nothing is downloaded here: pass the
file's path. As in the original, keys are matched by name after dropping a ``model.`` prefix
and renaming ``last_layer`` to ``aux_head``; the classification-only modules
(``incre_modules``, ``downsamp_modules``, ``final_layer``, ``classifier``) have no
counterpart and are skipped. Conv1S and the OCR head keep their initialisation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from .checkpoint import CheckpointError, load_safely
from .ritm import RITMModel

MIN_MATCHED_FRACTION = 0.5  # of the backbone's own tensors; fewer means a wrong file


@dataclass
class PretrainedReport:
    """What :func:`load_imagenet_hrnet` did."""

    loaded: list[str] = field(default_factory=list)  # keys copied into the model
    skipped: list[str] = field(default_factory=list)  # keys in the file with no counterpart
    mismatched: list[str] = field(default_factory=list)  # same name, different shape (not loaded)


def load_imagenet_hrnet(model: RITMModel, path: str | os.PathLike) -> PretrainedReport:
    """Copy ImageNet HRNet weights into ``model.feature_extractor`` (in place).

    Raises:
        CheckpointError: unreadable file, or too few matching tensors (e.g. a W32 file for a
            W18 model).
    """
    contents = load_safely(path)
    if isinstance(contents, dict) and isinstance(contents.get("state_dict"), dict):
        contents = contents["state_dict"]
    if not isinstance(contents, dict) or not all(isinstance(v, torch.Tensor) for v in contents.values()):
        raise CheckpointError(f"{path}: expected a state dict of tensors")
    target = model.feature_extractor.state_dict()
    renamed = {k.replace("last_layer", "aux_head").replace("model.", ""): v for k, v in contents.items()}
    report = PretrainedReport()
    update = {}
    for key, value in renamed.items():
        if key not in target:
            report.skipped.append(key)
        elif tuple(value.shape) != tuple(target[key].shape):
            report.mismatched.append(key)
        else:
            update[key] = value.to(target[key].dtype)
            report.loaded.append(key)
    backbone_keys = [k for k in target if not k.startswith(("conv3x3_ocr", "ocr_", "cls_head", "aux_head"))]
    matched = sum(k in update for k in backbone_keys)
    if matched < MIN_MATCHED_FRACTION * len(backbone_keys):
        raise CheckpointError(
            f"{path}: only {matched} of {len(backbone_keys)} backbone tensors match "
            f"({len(report.mismatched)} with other shapes): is it an HRNet of the same width?"
        )
    model.feature_extractor.load_state_dict(update, strict=False)
    return report
