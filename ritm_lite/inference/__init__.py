"""Inference: the click-by-click predictor with the paper's ZoomIn and flip averaging."""

from ritm_lite.inference.flip import HorizontalFlip, flip_clicks
from ritm_lite.inference.predictor import Predictor, PredictorState
from ritm_lite.inference.zoom_in import Box, ZoomIn, ZoomInConfig

__all__ = [
    "Box",
    "HorizontalFlip",
    "Predictor",
    "PredictorState",
    "ZoomIn",
    "ZoomInConfig",
    "flip_clicks",
]
