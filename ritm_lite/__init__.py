"""ritm_lite: RITM interactive segmentation, rebuilt as a small, tested library.

Sofiiuk, Petrov, Konushin, "Reviving Iterative Training with Mask Guidance for Interactive
Segmentation" (2021). The package follows the paper's data flow: data -> click sampling ->
model (click encoding, Conv1S, HRNet+OCR) -> loss -> iterative training -> predictor
(ZoomIn, flip) -> evaluation (NoC) -> widget.

>>> import ritm_lite
>>> model = ritm_lite.build_model("hrnet18s")          # random weights, ITER-M config
>>> model = ritm_lite.load_checkpoint("hrnet18s_cocolvis_itermask_3p.pth")  # doctest: +SKIP
>>> predictor = ritm_lite.Predictor(model)               # SAM-style: set_image, predict

``ritm_lite.load_checkpoint`` gives a checkpoint ready to predict with: the network wrapped in the
settings the file stores (:mod:`ritm_lite.inference.settings`, applied by
:func:`ritm_lite.weights.load_checkpoint`); the bare trained network, for
training or export, is ``ritm_lite.model.checkpoint.load_checkpoint``.

The names below are imported on first use, so command lines that need no model (the
COCO+LVIS converter, the downloader) start without loading torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Click": "ritm_lite.clicks",
    "MODEL_PRESETS": "ritm_lite.model",
    "ModelConfig": "ritm_lite.model",
    "RITMModel": "ritm_lite.model",
    "build_model": "ritm_lite.model",
    "CheckpointError": "ritm_lite.model.checkpoint",
    "load_checkpoint": "ritm_lite.weights",
    "save_checkpoint": "ritm_lite.model.checkpoint",
    "Predictor": "ritm_lite.inference",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ritm_lite' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
