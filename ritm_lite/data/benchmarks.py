"""Readers for the interactive-segmentation benchmarks, in the layouts their publishers use.

Every reader returns a :class:`Benchmark`: a lazy sequence of :class:`Sample` objects, one per
*object* (an image with three objects gives three samples), with

* ``image``: ``(H, W, 3)`` uint8 RGB,
* ``gt_mask``: ``(H, W)`` int32, 1 object, 0 background, -1 ignored (never clicked on, not
  counted in IoU),
* ``name``: a readable id (file stem, plus ``_<object id>`` for multi-object images).

=============  ==============================================  ===================================
benchmark      layout under ``root``                            ground truth
=============  ==============================================  ===================================
GrabCut        ``data_GT/*`` images, ``boundary_GT/<stem>.bmp``  255 object, 128 ignore band, 0 bg
Berkeley       ``images/*``, ``masks/<stem>.*``                 as GrabCut (as the original)
DAVIS          ``img/*``, ``gt/<stem>.*``                       0/255 (or 0/1) object mask
COCO_MVal      ``img/*``, ``gt/<stem>.*``                       as DAVIS
SBD            ``img/<id>.jpg``, ``inst/<id>.mat``, ``val.txt``  ``GTinst.Segmentation``: 1..K
PascalVOC      ``JPEGImages/<id>.jpg``,                          palette PNG: 1..K objects,
               ``SegmentationObject/<id>.png``,                  255 boundary (ignored)
               ``ImageSets/Segmentation/val.txt``
=============  ==============================================  ===================================

Mask files are read with :func:`ritm_lite.data.masks.read_mask`, the one value rule of the
package (0/1 label maps or the upper half of the grey range; see that module): on the
published files it gives the original readers' masks. A mask with no object pixel, or of
another size than its image, is an error naming the file, not a silently solved object.

Differences from the original readers: Pascal VOC masks are read as palette indices (the
original converts the decoded colours to grey and ignores grey level 220, which selects the
same pixels), objects are ordered by index, and only the ``.txt`` splits are supported (the
original's ``test`` split is a pickle shipped with its own data).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .duts import IMAGES_DIR as DUTS_IMAGES_DIR
from .duts import MASKS_DIR as DUTS_MASKS_DIR
from .duts import duts_tr_split
from .files import image_mask_pairs, read_palette_png, read_rgb
from .masks import IGNORE, read_mask

PAPER_ZOOM_IN_TARGET_SIZE = {"DAVIS": 600}
"""ZoomIn crop size the paper's protocol uses per benchmark (400 for all others)."""


@dataclass(frozen=True)
class Sample:
    """One object to segment: ``image`` (H, W, 3) uint8 RGB, ``gt_mask`` (H, W) int32
    (1 object, 0 background, -1 ignore) and ``name``."""

    image: np.ndarray
    gt_mask: np.ndarray
    name: str


class Benchmark(Sequence[Sample]):
    """A lazy list of samples: files are read when a sample is indexed.

    Args:
        name: benchmark name.
        entries: one record per object, passed to ``load``.
        load: reads one entry into a :class:`Sample`.
    """

    def __init__(self, name: str, entries: list[Any], load: Callable[[Any], Sample]):
        self.name = name
        self._entries = entries
        self._load = load

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> Sample:  # type: ignore[override]
        if isinstance(index, slice):
            raise TypeError("index a Benchmark one sample at a time")
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"a {self.name} sample is indexed by an integer, got {index!r}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"sample {index} of {self.name}, which has {len(self)} objects")
        return self._load(self._entries[index])

    def __repr__(self) -> str:
        return f"Benchmark({self.name!r}, {len(self)} objects)"

    @property
    def names(self) -> list[str]:
        """Each object's name (the file stem for the image + mask layouts), in order."""
        return [entry[-1] for entry in self._entries]

    def subset(self, names: Sequence[str]) -> Benchmark:
        """The objects named in ``names``, in this benchmark's order; unknown names raise."""
        wanted = set(names)
        unknown = sorted(wanted - set(self.names))
        if unknown:
            raise ValueError(f"{self.name} has no objects named {unknown[:3]} ({len(unknown)} unknown)")
        return Benchmark(self.name, [e for e in self._entries if e[-1] in wanted], self._load)


# --------------------------------------------------------------------------- file reading


def _read_split(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"split file {path} not found")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- GrabCut / Berkeley


def _sample(image_path: Path, gt: np.ndarray, name: str, mask_path: Path) -> Sample:
    """A :class:`Sample`, once the mask is known to have the image's size."""
    image = read_rgb(image_path)
    if gt.shape != image.shape[:2]:
        raise ValueError(
            f"mask {mask_path} is {gt.shape[1]}x{gt.shape[0]} but its image {image_path} is "
            f"{image.shape[1]}x{image.shape[0]} (width x height)"
        )
    if not (gt == 1).any():
        raise ValueError(f"{name}: the object has no pixel in {mask_path}")
    return Sample(image, gt, name)


def _load_grabcut(entry: tuple[Path, Path, str]) -> Sample:
    image_path, mask_path, name = entry
    return _sample(image_path, read_mask(mask_path, ignore_band=True), name, mask_path)


def grabcut(
    root: str | Path, images_dir: str = "data_GT", masks_dir: str = "boundary_GT"
) -> Benchmark:
    """The GrabCut benchmark (50 images, one object each)."""
    return Benchmark("GrabCut", image_mask_pairs(Path(root), images_dir, masks_dir), _load_grabcut)


def berkeley(root: str | Path, images_dir: str = "images", masks_dir: str = "masks") -> Benchmark:
    """The Berkeley benchmark (100 objects), read like GrabCut (as the original does)."""
    return Benchmark(
        "Berkeley", image_mask_pairs(Path(root), images_dir, masks_dir), _load_grabcut
    )


# --------------------------------------------------------------------------- DAVIS / COCO_MVal


def _load_binary(entry: tuple[Path, Path, str]) -> Sample:
    image_path, mask_path, name = entry
    return _sample(image_path, read_mask(mask_path), name, mask_path)


def davis(root: str | Path, images_dir: str = "img", masks_dir: str = "gt") -> Benchmark:
    """DAVIS (345 frames of the paper's protocol): ``img/`` + ``gt/`` object masks."""
    return Benchmark("DAVIS", image_mask_pairs(Path(root), images_dir, masks_dir), _load_binary)


def coco_mval(root: str | Path, images_dir: str = "img", masks_dir: str = "gt") -> Benchmark:
    """COCO_MVal (800 COCO val2017 instances), in the DAVIS layout."""
    return Benchmark(
        "COCO_MVal", image_mask_pairs(Path(root), images_dir, masks_dir), _load_binary
    )


# --------------------------------------------------------------------------- SBD


def duts_tr_holdout(root: str | Path, holdout: int | None = None) -> Benchmark:
    """DUTS-TR's held-out photos (:func:`ritm_lite.data.duts.duts_tr_split`), one object each:
    the course's selection set, never a test set (DUTS-TR is training data)."""
    _, names = duts_tr_split(root, holdout)
    subset = davis(root, DUTS_IMAGES_DIR, DUTS_MASKS_DIR).subset(names)
    subset.name = "DUTS-TR-holdout"
    return subset


def read_sbd_instances(path: Path) -> np.ndarray:
    """``GTinst.Segmentation`` of an SBD ``inst/*.mat`` file: ``(H, W)`` int32, 0 bg, 1..K."""
    from scipy.io import loadmat

    gt_inst = loadmat(str(path))["GTinst"]
    return np.asarray(gt_inst["Segmentation"][0, 0], dtype=np.int32)


def _object_ids(instances: np.ndarray, skip: tuple[int, ...] = (0,)) -> list[int]:
    return [int(v) for v in np.unique(instances) if int(v) not in skip]


def _load_sbd(entry: tuple[Path, Path, int, str]) -> Sample:
    image_path, mat_path, object_id, name = entry
    gt = (read_sbd_instances(mat_path) == object_id).astype(np.int32)
    return _sample(image_path, gt, name, mat_path)


def _descend(root: str | Path, *inner: str) -> Path:
    """``root/inner`` when the archive's own folders are still there, else ``root``."""
    root = Path(root)
    nested = root.joinpath(*inner)
    return nested if nested.is_dir() else root


def sbd(root: str | Path, split: str = "val") -> Benchmark:
    """SBD (the paper evaluates on the ``val`` split): every instance of ``inst/<id>.mat`` is
    one sample; no ignore region. ``root`` may also be the unpacked archive's top folder
    (holding ``benchmark_RELEASE/dataset``)."""
    root = _descend(root, "benchmark_RELEASE", "dataset")
    entries = []
    for image_id in _read_split(root / f"{split}.txt"):
        mat_path = root / "inst" / f"{image_id}.mat"
        for object_id in _object_ids(read_sbd_instances(mat_path)):
            entries.append(
                (root / "img" / f"{image_id}.jpg", mat_path, object_id, f"{image_id}_{object_id}")
            )
    return Benchmark("SBD", entries, _load_sbd)


# --------------------------------------------------------------------------- Pascal VOC


VOC_BOUNDARY = 255
"""Palette index of the unlabelled band around every Pascal VOC object."""


def _load_voc(entry: tuple[Path, Path, int, str]) -> Sample:
    image_path, png_path, object_id, name = entry
    indices = read_palette_png(png_path)
    gt = (indices == object_id).astype(np.int32)
    gt[indices == VOC_BOUNDARY] = IGNORE
    return _sample(image_path, gt, name, png_path)


def pascal_voc(root: str | Path, split: str = "val") -> Benchmark:
    """Pascal VOC 2012 segmentation (val: 1,449 images): every object of
    ``SegmentationObject/<id>.png`` is one sample; the 255 boundary band is ignored. ``root``
    may also be the folder holding ``VOCdevkit/VOC2012``."""
    root = _descend(root, "VOCdevkit", "VOC2012")
    entries = []
    for image_id in _read_split(root / "ImageSets" / "Segmentation" / f"{split}.txt"):
        png_path = root / "SegmentationObject" / f"{image_id}.png"
        for object_id in _object_ids(read_palette_png(png_path), skip=(0, VOC_BOUNDARY)):
            entries.append(
                (
                    root / "JPEGImages" / f"{image_id}.jpg",
                    png_path,
                    object_id,
                    f"{image_id}_{object_id}",
                )
            )
    return Benchmark("PascalVOC", entries, _load_voc)


BENCHMARKS: dict[str, Callable[..., Benchmark]] = {
    "GrabCut": grabcut,
    "Berkeley": berkeley,
    "DAVIS": davis,
    "COCO_MVal": coco_mval,
    "SBD": sbd,
    "PascalVOC": pascal_voc,
    "DUTS-TR-holdout": duts_tr_holdout,  # selection only: 500 training-set photos never trained on
}
"""Reader per benchmark name (the names of the paper's tables)."""


def load_benchmark(name: str, root: str | Path, **kwargs: Any) -> Benchmark:
    """Open benchmark ``name`` (a key of :data:`BENCHMARKS`) stored under ``root``.

    Raises:
        ValueError: an unknown name. TypeError: ``root`` is not a path.
        FileNotFoundError: ``root`` lacks the benchmark's folders or files.
    """
    if not isinstance(root, (str, Path)) or not str(root):
        raise TypeError(f"root must be the {name} folder's path, got {root!r}")
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {sorted(BENCHMARKS)}")
    return BENCHMARKS[name](root, **kwargs)
