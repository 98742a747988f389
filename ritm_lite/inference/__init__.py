"""Inference: the click-by-click predictor with the paper's ZoomIn and flip averaging."""

from ritm_lite.inference.fast import FastRITM, optimize_for_inference
from ritm_lite.inference.flip import HorizontalFlip, flip_clicks
from ritm_lite.inference.limit_longest_side import LimitLongestSide
from ritm_lite.inference.onnx_export import OnnxRuntimeModel, export_onnx
from ritm_lite.inference.predictor import Predictor, PredictorState
from ritm_lite.inference.zoom_in import Box, ZoomIn, ZoomInConfig, ZoomView

__all__ = [
    "Box",
    "FastRITM",
    "HorizontalFlip",
    "LimitLongestSide",
    "OnnxRuntimeModel",
    "Predictor",
    "PredictorState",
    "ZoomIn",
    "ZoomView",
    "ZoomInConfig",
    "export_onnx",
    "flip_clicks",
    "optimize_for_inference",
]
