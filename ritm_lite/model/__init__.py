"""The RITM network: click encoding, Conv1S, HRNet, OCR head, and their composition
(:mod:`ritm_lite.model.build` picks the parts from a :class:`ModelConfig`)."""

from .build import (
    FEATURE_EXTRACTORS,
    MODEL_PRESETS,
    FeatureExtractor,
    ModelConfig,
    build_model,
    register_feature_extractor,
)
from .click_encoding import ClickMaps, DistanceMaps, NoPreviousMask, PreviousMask, disk_maps, distance_maps
from .conv1s import Conv1E, Conv1S, DistanceMapsFusion, ScaleLayer
from .deeplab import DeepLabModel, DeepLabV3Plus
from .dmf import DMFModel
from .hrnet import HRNET_W18, HRNET_W18_SMALL, HRNET_W32, HRNet, HRNetSpec, StageSpec
from .init import xavier_gluon_init
from .ocr import HRNetOCR
from .ritm import RITMModel

__all__ = [
    "ClickMaps", "DistanceMaps", "NoPreviousMask", "PreviousMask", "disk_maps", "distance_maps", "Conv1E",
    "Conv1S", "DistanceMapsFusion", "ScaleLayer", "HRNET_W18", "HRNET_W18_SMALL", "HRNET_W32", "HRNet",
    "HRNetSpec", "StageSpec", "xavier_gluon_init", "FEATURE_EXTRACTORS", "MODEL_PRESETS", "FeatureExtractor",
    "HRNetOCR", "ModelConfig", "RITMModel", "build_model", "register_feature_extractor", "DeepLabModel",
    "DeepLabV3Plus", "DMFModel",
]
