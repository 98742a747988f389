"""The official RITM checkpoints' format, translated into a :class:`~ritm_lite.model.build.ModelConfig`.

An original checkpoint (``coco_lvis_h18s_itermask.pth``, ``hrnet18_cocolvis_itermask_3p.pth``
...) stores the constructor arguments of the original model, its class as a dotted name::

    {"state_dict": ..., "config": {"class": "isegm.model.is_hrnet_model.HRNetModel",
                                   "params": {name: {"type", "value", "specified"}}}}

Only the options this package rebuilds are accepted (HRNet + OCR, disks, the previous mask,
Conv1S, ImageNet normalisation); anything else is a :class:`CheckpointError` naming the option.
Its state-dict keys are ours already (the model keeps the original's names).
"""

from __future__ import annotations

from typing import Any

from .build import ModelConfig
from .ritm import IMAGENET_MEAN, IMAGENET_STD
from .safe_load import CheckpointError

OFFICIAL_CLASS = "isegm.model.is_hrnet_model.HRNetModel"
# (width, small) of the original HRNetModel -> our backbone name
OFFICIAL_BACKBONES = {(18, True): "hrnet18s", (18, False): "hrnet18", (32, False): "hrnet32"}
# Original constructor options this implementation does not support, with the value it needs.
OFFICIAL_REQUIRED = {
    "use_disks": True, "with_prev_mask": True, "use_rgb_conv": False, "conv_extend": False,
    "clicks_groups": None, "binary_prev_mask": False,
}


def is_official(config: Any) -> bool:
    """Whether a stored ``config`` is in the original's format (it names a class)."""
    return isinstance(config, dict) and "class" in config


def _official_params(config: dict, source: str) -> dict[str, Any]:
    """``{name: value}`` of an original config's ``params`` (``{name: {"value": ...}}``)."""
    params = config.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(e, dict) for e in params.values()):
        raise CheckpointError(f"{source}: the config's 'params' is not a dict of "
                              "{'type', 'value', 'specified'} entries")
    return {name: entry.get("value") for name, entry in params.items()}


def _is_imagenet_normalisation(mean_std: Any) -> bool:
    try:
        return tuple(mean_std[0]) == IMAGENET_MEAN and tuple(mean_std[1]) == IMAGENET_STD
    except (TypeError, IndexError, KeyError):
        return False


def config_from_official(config: dict, source: str = "checkpoint") -> ModelConfig:
    """Translate an original ``HRNetModel`` config into a :class:`ModelConfig`.

    Raises:
        CheckpointError: another model class or HRNet variant, an unsupported option, other
            input normalisation, no OCR head, or values ``ModelConfig.from_dict`` refuses.
    """
    if config.get("class") != OFFICIAL_CLASS:
        raise CheckpointError(
            f"{source}: model class {config.get('class')!r} is not supported; "
            f"ritm_lite rebuilds {OFFICIAL_CLASS} only"
        )
    params = _official_params(config, source)
    key = (params.get("width"), bool(params.get("small", False)))
    if key not in OFFICIAL_BACKBONES:
        raise CheckpointError(f"{source}: unsupported HRNet variant width={key[0]!r}, "
                              f"small={key[1]!r}")
    for name, needed in OFFICIAL_REQUIRED.items():
        if name in params and params[name] != needed:
            raise CheckpointError(f"{source}: unsupported option {name}={params[name]!r} (need {needed!r})")
    mean_std = params.get("norm_mean_std")
    if mean_std is not None and not _is_imagenet_normalisation(mean_std):
        raise CheckpointError(f"{source}: unsupported input normalisation {mean_std!r}")
    ocr_width = params.get("ocr_width", 256)
    if ocr_width is None or ocr_width == 0:
        raise CheckpointError(f"{source}: models without the OCR head (ocr_width={ocr_width}) are not supported")
    fields = {
        "backbone": OFFICIAL_BACKBONES[key],
        "ocr_width": ocr_width,
        "disk_radius": params.get("norm_radius", 5.0),
        "leaky_relu": params.get("use_leaky_relu", False),
    }
    try:
        return ModelConfig.from_dict(fields)
    except ValueError as err:
        raise CheckpointError(f"{source}: invalid model config: {err}") from err
