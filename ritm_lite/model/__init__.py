"""The RITM network: click encoding, Conv1S, HRNet, OCR head, and their composition."""

from .click_encoding import ClickMaps, DistanceMaps, disk_maps, distance_maps
from .conv1s import Conv1E, Conv1S, DistanceMapsFusion, ScaleLayer
from .hrnet import HRNET_W18, HRNET_W18_SMALL, HRNET_W32, HRNet, HRNetSpec, StageSpec
from .init import xavier_gluon_init
from .ritm import MODEL_PRESETS, HRNetOCR, ModelConfig, RITMModel, build_model
from .deeplab import DeepLabModel, DeepLabV3Plus  # after .ritm, which it builds on

__all__ = [
    "ClickMaps", "DistanceMaps", "disk_maps", "distance_maps", "Conv1E", "Conv1S", "DistanceMapsFusion",
    "ScaleLayer", "HRNET_W18", "HRNET_W18_SMALL", "HRNET_W32", "HRNet", "HRNetSpec", "StageSpec",
    "xavier_gluon_init", "MODEL_PRESETS", "HRNetOCR", "ModelConfig", "RITMModel", "build_model",
    "DeepLabModel", "DeepLabV3Plus",
]
