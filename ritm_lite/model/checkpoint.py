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
Every way a file can be wrong gets a :class:`CheckpointError` that says which, checked where
the bytes come in:

* **the file** (:func:`load_safely`): empty, a folder, neither a zip archive (``torch.save``'s
  format) nor a pickle with torch's header (its legacy format), a truncated zip, or a zip
  member whose CRC-32 fails (bit rot: PyTorch itself never checks the CRCs);
* **the contents** (:func:`read_checkpoint`): a config that is not a valid
  :class:`ModelConfig` (each field of the right type, finite, and passing ``ModelConfig``'s
  own checks, for official configs too), a state dict that is not a dict of tensors, or
  weights that are NaN or infinite (named);
* **the architecture** (:func:`load_checkpoint`): missing, unexpected, wrongly shaped keys, or
  integer tensors where the model has floating-point ones (float16 and bfloat16 are fine).
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch.serialization import MAGIC_NUMBER

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
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's (default) zip format
# torch.save's legacy format is a sequence of pickles, the first of them its magic number
LEGACY_MAGICS = tuple(pickle.dumps(MAGIC_NUMBER, protocol=p)
                      for p in range(2, pickle.HIGHEST_PROTOCOL + 1))
# ModelConfig field annotation -> the Python types a stored value may have (bool is no int here)
_FIELD_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


class CheckpointError(ValueError):
    """A checkpoint file is truncated, foreign, unsafe, or does not match its architecture."""


def load_safely(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load(weights_only=True)`` of a file checked first, with a :class:`CheckpointError`.

    The file must be a zip archive whose every member passes its CRC-32 check (one extra read
    of the file, ~30 ms for 40 MB), or torch's legacy pickle format.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: a folder, an empty file, not a PyTorch checkpoint, truncated or
            damaged (naming the damaged member), or pickled code.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        head = f.read(max(map(len, LEGACY_MAGICS)))
    if not head:
        raise CheckpointError(f"{path}: the file is empty (0 bytes), not a PyTorch checkpoint")
    if head.startswith(ZIP_MAGIC):
        _check_archive(path)
    elif not head.startswith(LEGACY_MAGICS):
        what = "a Python pickle not written by torch.save" if head[:1] == b"\x80" else \
            f"neither a zip archive nor a pickle: it starts with {head[:8]!r}"
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({what})")
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
        raise CheckpointError(f"{path}: the checkpoint is corrupt, or not one written by "
                              f"torch.save ({err})") from err


def _check_archive(path: Path) -> None:
    """Read a zip checkpoint once, checking every member's CRC-32 (``ZipFile.testzip``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise CheckpointError(f"{path}: the file is truncated or damaged (its zip archive is "
                              f"incomplete: {err})") from err
    if damaged is not None:
        raise CheckpointError(
            f"{path}: the file is damaged: member {damaged!r} of its zip archive fails its CRC "
            "check (bit rot or a bad copy; download or copy the checkpoint again)")


def _model_config(values: Any, source: str) -> ModelConfig:
    """A :class:`ModelConfig` from stored field values, each type-checked; CheckpointError if not.

    The one gate every stored config goes through (ritm_lite's, and official ones once
    translated): ``ModelConfig``'s own checks (``disk_radius > 0`` ...) plus the type of each
    field (a string ``ocr_width`` or ``leaky_relu = "no"`` would otherwise pass) and finiteness.
    """
    if not isinstance(values, dict):
        raise CheckpointError(f"{source}: invalid model config {values!r}: not a dict of "
                              "ModelConfig fields")
    fields = {f.name: f.type for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(str(k) for k in values if k not in fields)
    if unknown:
        raise CheckpointError(f"{source}: invalid model config: unknown field(s) {unknown} "
                              f"(ModelConfig has {sorted(fields)})")
    checked = {}
    for name, value in values.items():
        types = _FIELD_TYPES[fields[name]]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise CheckpointError(f"{source}: invalid model config: {name} = {value!r} is not "
                                  f"of type {fields[name]}")
        if fields[name] == "float":
            if not _finite(value):
                raise CheckpointError(f"{source}: invalid model config: {name} = {value!r} "
                                      "is not finite")
            value = float(value)
        checked[name] = value
    try:
        return ModelConfig(**checked)
    except ValueError as err:
        raise CheckpointError(f"{source}: invalid model config: {err}") from err


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


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
    """Translate an original ``HRNetModel`` config into a :class:`ModelConfig`."""
    if config.get("class") != OFFICIAL_CLASS:
        raise CheckpointError(
            f"{source}: model class {config.get('class')!r} is not supported; "
            f"ritm_lite rebuilds {OFFICIAL_CLASS} only"
        )
    params = _official_params(config, source)
    key = (params.get("width"), bool(params.get("small", False)))
    if key not in _OFFICIAL_BACKBONES:
        raise CheckpointError(f"{source}: unsupported HRNet variant width={key[0]!r}, "
                              f"small={key[1]!r}")
    for name, needed in _OFFICIAL_REQUIRED.items():
        if name in params and params[name] != needed:
            raise CheckpointError(f"{source}: unsupported option {name}={params[name]!r} (need {needed!r})")
    mean_std = params.get("norm_mean_std")
    if mean_std is not None and not _is_imagenet_normalisation(mean_std):
        raise CheckpointError(f"{source}: unsupported input normalisation {mean_std!r}")
    ocr_width = params.get("ocr_width", 256)
    if ocr_width is None or ocr_width == 0:
        raise CheckpointError(f"{source}: models without the OCR head (ocr_width={ocr_width}) are not supported")
    return _model_config({
        "backbone": _OFFICIAL_BACKBONES[key],
        "ocr_width": ocr_width,
        "disk_radius": params.get("norm_radius", 5.0),
        "leaky_relu": params.get("use_leaky_relu", False),
    }, source)


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
    elif isinstance(config, dict) and "class" in config:
        model_config = config_from_official(config, source=str(path))
    else:
        raise CheckpointError(f"{path}: not a RITM checkpoint: its 'config' is missing or unrecognised")
    return model_config, check_state_dict(contents["state_dict"], str(path)), contents


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
        CheckpointError: truncated/corrupt/damaged file, foreign file, pickled code, invalid
            config, unsupported architecture, non-tensor or non-finite weights, or a state
            dict that does not match the architecture (keys, shapes, dtypes).
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


def load_reference_fixture(reference_dir: str | os.PathLike, preset: str) -> tuple[RITMModel, dict]:
    """The model stored in a golden fixture of the original RITM implementation.

    ``reference_dir`` holds ``ritm_{preset}_reference.pt`` (``../shared/fixtures/ritm_reference``;
    its README says what each tensor is): the original's weights as float16 under
    ``"state_dict"``, beside its ``input``, ``points`` and outputs.

    Returns:
        the model built from ``preset`` with those weights back in float32, in eval mode, and
        the whole fixture record.
    """
    path = Path(reference_dir) / f"ritm_{preset}_reference.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no reference fixture {path}")
    record = torch.load(path, weights_only=True)
    model = build_model(preset, init=False)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in record["state_dict"].items()})
    return model.eval(), record
