"""Evaluation: the automatic clicker, IoU / NoC, the evaluation loop and a GrabCut peer."""

from ritm_lite.evaluation.clicker import Clicker, error_regions, next_click
from ritm_lite.evaluation.grabcut_peer import GrabCutConfig, GrabCutPeer
from ritm_lite.evaluation.loop import DatasetResult, SampleResult, evaluate_dataset, evaluate_sample
from ritm_lite.evaluation.metrics import NocTable, clicks_to_reach, iou, mean_iou_per_click, noc
from ritm_lite.evaluation.report import format_table, plot_miou_curves

__all__ = [
    "Clicker",
    "DatasetResult",
    "GrabCutConfig",
    "GrabCutPeer",
    "NocTable",
    "SampleResult",
    "clicks_to_reach",
    "error_regions",
    "evaluate_dataset",
    "evaluate_sample",
    "format_table",
    "iou",
    "mean_iou_per_click",
    "next_click",
    "noc",
    "plot_miou_curves",
]
