"""The COCO+LVIS merge (RITM, Sec. 4): COCO's many objects with LVIS's better masks.

COCO 2017 annotates ~1.2M objects of 80 categories with coarse polygons; LVIS v1 re-annotates
the same photos with ~1.3M finer masks of 1,203 categories but skips many objects COCO has.
RITM trains on their union, per image (images matched by **file name**):

1. drop crowd regions (COCO ``iscrowd = 1``: a group, not one object to click on) and every
   mask under ``min_area = 80`` pixels;
2. **LVIS near-duplicates**: an LVIS mask with box IoU > 0.7 *and* mask IoU > 0.85 to an
   earlier (in file order) kept LVIS mask of the same image is removed (the same object
   labelled under two synonyms);
3. **replacement**: a COCO mask with box IoU > 0.8 *and* mask IoU > 0.8 to a kept LVIS mask
   is the same object, and the LVIS mask (finer) replaces it; other COCO masks are kept.

IoU is pycocotools' (``mask.iou``) on the RLEs and on the masks' ``(x, y, w, h)`` boxes::

    IoU(A, B) = |A ∩ B| / |A ∪ B|

**Where the numbers come from.** The original repository does *not* publish its merge code:
it ships the result (``cocolvis_annotation.tar.gz``: ``hannotation.pickle`` + packed masks per
image), read by ``isegm/data/datasets/coco_lvis.py``, which only loads it. So no thresholds
can be read from code. The replacement follows the paper's text (Sec. 4), which matches a
COCO mask to an LVIS mask at "IoU > 80%": here box IoU and mask IoU > 0.8. The paper gives no
rule for LVIS near-duplicates or tiny masks; this library chooses box IoU > 0.7 and mask
IoU > 0.85 for near-duplicates and drops masks under 80 px. All are :class:`MergeConfig` fields.
Crowd regions are dropped as the original's COCO reader (``isegm/data/datasets/coco.py``)
drops ``iscrowd`` segments. The image set of a split is LVIS's (the released set has 99k
train images, LVIS v1 train has 100k, COCO train2017 118k); COCO-only images are skipped
unless ``keep_coco_only_images``.

The output is the format of :mod:`ritm_lite.data.merged_format`, read by
:class:`MergedCocoLvis`. Command line::

    python -m ritm_lite.data.coco_lvis \\
        --coco data/coco2017/annotations/instances_train2017.json \\
               data/coco2017/annotations/instances_val2017.json \\
        --lvis data/lvis/lvis_v1_train.json --images data/coco2017 \\
        --out data/coco_lvis --split train
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pycocotools import mask as mask_utils
from tqdm.auto import tqdm

from ritm_lite.data.coco_lvis_files import (
    AnnotationFile, ImageEntry, load_annotation_file, segmentation_to_rle)
from ritm_lite.data.merged_format import InstanceMask, MergedCocoLvis, MergedImage, SplitWriter

__all__ = ["MergeConfig", "InstanceMask", "ImageMerge", "merge_image", "image_masks",
           "merge_coco_lvis", "MergedCocoLvis", "main"]


IOU_THRESHOLDS = ("replace_box_iou", "replace_mask_iou", "duplicate_box_iou", "duplicate_mask_iou")


@dataclass(frozen=True)
class MergeConfig:
    """Thresholds of the merge (comparisons are strict: ``>`` and ``<``).

    The IoU thresholds lie in ``[0, 1]``, as an IoU does: since the test is ``IoU > t``, 1
    turns a rule off (no pair is ever that close) and 0 fires on any overlap. A value outside
    (``5`` silently turned replacement off) is refused.
    """

    min_area: int = 80                # masks with fewer pixels are dropped (both sources)
    replace_box_iou: float = 0.8      # COCO replaced by LVIS when box IoU > this (the paper: 80%) ...
    replace_mask_iou: float = 0.8     # ... and mask IoU > this (the paper: 80%)
    duplicate_box_iou: float = 0.7    # LVIS near-duplicate when box IoU > this ...
    duplicate_mask_iou: float = 0.85  # ... and mask IoU > this
    keep_coco_only_images: bool = False  # the original's set holds LVIS images only

    def __post_init__(self) -> None:
        area = self.min_area
        if isinstance(area, bool) or not isinstance(area, int) or area < 0:
            raise ValueError(f"min_area (--min-area) must be a pixel count >= 0, got {area!r}")
        for name in IOU_THRESHOLDS:
            value = getattr(self, name)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or not 0 <= value <= 1:  # NaN fails too
                raise ValueError(f"{name} (--{name.replace('_', '-')}) is an IoU threshold and "
                                 f"must lie in [0, 1] (1 turns the rule off), got {value!r}")


@dataclass
class ImageMerge:
    """What the merge did to one image."""

    kept_lvis: list[InstanceMask] = field(default_factory=list)
    kept_coco: list[InstanceMask] = field(default_factory=list)
    replaced: list[tuple[InstanceMask, InstanceMask]] = field(default_factory=list)  # (coco, lvis)
    removed: list[tuple[InstanceMask, InstanceMask]] = field(default_factory=list)  # (dup, kept)
    dropped_small: list[InstanceMask] = field(default_factory=list)

    @property
    def objects(self) -> list[InstanceMask]:
        """The kept objects: LVIS first, then the COCO masks LVIS did not replace."""
        return self.kept_lvis + self.kept_coco


def _ious(a: Sequence[InstanceMask], b: Sequence[InstanceMask]) -> tuple[np.ndarray, np.ndarray]:
    """``(box IoU, mask IoU)``, each ``(len(a), len(b))`` float64."""
    if not a or not b:
        empty = np.zeros((len(a), len(b)))
        return empty, empty
    crowd = [0] * len(b)
    boxes = mask_utils.iou([list(m.bbox) for m in a], [list(m.bbox) for m in b], crowd)
    masks = mask_utils.iou([m.rle for m in a], [m.rle for m in b], crowd)
    return np.asarray(boxes, dtype=np.float64), np.asarray(masks, dtype=np.float64)


def merge_image(coco: Sequence[InstanceMask], lvis: Sequence[InstanceMask],
                config: MergeConfig = MergeConfig()) -> ImageMerge:
    """Apply the merge rule to one image's (non-crowd) COCO and LVIS masks.

    Pure: returns what is kept, which COCO mask each LVIS mask replaced, which LVIS
    near-duplicate was removed in favour of which kept mask, and what was too small.
    """
    result = ImageMerge()
    coco_big, lvis_big = [], []
    for masks, big in ((coco, coco_big), (lvis, lvis_big)):
        for m in masks:
            (big if m.area >= config.min_area else result.dropped_small).append(m)
    for m in lvis_big:  # greedy, in file order: the first of a duplicate group stays
        box, iou = _ious([m], result.kept_lvis)
        dup = np.flatnonzero((box[0] > config.duplicate_box_iou)
                             & (iou[0] > config.duplicate_mask_iou))
        if dup.size:
            result.removed.append((m, result.kept_lvis[dup[np.argmax(iou[0, dup])]]))
        else:
            result.kept_lvis.append(m)
    box, iou = _ious(coco_big, result.kept_lvis)
    same = (box > config.replace_box_iou) & (iou > config.replace_mask_iou)
    for k, m in enumerate(coco_big):
        match = np.flatnonzero(same[k])
        if match.size:
            result.replaced.append((m, result.kept_lvis[match[np.argmax(iou[k, match])]]))
        else:
            result.kept_coco.append(m)
    return result


def image_masks(file: AnnotationFile, image: ImageEntry) -> tuple[list[InstanceMask], int]:
    """An image's non-crowd annotations as :class:`InstanceMask` s, and how many were crowd."""
    masks, crowd = [], 0
    for ann in file.annotations.get(image.id, []):
        if ann.get("iscrowd", 0):
            crowd += 1
            continue
        where = f"{file.path.name}: annotation {ann.get('id')} of image {image.name}"
        rle = segmentation_to_rle(ann["segmentation"], image.height, image.width, where)
        bbox = tuple(float(v) for v in mask_utils.toBbox(rle))
        masks.append(InstanceMask(rle, int(mask_utils.area(rle)), bbox, file.kind,
                                  int(ann["id"]), int(ann.get("category_id", -1))))
    return masks, crowd


def _coco_by_name(coco_paths: Sequence[str | Path]) -> dict[str, tuple[AnnotationFile, ImageEntry]]:
    """Every image of the COCO file(s), keyed by file name, with the file it comes from."""
    if not coco_paths:
        raise ValueError("give at least one COCO instances file (--coco)")
    by_name: dict[str, tuple[AnnotationFile, ImageEntry]] = {}
    for path in coco_paths:
        file = load_annotation_file(path, "coco")
        for name, entry in file.by_name().items():
            if name in by_name:
                raise ValueError(f"{file.path}: image {name} is also in {by_name[name][0].path}")
            by_name[name] = (file, entry)
    return by_name


def _counts() -> dict[str, dict[str, int]]:
    return {
        "images": dict.fromkeys(["written", "lvis", "coco", "matched", "lvis_only",
                                 "coco_only_skipped", "coco_only_kept", "without_objects"], 0),
        "coco_masks": dict.fromkeys(["total", "crowd_skipped", "dropped_small",
                                     "replaced_by_lvis", "kept", "in_skipped_images"], 0),
        "lvis_masks": dict.fromkeys(["total", "dropped_small", "removed_duplicates", "kept"], 0),
    }


def merge_coco_lvis(coco: str | Path | Sequence[str | Path], lvis: str | Path,
                    out: str | Path, split: str = "train", images_dir: str | Path | None = None,
                    config: MergeConfig = MergeConfig(), overwrite: bool = False,
                    progress: bool = True) -> dict[str, Any]:
    """Merge COCO 2017 instance files and one LVIS v1 file into ``out/split`` (atomically).

    Args:
        coco: one or more COCO instances files (give train *and* val for LVIS v1 val, whose
            photos come from both COCO folders).
        lvis: the LVIS v1 file of the split (``lvis_v1_train.json``).
        out: output root; the split is written to ``out/split``.
        images_dir: the COCO image root (checked: every kept image must exist there, and
            recorded: training reads the images from there). Without it the split holds
            masks only, and reading its images asks for a merge with ``--images``.
        config: thresholds, see :class:`MergeConfig`.

    Returns:
        The summary (also written to ``out/split/summary.json``).

    Raises:
        ValueError: malformed/mismatched files (see :mod:`ritm_lite.data.coco_lvis_files`),
            images of one name but different sizes, no common image at all, missing images,
            no image left with an object (nothing to train on).
        FileExistsError: ``out/split`` exists and not ``overwrite``.
    """
    coco_paths = [coco] if isinstance(coco, (str, Path)) else list(coco)
    if (Path(out) / split).exists() and not overwrite:
        raise FileExistsError(f"{Path(out) / split} exists; pass overwrite=True (--overwrite)")
    coco_by_name = _coco_by_name(coco_paths)
    lvis_file = load_annotation_file(lvis, "lvis")
    counts = _counts()
    counts["images"]["lvis"], counts["images"]["coco"] = len(lvis_file.images), len(coco_by_name)
    Pair = tuple[AnnotationFile, ImageEntry]
    todo: list[tuple[Pair | None, ImageEntry | None]] = []
    for entry in sorted(lvis_file.images.values(), key=lambda e: e.id):
        match = coco_by_name.pop(entry.name, None)
        if match is not None and (match[1].height, match[1].width) != (entry.height, entry.width):
            raise ValueError(f"image {entry.name} is {match[1].height}x{match[1].width} (HxW) in "
                             f"{match[0].path.name} but {entry.height}x{entry.width} in "
                             f"{lvis_file.path.name}: the files do not describe the same images")
        counts["images"]["matched" if match else "lvis_only"] += 1
        todo.append((match, entry))
    if counts["images"]["matched"] == 0:
        raise ValueError(f"no image of {lvis_file.path.name} matches an image of the COCO file(s) "
                         "by file name: wrong pair of files?")
    for file, entry in coco_by_name.values():  # COCO images absent from LVIS
        if config.keep_coco_only_images:
            counts["images"]["coco_only_kept"] += 1
            todo.append(((file, entry), None))
        else:
            counts["images"]["coco_only_skipped"] += 1
            counts["coco_masks"]["in_skipped_images"] += len(file.annotations.get(entry.id, []))
    if images_dir is not None:
        _check_images(Path(images_dir), [l.rel_path if l else c[1].rel_path for c, l in todo])

    summary: dict[str, Any] = {
        "split": split, "config": asdict(config),
        "sources": {"coco": [str(Path(p).resolve()) for p in coco_paths],
                    "lvis": str(Path(lvis).resolve())},
        "images_dir": str(Path(images_dir).resolve()) if images_dir is not None else None,
    }
    cm, lm = counts["coco_masks"], counts["lvis_masks"]
    with SplitWriter(out, split, overwrite=overwrite) as writer:
        for coco_pair, lvis_entry in tqdm(todo, desc=f"merging {split}", disable=not progress):
            coco_masks, crowd = image_masks(*coco_pair) if coco_pair else ([], 0)
            lvis_masks, _ = image_masks(lvis_file, lvis_entry) if lvis_entry else ([], 0)
            result = merge_image(coco_masks, lvis_masks, config)
            cm["total"] += len(coco_masks) + crowd
            cm["crowd_skipped"] += crowd
            cm["replaced_by_lvis"] += len(result.replaced)
            cm["kept"] += len(result.kept_coco)
            lm["total"] += len(lvis_masks)
            lm["removed_duplicates"] += len(result.removed)
            lm["kept"] += len(result.kept_lvis)
            for m in result.dropped_small:
                (cm if m.source == "coco" else lm)["dropped_small"] += 1
            if not result.objects:
                counts["images"]["without_objects"] += 1
                continue
            entry = lvis_entry or coco_pair[1]
            writer.add(MergedImage(
                entry.rel_path, entry.height, entry.width,
                coco_pair[1].id if coco_pair else None, lvis_entry.id if lvis_entry else None,
                list(result.objects)))
            counts["images"]["written"] += 1
        if not counts["images"]["written"]:
            raise ValueError(_nothing_kept(counts, config))
        summary.update(counts)
        writer.commit(summary)
    return MergedCocoLvis(out, split).summary


def _nothing_kept(counts: dict[str, dict[str, int]], config: MergeConfig) -> str:
    """Why a merge that would write no image is refused (training needs at least one)."""
    cm, lm = counts["coco_masks"], counts["lvis_masks"]
    if not cm["total"] and not lm["total"]:
        return ("no image has an object: neither the COCO nor the LVIS file holds an "
                "annotation of the images merged (empty 'annotations' lists?)")
    return (f"no image keeps an object: of {cm['total']} COCO masks {cm['crowd_skipped']} are "
            f"crowd regions and {cm['dropped_small']} under min_area={config.min_area} px, of "
            f"{lm['total']} LVIS masks {lm['dropped_small']} under min_area")


def _check_images(root: Path, rel_paths: list[str]) -> None:
    if not root.is_dir():
        raise ValueError(f"image folder {root} does not exist")
    missing = [p for p in rel_paths
               if not (root / p).exists() and not (root / Path(p).name).exists()]
    if missing:
        raise ValueError(f"{len(missing)} image(s) are not in {root} (neither as "
                         f"{root}/<split>/<name> nor {root}/<name>), e.g. {missing[:5]}")


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a small text table."""
    lines = [f"split {summary['split']}: {summary['num_images']} images, "
             f"{summary['num_objects']} objects"]
    for group in ("images", "coco_masks", "lvis_masks"):
        lines.append(f"  {group:<11}" + "  ".join(f"{k}={v}" for k, v in summary[group].items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m ritm_lite.data.coco_lvis --coco ... --lvis ... --out ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m ritm_lite.data.coco_lvis",
        description="Merge COCO 2017 and LVIS v1 annotations into RITM's COCO+LVIS training set "
                    "(download steps: data/README.md, python -m ritm_lite.data.download).")
    parser.add_argument("--coco", nargs="+", required=True, metavar="JSON",
                        help="COCO instances_{train,val}2017.json (both for LVIS val)")
    parser.add_argument("--lvis", required=True, metavar="JSON", help="lvis_v1_{train,val}.json")
    parser.add_argument("--out", required=True, help="output root; writes OUT/SPLIT/")
    parser.add_argument("--split", default="train", help="output split name (default: train)")
    parser.add_argument("--images", default=None,
                        help="COCO image root (holding train2017/, val2017/); checked and recorded "
                             "for training (python -m ritm_lite.train --data OUT needs it)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT/SPLIT")
    parser.add_argument("--keep-coco-only-images", action="store_true",
                        help="also keep COCO images that LVIS lacks (the original does not)")
    defaults = MergeConfig()
    for name in ("min_area", "replace_box_iou", "replace_mask_iou",
                 "duplicate_box_iou", "duplicate_mask_iou"):
        default = getattr(defaults, name)
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default,
                            help=f"(default {default})")
    args = parser.parse_args(argv)
    try:
        config = MergeConfig(args.min_area, args.replace_box_iou, args.replace_mask_iou,
                             args.duplicate_box_iou, args.duplicate_mask_iou,
                             args.keep_coco_only_images)
        summary = merge_coco_lvis(args.coco, args.lvis, args.out, args.split, args.images,
                                  config, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    print(f"written to {Path(args.out) / args.split}")
    if args.images is None:
        print("note: without --images the split records no image folder, so "
              f"`python -m ritm_lite.train --data {args.out}` cannot read its images: run this "
              "again with --images COCO_ROOT --overwrite (COCO_ROOT holds train2017/, val2017/)",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
