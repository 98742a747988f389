"""Tiny generated samples for smoke runs, tests and notebooks (committed under data/samples/).

No real dataset can be committed, so :func:`make_sample_data` draws a handful of synthetic
photos (flat shapes on a gradient) and writes them the ways the real data comes:

* ``mval/img/<name>.png`` + ``mval/gt/<name>.png`` (0 / 255): one pair per object instance,
  named ``{category}{kk}_{image_id:012d}`` as in COCO_MVal (split by image id, not by file);
* ``coco/train2017/*.png``, ``coco/val2017/*.png``: the photos, in COCO's folder layout;
* ``coco/annotations/instances_train2017.json``: a COCO-format file (coarse 8-vertex
  polygons, one compressed and one uncompressed RLE, a crowd region, a tiny object);
* ``lvis/lvis_v1_train.json``: an LVIS-v1-format file (fine 32-vertex polygons, an LVIS
  near-duplicate, a tiny object, an image COCO's file lacks).

The scenes are built so that the COCO+LVIS merge meets every case of its rule: COCO masks
replaced by finer LVIS ones, an LVIS near-duplicate removed, a crowd region and tiny masks
dropped, a COCO image absent from LVIS, an LVIS-only image, and a "C"-shaped LVIS mask
whose box matches a coarse COCO disk but whose mask IoU (~0.5) does not, so both stay.
Images are PNG (lossless), so regenerating gives the same pixels on any machine.

Command line: ``python -m ritm_lite.data.samples --out data/samples``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ritm_lite.data.coco_lvis_files import decode_rles

HEIGHT, WIDTH = 96, 128  # every sample photo is 96 x 128 (H x W)
CATEGORIES = ("ellipse", "rectangle", "star", "disk", "blob", "crowd")
URL = "https://ritm-lite.invalid/samples"  # LVIS-style coco_url prefix (not a real host)


@dataclass(frozen=True)
class SamplePaths:
    """Where :func:`make_sample_data` puts things under ``root``."""

    root: Path
    images_dir: Path  # COCO image root: train2017/, val2017/
    coco_json: Path
    lvis_json: Path
    folder_dir: Path  # img/ + gt/ layout

    @classmethod
    def under(cls, root: str | Path) -> SamplePaths:
        root = Path(root)
        return cls(root, root / "coco", root / "coco/annotations/instances_train2017.json",
                   root / "lvis/lvis_v1_train.json", root / "mval")


# (image id, folder, in COCO file, in LVIS file, objects): each object is
# (category, shape parameters, COCO form or None, LVIS form or None).
SceneObject = tuple[str, tuple, str | None, str | None]  # category, shape, COCO form, LVIS form
SCENES: tuple[tuple[int, str, bool, bool, tuple[SceneObject, ...]], ...] = (
    (1, "train2017", True, True, (
        ("ellipse", (40, 44, 22, 14), "polygon", "polygon"),     # replaced by LVIS
        ("rectangle", (78, 14, 118, 40), "polygon", None),       # COCO only: kept
        ("crowd", (96, 72), "crowd", None),                      # crowd: skipped
        ("blob", (112, 84, 4), "polygon", None))),               # < 80 px: dropped
    (2, "train2017", True, True, (
        ("star", (36, 48, 26, 12), "rle", "polygon"),           # compressed RLE, replaced
        ("disk", (92, 30, 15), None, "polygon+duplicate"),       # one LVIS copy removed
        ("ellipse", (92, 74, 26, 12), "polygon", None))),        # COCO only: kept
    (3, "val2017", False, True, (                                # LVIS only
        ("ellipse", (44, 40, 30, 20), None, "polygon"),
        ("rectangle", (80, 58, 116, 88), None, "polygon"),
        ("blob", (14, 84, 3), None, "polygon"))),                # < 80 px: dropped
    (4, "train2017", True, False, (                              # COCO only: skipped
        ("ellipse", (64, 48, 34, 22), "polygon", None),
        ("rectangle", (8, 8, 40, 30), "polygon", None))),
    (5, "train2017", True, True, (
        ("disk", (64, 48, 30), "rle_uncompressed", "c_shape"),)),  # box IoU ~0.9, mask IoU ~0.5
)


def _ellipse(cx: float, cy: float, a: float, b: float, n: int, phase: float = 0.0) -> np.ndarray:
    t = phase + np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + a * np.cos(t), cy + b * np.sin(t)], axis=1)


def _outline(category: str, params: tuple, n: int) -> np.ndarray:
    """Boundary of a shape as an ``(n', 2)`` array of ``(x, y)`` vertices (n' ~ n)."""
    if category in ("ellipse", "disk", "blob"):
        cx, cy, *radii = params
        a, b = (radii * 2)[:2]
        return _ellipse(cx, cy, a, b, n)
    if category == "rectangle":
        x0, y0, x1, y1 = params
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
    if category == "star":
        cx, cy, r_out, r_in = params
        t = -np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, r_out, r_in)
        return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)
    if category == "c_shape":  # a disk with a bite: outer arc, then inner arc back
        cx, cy, r = params
        t = np.linspace(np.pi / 5, 2 * np.pi - np.pi / 5, n // 2)
        outer = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)
        inner = np.stack([cx + 0.55 * r * np.cos(t[::-1]), cy + 0.55 * r * np.sin(t[::-1])], axis=1)
        return np.concatenate([outer, inner])
    raise ValueError(f"unknown sample shape {category!r}")


def _polygon(points: np.ndarray) -> list[float]:
    return [round(float(v), 2) for v in points.reshape(-1)]


def _rle_from_polygons(polygons: list[list[float]]) -> dict[str, Any]:
    return mask_utils.merge(mask_utils.frPyObjects(polygons, HEIGHT, WIDTH))


def _uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO's uncompressed RLE: run lengths over the column-major pixels, zeros first."""
    flat = mask.astype(np.uint8).reshape(-1, order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat[0]:
        runs = [0] + runs
    return {"size": [HEIGHT, WIDTH], "counts": [int(r) for r in runs]}


def _crowd_polygons(params: tuple, rng: np.random.Generator) -> list[list[float]]:
    cx, cy = params
    centres = np.array([[0, 0], [9, 2], [-8, 5], [3, 10], [-4, -8]]) + rng.integers(-1, 2, (5, 2))
    return [_polygon(_ellipse(cx + dx, cy + dy, 4.5, 4.5, 12)) for dx, dy in centres]


def _annotation(ann_id: int, image_id: int, category: str, segmentation: Any,
                rle: dict[str, Any], crowd: bool | None) -> dict[str, Any]:
    ann = {"id": ann_id, "image_id": image_id, "category_id": CATEGORIES.index(category) + 1,
           "segmentation": segmentation, "area": int(mask_utils.area(rle)),
           "bbox": [round(float(v), 2) for v in mask_utils.toBbox(rle)]}
    if crowd is not None:  # COCO has iscrowd, LVIS does not
        ann["iscrowd"] = int(crowd)
    return ann


def _render(masks: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """A ``(H, W, 3)`` uint8 RGB photo: a colour gradient with the shapes painted on it."""
    top, bottom = rng.integers(60, 200, (2, 3))
    ramp = np.linspace(0.0, 1.0, HEIGHT)[:, None, None]
    image = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (HEIGHT, WIDTH, 3)).copy()
    for mask in masks:
        image[mask] = rng.integers(0, 256, 3)
    return np.round(image).astype(np.uint8)


def make_sample_data(root: str | Path, seed: int = 0) -> SamplePaths:
    """Write the sample photos, COCO/LVIS JSON files and img/ + gt/ pairs under ``root``.

    Deterministic: the same ``seed`` gives the same JSON bytes and the same pixels.

    Raises:
        ValueError: ``seed`` is not an integer >= 0. NotADirectoryError: ``root`` is a file.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if Path(root).is_file():
        raise NotADirectoryError(f"{root} is a file; the sample data needs a folder")
    rng = np.random.default_rng(seed)
    paths = SamplePaths.under(root)
    coco: dict[str, Any] = {"info": {"description": "ritm_lite generated sample (COCO format)"},
                            "licenses": [], "images": [], "annotations": [],
                            "categories": [{"id": k + 1, "name": c, "supercategory": "shape"}
                                           for k, c in enumerate(CATEGORIES)]}
    lvis: dict[str, Any] = {"info": {"description": "ritm_lite generated sample (LVIS v1 format)"},
                            "licenses": [], "images": [], "annotations": [],
                            "categories": [{"id": k + 1, "name": c, "synset": f"{c}.n.01",
                                            "frequency": "f", "synonyms": [c]}
                                           for k, c in enumerate(CATEGORIES)]}
    for sub in ("coco/annotations", "lvis", "mval/img", "mval/gt"):
        (paths.root / sub).mkdir(parents=True, exist_ok=True)
    for image_id, folder, in_coco, in_lvis, objects in SCENES:
        name = f"{image_id:012d}.png"
        shift = rng.integers(-2, 3, 2)  # jitter every shape of the photo a little
        true_masks, instances = [], []
        for category, params, coco_form, lvis_form in objects:
            params = tuple(p + shift[k % 2] if k < 2 or category == "rectangle" else p
                           for k, p in enumerate(params))
            shape = "c_shape" if lvis_form == "c_shape" else category
            if category == "crowd":
                polygons = _crowd_polygons(params, rng)
            else:
                polygons = [_polygon(_outline(shape, params, 64))]
            true_mask = decode_rles([_rle_from_polygons(polygons)])[:, :, 0].astype(bool)
            true_masks.append(true_mask)
            if category not in ("crowd", "blob"):
                instances.append((category, true_mask))
            if in_coco and coco_form:
                coarse = polygons if category == "crowd" else [
                    _polygon(_outline(category, params, 8) + rng.uniform(-0.5, 0.5, (1, 2)))]
                rle = _rle_from_polygons(coarse)
                segmentation: Any = coarse
                if coco_form == "rle":
                    segmentation = {"size": [HEIGHT, WIDTH],
                                    "counts": rle["counts"].decode("ascii")}
                elif coco_form in ("rle_uncompressed", "crowd"):
                    segmentation = _uncompressed_rle(decode_rles([rle])[:, :, 0])
                coco["annotations"].append(_annotation(
                    len(coco["annotations"]) + 1, image_id, category, segmentation, rle,
                    coco_form == "crowd"))
            if in_lvis and lvis_form:
                fine = [_polygon(_outline(shape, params, 32))]
                copies = [fine]
                if lvis_form == "polygon+duplicate":
                    copies.append([_polygon(_outline(shape, params, 32) + np.array([1.0, 0.5]))])
                for copy in copies:
                    lvis["annotations"].append(_annotation(
                        len(lvis["annotations"]) + 1, image_id, category, copy,
                        _rle_from_polygons(copy), None))
        image = _render(true_masks, rng)
        (paths.images_dir / folder).mkdir(parents=True, exist_ok=True)
        _write_png(paths.images_dir / folder / name, image)
        url = f"{URL}/{folder}/{name}"
        if in_coco:
            coco["images"].append({"id": image_id, "file_name": name, "coco_url": url,
                                   "height": HEIGHT, "width": WIDTH, "license": 0})
        if in_lvis:
            lvis["images"].append({"id": image_id, "coco_url": url, "height": HEIGHT,
                                   "width": WIDTH, "neg_category_ids": [],
                                   "not_exhaustive_category_ids": [], "license": 0})
        for k, (category, mask) in enumerate(instances):
            stem = f"{category}{k:02d}_{image_id:012d}"
            _write_png(paths.folder_dir / "img" / f"{stem}.png", image)
            cv2.imwrite(str(paths.folder_dir / "gt" / f"{stem}.png"), mask.astype(np.uint8) * 255,
                        [cv2.IMWRITE_PNG_COMPRESSION, 9])
    for path, data in ((paths.coco_json, coco), (paths.lvis_json, lvis)):
        path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    return paths


def _write_png(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise RuntimeError(f"could not write {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ritm_lite.data.samples --out data/samples [--seed 0]``."""
    parser = argparse.ArgumentParser(prog="python -m ritm_lite.data.samples",
                                     description="Write the small generated sample data.")
    parser.add_argument("--out", default="data/samples", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"--seed must be 0 or more, got {args.seed}")
    if Path(args.out).is_file():
        parser.error(f"--out must be a folder, {args.out} is a file")
    paths = make_sample_data(args.out, seed=args.seed)
    files = sorted(p for p in paths.root.rglob("*") if p.is_file())
    print(f"wrote {len(files)} files ({sum(p.stat().st_size for p in files) / 1024:.1f} KiB) "
          f"under {paths.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
