"""DUTS-TR: 10,553 photos with one salient-object mask each, the course's extra training data.

DUTS (Wang et al., CVPR 2017) is a salient-object detection set; its training part DUTS-TR
has photos of about 400 px (from ImageNet's DET sets) and, for each, one grey mask of the
salient object(s), 0-255 with anti-aliased edges. It is not one of the paper's training sets
(COCO+LVIS) nor one of its benchmarks; the course adds it because it is real, public and small
enough to train on with a CPU. Terms: research use only (the publisher's, saliencydetection.net).

Layout, as published (``python -m ritm_lite.data.download duts-tr --root data/``)::

    DUTS-TR/DUTS-TR-Image/<name>.jpg
    DUTS-TR/DUTS-TR-Mask/<name>.png

Each mask is read with the package's one value rule (:mod:`ritm_lite.data.masks`:
``value >= 128`` is the object) and becomes **one** training object, even where the salient
region has several parts (6 % of the masks have more than one part above 5 % of its area).

A fixed **holdout** of :data:`HOLDOUT_SIZE` photos (chosen by :data:`HOLDOUT_SEED`, never by a
training seed) is kept out of training for checkpoint selection: the benchmark reader
``ritm_lite.data.benchmarks.duts_tr_holdout`` (``python -m ritm_lite.evaluate --dataset DUTS-TR-holdout``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ritm_lite.data.datasets import DatasetConfig, FolderDataset
from ritm_lite.data.files import files_by_stem

IMAGES_DIR = "DUTS-TR-Image"
MASKS_DIR = "DUTS-TR-Mask"
HOLDOUT_SIZE = 500  # photos kept for selection, never trained on
HOLDOUT_SEED = 0  # fixed: the holdout is the same for every training run


def is_duts_tr(root: str | Path) -> bool:
    """Whether ``root`` holds DUTS-TR's two folders (``DUTS-TR-Image`` and ``DUTS-TR-Mask``)."""
    return (Path(root) / IMAGES_DIR).is_dir() and (Path(root) / MASKS_DIR).is_dir()


def duts_tr_split(root: str | Path, holdout: int | None = None, seed: int = HOLDOUT_SEED) -> tuple[list[str], list[str]]:
    """``(train_names, holdout_names)``: DUTS-TR's mask stems, ``holdout`` of them kept aside
    (default :data:`HOLDOUT_SIZE`).

    The holdout is a seeded permutation of the sorted stems, so it depends only on the files
    and ``seed``, not on the order the file system lists them.

    Raises:
        FileNotFoundError: ``root`` is not a DUTS-TR folder.
        ValueError: ``holdout`` is negative or leaves no photo to train on.
    """
    root = Path(root)
    if not is_duts_tr(root):
        raise FileNotFoundError(f"{root} is not DUTS-TR: it needs the folders {IMAGES_DIR}/ and {MASKS_DIR}/")
    stems = sorted(files_by_stem(root / MASKS_DIR))
    holdout = HOLDOUT_SIZE if holdout is None else holdout
    if not 0 <= holdout < len(stems):
        raise ValueError(f"holdout must be in [0, {len(stems) - 1}] for {len(stems)} masks, got {holdout}")
    order = np.random.default_rng(seed).permutation(len(stems))
    kept = {stems[i] for i in order[:holdout]}
    return [s for s in stems if s not in kept], [s for s in stems if s in kept]


def duts_tr(
    root: str | Path, names: Sequence[str] | None = None, config: DatasetConfig | None = None,
    seed: int | None = None,
) -> FolderDataset:
    """DUTS-TR as a training dataset (default: every photo but the holdout)."""
    if names is None:
        names, _ = duts_tr_split(root)
    return FolderDataset(root, names, config, seed=seed, images_dir=IMAGES_DIR, masks_dir=MASKS_DIR,
                         image_id=str)  # one photo per mask: DUTS names like n03710721_6177 are not COCO ids


def holdout_folder(root: str | Path, out: str | Path, count: int = 300, holdout: int | None = None) -> Path:
    """``out`` as a fine-tuning folder (``img/`` + ``gt/``, :mod:`ritm_lite.training.fine_tune`)
    of the first ``count`` photos of DUTS-TR's holdout, copied: a real set of photos that no
    training run of the course has seen, for trying fine-tuning. Files already there are kept.
    Each copy is named with ``-`` for ``_`` (``n03770439-35150.jpg``): the folder layout reads a
    name ``{category}{k}_{photo id}`` as COCO_MVal's, which would make DUTS-TR photos that share a
    trailing number (``n03770439_35150``, ``n03670208_35150``) one photo.
    ``holdout``: the holdout's size (default :data:`HOLDOUT_SIZE`), as in :func:`duts_tr_split`.

    Raises:
        FileNotFoundError: ``root`` is not DUTS-TR.
        ValueError: ``count`` is not in ``1..holdout``.
    """
    import shutil

    size = HOLDOUT_SIZE if holdout is None else holdout
    if not 1 <= count <= size:
        raise ValueError(f"count must be in [1, {size}] (the holdout's size), got {count}")
    root, out = Path(root), Path(out)
    _, holdout = duts_tr_split(root, size)
    images, masks = files_by_stem(root / IMAGES_DIR), files_by_stem(root / MASKS_DIR)
    for sub in ("img", "gt"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for name in holdout[:count]:
        if name not in images:
            raise FileNotFoundError(f"{root / MASKS_DIR / masks[name].name} has no photo in {root / IMAGES_DIR}")
        for source, sub in ((images[name], "img"), (masks[name], "gt")):
            target = out / sub / (source.stem.replace("_", "-") + source.suffix)
            if not target.exists():
                shutil.copyfile(source, target)
    return out
