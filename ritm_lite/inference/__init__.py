"""Inference: the click-by-click predictor with the paper's ZoomIn and flip averaging, and the
model wrappers a checkpoint's stored settings apply when it is loaded."""

from ritm_lite.inference.fast import FastRITM, optimize_for_inference
from ritm_lite.inference.flip import HorizontalFlip, flip_clicks
from ritm_lite.inference.limit_longest_side import LimitLongestSide, MaxSize
from ritm_lite.inference.multi_scale import MultiScale
from ritm_lite.inference.onnx_export import OnnxRuntimeModel, export_onnx
from ritm_lite.inference.predictor import MAX_NETWORK_PIXELS, Predictor, PredictorState
from ritm_lite.inference.refinement import Refine
from ritm_lite.inference.settings import InferenceSettings, read_settings, unwrap
from ritm_lite.inference.zoom_in import Box, ZoomIn, ZoomInConfig, ZoomView

__all__ = [
    "Box",
    "FastRITM",
    "HorizontalFlip",
    "InferenceSettings",
    "LimitLongestSide",
    "MAX_NETWORK_PIXELS",
    "MaxSize",
    "MultiScale",
    "OnnxRuntimeModel",
    "Predictor",
    "PredictorState",
    "Refine",
    "ZoomIn",
    "ZoomView",
    "ZoomInConfig",
    "export_onnx",
    "flip_clicks",
    "optimize_for_inference",
    "read_settings",
    "unwrap",
]
