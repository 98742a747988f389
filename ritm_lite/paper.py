"""The paper, and the one numbering of its sections that this project cites.

Every reference to the paper in the package, the notebooks and the documents has the form
``Sec. N`` (or ``Sec. N.M``), with ``N`` a key of :data:`SECTIONS`; ``tests/course/test_paper_references.py``
reads them all and fails on any other number, on another way of writing one (a section
sign, the word written out), and on a module or notebook that cites another section than the one
:data:`CITED_BY` gives its concept.

The numbering is that of arXiv 2102.06583 **v1** (February 2021) as this project reads it.
The paper's text cannot be fetched on the machines this project is built on (no internet), so
the numbers are checked for consistency, not against the paper: a correction is one edit here
and in the places the test lists.
"""

from __future__ import annotations

PAPER = (
    "K. Sofiiuk, I. A. Petrov, A. Konushin. Reviving Iterative Training with Mask Guidance for "
    "Interactive Segmentation. arXiv 2102.06583v1, 2021."
)
"""The paper, as the course cites it."""

ARXIV = "https://arxiv.org/abs/2102.06583v1"
"""Where the cited version lives."""

SECTIONS: dict[str, str] = {
    "3": "the method: a feedforward network, clicks and the previous mask as input",
    "3.1": "click encoding: binary disks instead of distance maps",
    "3.2": "feeding the clicks to the backbone: Conv1E, DMF, Conv1S; HRNet + OCR",
    "3.3": "iterative training with mask guidance: random clicks, then clicks in the errors",
    "3.4": "the Normalized Focal Loss",
    "4": "training data: COCO + LVIS",
    "5": "experiments: the evaluation protocol (NoC), ZoomIn and flip at test time, ablations",
}
"""Section number -> what it covers (the keys are the only numbers cited)."""

CITED_BY: dict[str, str] = {
    "ritm_lite/model/click_encoding.py": "3.1",
    "ritm_lite/model/conv1s.py": "3.2",
    "ritm_lite/data/points_sampler.py": "3.3",
    "ritm_lite/training/iterative.py": "3.3",
    "ritm_lite/losses.py": "3.4",
    "ritm_lite/data/coco_lvis.py": "4",
    "ritm_lite/inference/zoom_in.py": "5",
    "ritm_lite/evaluation/metrics.py": "5",
    "ritm_lite/paper_claims.py": "5",
    "notebooks/01_clicks_and_disks.py": "3.1",
    "notebooks/02_conv1s.py": "3.2",
    "notebooks/03_hrnet_ocr.py": "3.2",
    "notebooks/04_normalized_focal_loss.py": "3.4",
    "notebooks/05_coco_lvis_merge.py": "4",
    "notebooks/06_click_simulation.py": "3.3",
    "notebooks/07_iterative_training.py": "3.3",
    "notebooks/08_inference_and_evaluation.py": "5",
    "notebooks/10_full_gpu_training.py": "5",
    "notebooks/11_paper_claims.py": "5",
}
"""Each file that builds one of the paper's concepts, and the section it must cite."""


def cite(section: str) -> str:
    """``"Sec. N"``, the one way the course cites a section; unknown numbers are an error."""
    if section not in SECTIONS:
        raise KeyError(f"the paper has no section {section!r} in this project's numbering: {sorted(SECTIONS)}")
    return f"Sec. {section}"
