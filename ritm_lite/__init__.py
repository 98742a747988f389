"""ritm_lite: RITM interactive segmentation, rebuilt as a small, tested library.

Sofiiuk, Petrov, Konushin, "Reviving Iterative Training with Mask Guidance for Interactive
Segmentation" (2021). The package follows the paper's data flow: data -> click sampling ->
model (click encoding, Conv1S, HRNet+OCR) -> loss -> iterative training -> predictor
(ZoomIn, flip) -> evaluation (NoC) -> widget.
"""

__version__ = "0.1.0"
