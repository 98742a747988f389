"""ritm_lite: RITM interactive segmentation, rebuilt as a small, tested library.

Sofiiuk, Petrov, Konushin, "Reviving Iterative Training with Mask Guidance for Interactive
Segmentation" (2021). The package follows the paper's data flow: data -> click sampling ->
model (click encoding, Conv1S, HRNet+OCR) -> loss -> iterative training -> predictor
(ZoomIn, flip) -> evaluation (NoC) -> widget.

>>> import ritm_lite
>>> model = ritm_lite.build_model("hrnet18s")          # random weights, ITER-M config
>>> model = ritm_lite.load_checkpoint("hrnet18s_cocolvis_itermask_3p.pth")  # doctest: +SKIP
"""

from .clicks import Click
from .model import PRESETS, ModelConfig, RITMModel, build_model
from .model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__version__ = "0.1.0"

__all__ = [
    "Click", "PRESETS", "ModelConfig", "RITMModel", "build_model",
    "CheckpointError", "load_checkpoint", "save_checkpoint",
]
