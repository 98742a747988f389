"""What a checkpoint needs at click time travels in it: ``meta["inference"]``, applied on loading.

Some weights are meant to be run with more than the paper's protocol (ZoomIn, flip): the
course's default EfficientNet-Lite0 weights see photos shrunk to a long side of ``max_size``
(LimitLongestSide, the original predictor's ``max_size``), the previous ones two scales and one
refinement pass (``ritm_lite/weights/MODEL_CARD.md``). Those settings are stored in the checkpoint,

    save_checkpoint(model, path, half=True, meta={..., "inference": {"multi_scale": 320, "refine": 1}})

and :func:`ritm_lite.weights.load_checkpoint` (``ritm_lite.load_checkpoint``) returns the network
already wrapped in them (``Refine(MultiScale(model, 320), 1)``), so whoever loads the file — a
hand-built :class:`~ritm_lite.inference.Predictor`, ``load_course_model``, the evaluation CLI,
the widget — runs it the same way. A checkpoint without the entry (every official one) loads
as the bare :class:`~ritm_lite.model.ritm.RITMModel`.

The model's own loader, :func:`ritm_lite.model.checkpoint.load_checkpoint`, stays the bare
network (for training, export and fine-tuning); :func:`unwrap` takes a wrapped model apart again,
and :meth:`InferenceSettings.wrap` puts any network (``optimize_for_inference``'s, ONNX
Runtime's) back in the same settings.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from typing import Any

from torch import nn

from ritm_lite.inference.limit_longest_side import MaxSize
from ritm_lite.inference.multi_scale import MultiScale
from ritm_lite.inference.refinement import Refine
from ritm_lite.model.checkpoint import CheckpointError, read_checkpoint


@dataclass(frozen=True)
class InferenceSettings:
    """Model wrappers a checkpoint is meant to be run with, beyond the paper's protocol."""

    max_size: int | None = None  # MaxSize's long side, in pixels: larger inputs are shrunk; None: never
    multi_scale: int | None = None  # MultiScale's shrunk long side, in pixels; None: one scale
    refine: int | None = None  # Refine's extra passes per click; None: one pass

    def __post_init__(self) -> None:
        probe = nn.Identity()
        if self.max_size is not None:
            MaxSize(probe, self.max_size)
        if self.multi_scale is not None:
            MultiScale(probe, self.multi_scale)  # the wrappers' own checks, at once
        if self.refine is not None:
            Refine(probe, self.refine)

    @classmethod
    def from_meta(cls, meta: Any, source: str = "checkpoint") -> InferenceSettings:
        """The settings in a checkpoint's ``meta`` (none when it has no ``"inference"`` entry).

        Raises:
            CheckpointError: ``meta["inference"]`` is not a dict of known settings with valid values.
        """
        entry = meta.get("inference") if isinstance(meta, dict) else None
        if entry is None:
            return cls()
        known = {f.name for f in fields(cls)}
        if not isinstance(entry, dict) or not set(entry) <= known:
            unknown = sorted(set(entry) - known) if isinstance(entry, dict) else type(entry).__name__
            raise CheckpointError(f"{source}: meta['inference'] holds {unknown}, not settings this version "
                                  f"knows ({sorted(known)})")
        try:
            return cls(**entry)
        except ValueError as err:
            raise CheckpointError(f"{source}: meta['inference']: {err}") from err

    def to_meta(self) -> dict[str, int]:
        """The ``meta["inference"]`` entry: the settings that are set."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    def wrap(self, network: nn.Module) -> nn.Module:
        """``network`` in these settings: ``Refine(MultiScale(MaxSize(network)))``, each only
        when set (every refinement pass is then a two-scale pass, and every pass sees at most
        ``max_size`` pixels)."""
        if self.max_size is not None:
            network = MaxSize(network, self.max_size)
        if self.multi_scale is not None:
            network = MultiScale(network, self.multi_scale)
        if self.refine is not None:
            network = Refine(network, self.refine)
        return network


def unwrap(model: nn.Module) -> tuple[nn.Module, InferenceSettings]:
    """``(network, settings)`` such that ``settings.wrap(network)`` is ``model`` again."""
    refine = multi_scale = max_size = None
    if isinstance(model, Refine):
        model, refine = model.network, model.passes
    if isinstance(model, MultiScale):
        model, multi_scale = model.network, model.size
    if isinstance(model, MaxSize):
        model, max_size = model.network, model.max_size
    if isinstance(model, (Refine, MultiScale, MaxSize)):
        raise ValueError(f"{type(model).__name__} wrapped in another order than InferenceSettings.wrap makes")
    return model, InferenceSettings(max_size=max_size, multi_scale=multi_scale, refine=refine)


def read_settings(path: str | os.PathLike) -> InferenceSettings:
    """The :class:`InferenceSettings` stored in the checkpoint file ``path``."""
    _, _, contents = read_checkpoint(path)
    return InferenceSettings.from_meta(contents.get("meta"), str(path))
