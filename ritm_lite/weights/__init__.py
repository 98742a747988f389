"""The course's default weights: HRNet-W18-small trained by this course's own code.

They were trained on a 2-core CPU from scratch (no ImageNet weights can be downloaded where
the course was built) on the COCO_MVal training split, so they are far weaker than the
paper's models; ``MODEL_CARD.md`` beside this file gives the data, schedule, hardware, the
exact command and the measured NoC. With an official RITM checkpoint, load that instead:
``ritm_lite.load_checkpoint("hrnet18s_cocolvis_itermask_3p.pth")``.
"""

from __future__ import annotations

from pathlib import Path

from ..model.checkpoint import load_checkpoint
from ..model.ritm import RITMModel

WEIGHTS_DIR = Path(__file__).resolve().parent
COURSE_CHECKPOINT = WEIGHTS_DIR / "hrnet18s_course.pth"
MODEL_CARD = WEIGHTS_DIR / "MODEL_CARD.md"
GRABCUT_EVAL = WEIGHTS_DIR / "grabcut_eval.json"  # the card's GrabCut evaluation (evaluate --json)


def load_course_model(map_location: str = "cpu") -> RITMModel:
    """The course's default model (float32, eval mode)."""
    if not COURSE_CHECKPOINT.is_file():
        raise FileNotFoundError(f"the course weights are missing: {COURSE_CHECKPOINT}")
    return load_checkpoint(COURSE_CHECKPOINT, map_location=map_location)
