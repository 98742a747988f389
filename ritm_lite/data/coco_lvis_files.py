"""Reading the official COCO 2017 and LVIS v1 annotation files, with clear errors.

The COCO+LVIS merge (:mod:`ritm_lite.data.coco_lvis`) takes two kinds of JSON file:

* **COCO 2017 instances** (``annotations/instances_{train,val}2017.json``): ``images`` carry a
  ``file_name`` (``000000000009.jpg``) and a ``coco_url``; ``annotations`` carry ``iscrowd``.
  Ordinary objects are polygons; crowd regions are *uncompressed* RLE.
* **LVIS v1** (``lvis_v1_{train,val}.json``): the same photos (LVIS re-annotated COCO 2017),
  but ``images`` carry only a ``coco_url`` (``http://images.cocodataset.org/train2017/...jpg``)
  plus ``neg_category_ids`` / ``not_exhaustive_category_ids``; annotations are polygons and
  have no ``iscrowd``. LVIS v1 *val* also holds photos from COCO *train2017*, so an image is
  matched by its **file name**, never by its id or split.

This module loads a file, checks it is the kind the caller expects (a COCO file given as
``--lvis`` is refused, and the reverse), and turns any COCO-style segmentation (polygons,
uncompressed or compressed RLE) into one compressed RLE with pycocotools, as
``COCO.annToRLE`` does. Masks are never decoded here: the merge works on RLEs directly.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pycocotools import mask as mask_utils

Kind = Literal["coco", "lvis"]
RLE = dict[str, Any]  # {"size": [H, W], "counts": bytes}, pycocotools' compressed RLE


@dataclass
class ImageEntry:
    """One image of an annotation file.

    ``name`` is the bare file name used to match COCO and LVIS (``000000000009.jpg``);
    ``rel_path`` is where it lives under a COCO image root (``train2017/000000000009.jpg``,
    taken from ``coco_url`` when present, else ``file_name``).
    """

    id: int
    name: str
    rel_path: str
    height: int
    width: int


@dataclass
class AnnotationFile:
    """A loaded, validated COCO or LVIS file: images by id and raw annotations by image id."""

    kind: Kind
    path: Path
    images: dict[int, ImageEntry]
    annotations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def by_name(self) -> dict[str, ImageEntry]:
        """Images keyed by bare file name."""
        return {entry.name: entry for entry in self.images.values()}


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"annotation file {path} does not exist")
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a JSON annotation file ({err})") from None


def detect_kind(data: dict[str, Any]) -> Kind | None:
    """Tell a COCO instances file from an LVIS v1 file by their fields (None if unclear).

    LVIS v1 images have ``neg_category_ids`` / ``not_exhaustive_category_ids`` and no
    ``file_name``, its categories a ``synset``; COCO images have ``file_name`` and its
    annotations ``iscrowd``.
    """
    images = data.get("images") or []
    first_image = images[0] if images and isinstance(images[0], dict) else {}
    categories = data.get("categories") or []
    first_cat = categories[0] if categories and isinstance(categories[0], dict) else {}
    anns = data.get("annotations") or []
    first_ann = anns[0] if anns and isinstance(anns[0], dict) else {}
    lvis_marks = {"neg_category_ids", "not_exhaustive_category_ids"} & first_image.keys()
    url_only = "coco_url" in first_image and "file_name" not in first_image
    if lvis_marks or "synset" in first_cat or url_only:
        return "lvis"
    if "file_name" in first_image or "iscrowd" in first_ann:
        return "coco"
    return None


_EXPECTED_FILE = {"coco": "instances_train2017.json", "lvis": "lvis_v1_train.json"}
_FLAG = {"coco": "--coco", "lvis": "--lvis"}


def load_annotation_file(path: str | Path, expected: Kind) -> AnnotationFile:
    """Load a COCO 2017 instances or LVIS v1 file and check it is the ``expected`` kind.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not JSON, missing keys, the other kind of file, an image without
            id/size/name, duplicated file names, or an annotation of an unknown image.
    """
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with 'images' and 'annotations'")
    missing = [key for key in ("images", "annotations") if not isinstance(data.get(key), list)]
    if missing:
        raise ValueError(f"{path}: not a COCO/LVIS annotation file, missing list(s) {missing}")
    if not data["images"]:
        raise ValueError(f"{path}: the file lists no images")
    kind = detect_kind(data)
    if kind != expected:
        seen = "a COCO instances file" if kind == "coco" else (
            "an LVIS v1 file" if kind == "lvis" else "neither a COCO nor an LVIS file")
        raise ValueError(
            f"{path} looks like {seen}, but {_FLAG[expected]} expects "
            f"{'a COCO 2017 instances file' if expected == 'coco' else 'an LVIS v1 file'} "
            f"(e.g. {_EXPECTED_FILE[expected]})"
        )
    images: dict[int, ImageEntry] = {}
    names: set[str] = set()
    for index, image in enumerate(data["images"]):
        entry = _image_entry(image, path, index)
        if entry.name in names:
            raise ValueError(f"{path}: file name {entry.name!r} appears twice in 'images'")
        names.add(entry.name)
        images[entry.id] = entry
    annotations: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for index, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann or "segmentation" not in ann:
            raise ValueError(f"{path}: annotation #{index} lacks 'image_id' or 'segmentation'")
        if ann["image_id"] not in images:
            raise ValueError(
                f"{path}: annotation {ann.get('id', index)} refers to image id "
                f"{ann['image_id']}, which is not in 'images'"
            )
        annotations[ann["image_id"]].append(ann)
    return AnnotationFile(kind=kind, path=path, images=images, annotations=dict(annotations))


def _image_entry(image: Any, path: Path, index: int) -> ImageEntry:
    if not isinstance(image, dict) or not {"id", "height", "width"} <= image.keys():
        raise ValueError(f"{path}: image #{index} lacks 'id', 'height' or 'width'")
    url = image.get("coco_url")
    file_name = image.get("file_name")
    if not url and not file_name:
        raise ValueError(f"{path}: image {image['id']} has neither 'file_name' nor 'coco_url'")
    if url:
        parts = str(url).rstrip("/").split("/")
        rel_path = "/".join(parts[-2:]) if len(parts) >= 2 else parts[-1]
    else:
        rel_path = str(file_name)
    name = Path(file_name).name if file_name else rel_path.split("/")[-1]
    return ImageEntry(int(image["id"]), name, rel_path, int(image["height"]), int(image["width"]))


def segmentation_to_rle(segmentation: Any, height: int, width: int, where: str) -> RLE:
    """Turn a COCO-style segmentation into one compressed RLE of size ``(height, width)``.

    Accepts polygons (a list of flat ``[x0, y0, x1, y1, ...]`` lists, pixel coordinates),
    uncompressed RLE (``counts`` a list of run lengths) and compressed RLE (``counts`` a
    string). Polygons with fewer than 3 points are skipped (pycocotools would read a
    4-number list as a box); a segmentation with none left gives an empty mask.

    Raises:
        ValueError: an RLE whose ``size`` differs from the image, a polygon with an odd
            number of coordinates, or an unknown segmentation type. ``where`` names the
            annotation in the message.
    """
    if isinstance(segmentation, list):
        polygons = []
        for polygon in segmentation:
            if not isinstance(polygon, list) or len(polygon) % 2:
                raise ValueError(f"{where}: a polygon must be a flat list of x, y pairs")
            if len(polygon) >= 6:
                polygons.append([float(v) for v in polygon])
        if not polygons:
            return mask_utils.encode(_empty(height, width))
        return mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    if isinstance(segmentation, dict) and {"counts", "size"} <= segmentation.keys():
        size = [int(v) for v in segmentation["size"]]
        if size != [height, width]:
            raise ValueError(
                f"{where}: mask size {tuple(size)} does not match its image "
                f"{(height, width)} (H, W)"
            )
        counts = segmentation["counts"]
        if isinstance(counts, list):
            if sum(counts) != height * width:
                raise ValueError(f"{where}: RLE run lengths do not add up to H*W")
            return mask_utils.frPyObjects(segmentation, height, width)
        if isinstance(counts, (str, bytes)):
            counts = counts.encode("ascii") if isinstance(counts, str) else counts
            return {"size": size, "counts": counts}
    raise ValueError(f"{where}: unknown segmentation (expected polygons or RLE)")


def _empty(height: int, width: int) -> np.ndarray:
    return np.zeros((height, width), dtype=np.uint8, order="F")


def decode_rles(rles: list[RLE]) -> np.ndarray:
    """Decode compressed RLEs of one image into an ``(H, W, N)`` uint8 array of 0 / 1."""
    with warnings.catch_warnings():  # pycocotools 2.0.x under NumPy 2 warns about __array__
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        return mask_utils.decode(rles)
