"""Reading and writing model checkpoints, official RITM files included.

Two formats are understood, both loaded with ``torch.load(weights_only=True)`` so that no
pickled code is ever executed:

* **official RITM** (``hrnet18_cocolvis_itermask_3p.pth`` etc.):
  ``{"state_dict": ..., "config": {"class": "isegm.model.is_hrnet_model.HRNetModel",
  "params": {name: {"type", "value", "specified"}}}}`` — the constructor arguments of the
  original model, classes stored only as dotted names;
* **ritm_lite**: ``{"format": "ritm_lite", "format_version": 1, "config": {ModelConfig
  fields}, "state_dict": ..., ...}`` plus whatever the writer added (training state, a model
  card under ``"meta"``).

The architecture is rebuilt from the stored config and the weights are loaded strictly.
Every way a file can be wrong gets a :class:`CheckpointError` that says which.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from .ritm import IMAGENET_MEAN, IMAGENET_STD, ModelConfig, RITMModel, build_model

FORMAT = "ritm_lite"
FORMAT_VERSION = 1
OFFICIAL_CLASS = "isegm.model.is_hrnet_model.HRNetModel"
# (width, small) of the original HRNetModel -> our backbone name
_OFFICIAL_BACKBONES = {(18, True): "hrnet18s", (18, False): "hrnet18", (32, False): "hrnet32"}
# Original constructor options this implementation does not support, with the value it needs.
_OFFICIAL_REQUIRED = {
    "use_disks": True, "with_prev_mask": True, "use_rgb_conv": False, "conv_extend": False,
    "clicks_groups": None, "binary_prev_mask": False,
}


class CheckpointError(ValueError):
    """A checkpoint file is truncated, foreign, unsafe, or does not match its architecture."""


def load_safely(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load(weights_only=True)`` with a :class:`CheckpointError` saying what is wrong."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" in str(err):
            raise CheckpointError(
                f"{path}: refusing to load — the file contains arbitrary Python objects, and "
                "loading it would execute pickled code (only tensors and plain data are allowed)"
            ) from err
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({err})") from err
    except Exception as err:  # torch raises RuntimeError, EOFError, KeyError ... for bad bytes
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic == b"PK\x03\x04" and not zipfile.is_zipfile(path):
            raise CheckpointError(f"{path}: the file is truncated (its zip archive is incomplete)") from err
        if magic == b"PK\x03\x04":
            raise CheckpointError(f"{path}: the checkpoint archive is corrupt ({err})") from err
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({err})") from err


def config_from_official(config: dict, source: str = "checkpoint") -> ModelConfig:
    """Translate an original ``HRNetModel`` config into a :class:`ModelConfig`."""
    if config.get("class") != OFFICIAL_CLASS:
        raise CheckpointError(
            f"{source}: model class {config.get('class')!r} is not supported; "
            f"ritm_lite rebuilds {OFFICIAL_CLASS} only"
        )
    params = {name: entry.get("value") for name, entry in config.get("params", {}).items()}
    key = (params.get("width"), bool(params.get("small", False)))
    if key not in _OFFICIAL_BACKBONES:
        raise CheckpointError(f"{source}: unsupported HRNet variant width={key[0]}, small={key[1]}")
    for name, needed in _OFFICIAL_REQUIRED.items():
        if name in params and params[name] != needed:
            raise CheckpointError(f"{source}: unsupported option {name}={params[name]!r} (need {needed!r})")
    mean_std = params.get("norm_mean_std")
    if mean_std is not None and not (
        tuple(mean_std[0]) == IMAGENET_MEAN and tuple(mean_std[1]) == IMAGENET_STD
    ):
        raise CheckpointError(f"{source}: unsupported input normalisation {mean_std!r}")
    ocr_width = params.get("ocr_width", 256)
    if not ocr_width or ocr_width <= 0:
        raise CheckpointError(f"{source}: models without the OCR head (ocr_width={ocr_width}) are not supported")
    return ModelConfig(
        backbone=_OFFICIAL_BACKBONES[key],
        ocr_width=int(ocr_width),
        disk_radius=float(params.get("norm_radius", 5)),
        leaky_relu=bool(params.get("use_leaky_relu", False)),
    )


def read_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> tuple[ModelConfig, dict, dict]:
    """Read a checkpoint without building the model.

    Returns:
        ``(config, state_dict, contents)`` where ``contents`` is the whole loaded dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    contents = load_safely(path, map_location)
    if not isinstance(contents, dict) or "state_dict" not in contents:
        keys = list(contents)[:5] if isinstance(contents, dict) else type(contents).__name__
        hint = ""
        if isinstance(contents, dict) and contents and all(isinstance(v, torch.Tensor) for v in contents.values()):
            hint = " — it looks like a bare state_dict; load it with build_model(preset).load_state_dict(...)"
        raise CheckpointError(
            f"{path}: not a RITM checkpoint: expected a dict with 'state_dict' and 'config', got {keys}{hint}"
        )
    config = contents.get("config")
    if contents.get("format") == FORMAT:
        if contents.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{path}: unknown ritm_lite format version {contents.get('format_version')!r}")
        try:
            model_config = ModelConfig(**config)
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{path}: invalid model config {config!r} ({err})") from err
    elif isinstance(config, dict) and "class" in config:
        model_config = config_from_official(config, source=str(path))
    else:
        raise CheckpointError(f"{path}: not a RITM checkpoint: its 'config' is missing or unrecognised")
    return model_config, contents["state_dict"], contents


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> RITMModel:
    """Load an official RITM checkpoint or a ritm_lite one.

    Args:
        path: the ``.pth`` file, or the name of an official checkpoint
            (``"coco_lvis_h18s_itermask"``, see ``python -m ritm_lite.weights list``), which is
            downloaded into torch's hub cache the first time.
        map_location: passed to ``torch.load``.

    Returns:
        The model (float32, eval mode) with the stored weights loaded strictly.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: truncated/corrupt file, foreign file, pickled code, unsupported
            architecture, or a state dict that does not match the architecture.
        ritm_lite.data.download.DownloadError: an official checkpoint's every mirror failed.
    """
    if isinstance(path, str) and not Path(path).exists():
        from ..weights.registry import OFFICIAL_CHECKPOINTS, download  # ritm_lite.weights imports us

        if path in OFFICIAL_CHECKPOINTS:
            path = download(path)
    config, state_dict, _ = read_checkpoint(path, map_location)
    model = build_model(config, init=False)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [k for k in expected if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{path}: state_dict does not match a {config.backbone} model: "
            f"{len(missing)} missing (e.g. {missing[:3]}), {len(unexpected)} unexpected "
            f"(e.g. {unexpected[:3]}), {len(wrong)} with wrong shapes (e.g. {wrong[:3]})"
        )
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()})
    return model.eval()


def save_checkpoint(model: RITMModel, path: str | os.PathLike, half: bool = False, **extra: Any) -> Path:
    """Write a ritm_lite checkpoint atomically (a temporary file renamed into place).

    Args:
        model: a model built by :func:`~ritm_lite.model.build_model` (it carries its config).
        path: destination ``.pth``.
        half: store floating-point weights as float16 (half the size; used for shipped weights).
        **extra: more entries to store (``meta`` for a model card, training state, ...).
    """
    if getattr(model, "config", None) is None:
        raise ValueError("model has no config: build it with ritm_lite.build_model(...)")
    state_dict = {
        k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu()
        for k, v in model.state_dict().items()
    }
    contents = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "config": dataclasses.asdict(model.config), "state_dict": state_dict, **extra}
    return atomic_torch_save(contents, path)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file in the same folder, then rename: never a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
