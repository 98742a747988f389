"""The package's own checkpoint format: save a model, load it back (official files too).

A ritm_lite checkpoint is ``{"format": "ritm_lite", "format_version": 1, "config": {ModelConfig
fields}, "state_dict": ..., ...}`` plus whatever the writer added (training state, a model
card or the settings a checkpoint is meant to be used with under ``"meta"``). Official RITM
files (``{"state_dict", "config": {"class", "params"}}``) are read through their translation,
:mod:`ritm_lite.model.official`.

The architecture is rebuilt from the stored config and the weights are loaded strictly.
Every way a file can be wrong gets a :class:`CheckpointError` that says which, checked where
the bytes come in:

* **the file** (:func:`~ritm_lite.model.safe_load.load_safely`): empty, a folder, not
  ``torch.save``'s format, a truncated zip, a member whose CRC-32 fails, pickled code;
* **the contents** (:func:`read_checkpoint`): a config that is not a valid
  :class:`ModelConfig` (``ModelConfig.from_dict``: each field of the right type, finite, and
  passing ``ModelConfig``'s own checks, for official configs too), a state dict that is not a
  dict of tensors, or weights that are NaN or infinite (named);
* **the architecture** (:func:`load_checkpoint`): missing, unexpected, wrongly shaped keys, or
  integer tensors where the model has floating-point ones (float16 and bfloat16 are fine).

Official checkpoints *by name* (``"coco_lvis_h18s_itermask"``) are the weights registry's job:
``ritm_lite.load_checkpoint`` resolves them (:func:`ritm_lite.weights.load_checkpoint`).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .build import ModelConfig, build_model
from .official import config_from_official, is_official
from .ritm import RITMModel
from .safe_load import CheckpointError, load_safely

__all__ = ["FORMAT", "FORMAT_VERSION", "CheckpointError", "atomic_torch_save", "check_state_dict",
           "load_checkpoint", "load_safely", "read_checkpoint", "save_checkpoint"]

FORMAT = "ritm_lite"
FORMAT_VERSION = 1


def _model_config(values: Any, source: str) -> ModelConfig:
    """``ModelConfig.from_dict(values)``, its refusal as a :class:`CheckpointError` naming ``source``."""
    try:
        return ModelConfig.from_dict(values)
    except ValueError as err:
        raise CheckpointError(f"{source}: invalid model config: {err}") from err


def check_state_dict(state_dict: Any, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Check that a stored state dict is ``{str: tensor}`` with finite floating-point weights.

    Returns it unchanged; raises :class:`CheckpointError` naming the first offending keys.
    """
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{source}: its 'state_dict' is a {type(state_dict).__name__}, "
                              "not a dict of tensors")
    keys = [k for k in state_dict if not isinstance(k, str)]
    if keys:
        raise CheckpointError(f"{source}: state_dict key(s) {keys[:3]} are not strings")
    not_tensors = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        k, more = not_tensors[0], len(not_tensors) - 1
        raise CheckpointError(
            f"{source}: state_dict entry {k!r} is a {type(state_dict[k]).__name__}, not a tensor"
            + (f" (and {more} more entries)" if more else ""))
    complex_ = [k for k, v in state_dict.items() if v.is_complex()]
    if complex_:
        raise CheckpointError(f"{source}: complex-valued tensor(s) {complex_[:3]} in state_dict")
    non_finite = [k for k, v in state_dict.items()
                  if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if non_finite:
        raise CheckpointError(f"{source}: {len(non_finite)} tensor(s) hold NaN or infinite "
                              f"weights, e.g. {non_finite[:3]}")
    return state_dict


def read_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> tuple[ModelConfig, dict, dict]:
    """Read a checkpoint without building the model.

    Returns:
        ``(config, state_dict, contents)`` where ``contents`` is the whole loaded dict and
        ``state_dict`` has passed :func:`check_state_dict`.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: see :func:`load_safely`; not a RITM checkpoint; an invalid config;
            a state dict that is not tensors, or holds NaN / infinite weights.
    """
    path = Path(path)
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
        model_config = _model_config(config, str(path))
    elif is_official(config):
        model_config = config_from_official(config, source=str(path))
    else:
        raise CheckpointError(f"{path}: not a RITM checkpoint: its 'config' is missing or unrecognised")
    return model_config, check_state_dict(contents["state_dict"], str(path)), contents


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> RITMModel:
    """Load an official RITM checkpoint or a ritm_lite one.

    Args:
        path: the ``.pth`` file (an official checkpoint by name: ``ritm_lite.load_checkpoint``).
        map_location: passed to ``torch.load``.

    Returns:
        The model (float32, eval mode) with the stored weights loaded strictly.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: truncated/corrupt/damaged file, foreign file, pickled code, invalid
            config, unsupported architecture, non-tensor or non-finite weights, or a state
            dict that does not match the architecture (keys, shapes, dtypes).
    """
    if isinstance(path, str) and not Path(path).exists() and not Path(path).suffix and os.sep not in path:
        raise FileNotFoundError(f"no checkpoint file {path!r}; to load an official checkpoint by name, "
                                "call ritm_lite.load_checkpoint(name) (python -m ritm_lite.weights list)")
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
    wrong_kind = [k for k in expected
                  if state_dict[k].is_floating_point() != expected[k].is_floating_point()]
    if wrong_kind:  # float16 / bfloat16 for float32 is fine; int32 for float32 is not
        k = wrong_kind[0]
        raise CheckpointError(
            f"{path}: {len(wrong_kind)} tensor(s) of the wrong kind of dtype, e.g. {k!r} is "
            f"{state_dict[k].dtype}, the model needs {expected[k].dtype}")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()})
    return model.eval()


def save_checkpoint(model: RITMModel, path: str | os.PathLike, half: bool = False, **extra: Any) -> Path:
    """Write a ritm_lite checkpoint atomically (a temporary file renamed into place).

    Args:
        model: a model built by :func:`~ritm_lite.model.build_model` (it carries its config).
        path: destination ``.pth``.
        half: store floating-point weights as float16 (half the size; used for shipped weights).
        **extra: more entries to store (``meta`` for a model card, training state, ...).

    Raises:
        ValueError: a model without config, or (``half``) weights that float16 cannot hold.
    """
    if getattr(model, "config", None) is None:
        raise ValueError("model has no config: build it with ritm_lite.build_model(...)")
    state_dict = {
        k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu()
        for k, v in model.state_dict().items()
    }
    overflow = [k for k, v in model.state_dict().items() if half and v.is_floating_point()
                and bool(torch.isfinite(v).all()) and not bool(torch.isfinite(state_dict[k]).all())]
    if overflow:  # the file would hold infinities, which loading refuses
        raise ValueError(f"cannot store {overflow[:3]} as float16: values beyond its range "
                         "(±65504); save with half=False")
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
