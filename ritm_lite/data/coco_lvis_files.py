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

**Every value is checked here, before pycocotools sees it** (its C code trusts its input: a
polygon point at ``1e30`` or NaN makes it allocate until the machine runs out of memory, a
garbage ``counts`` string loops or yields a nonsense mask), and every error names the file and
the image or annotation:

* ids, heights, widths, run lengths: JSON integers (``100`` or ``100.0``; not ``"100"``,
  ``true`` or ``100.5``); image sides in ``1..MAX_SIDE``; image and annotation ids unique;
  ``iscrowd`` 0 or 1;
* polygon coordinates: finite numbers within one image size of the image, ``x`` in
  ``[-W, 2W]`` and ``y`` in ``[-H, 2H]`` (COCO's polygons overshoot the border by a pixel
  or so, which pycocotools clips; anything farther is garbage);
* RLE: ``size`` equal to the image's, run lengths (uncompressed, or decoded from the
  compressed string by :func:`compressed_run_lengths`) non-negative and adding up to ``H*W``.

An annotation's ``bbox`` and ``area`` fields are not read: both are measured on the mask.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pycocotools import mask as mask_utils

Kind = Literal["coco", "lvis"]
RLE = dict[str, Any]  # {"size": [H, W], "counts": bytes}, pycocotools' compressed RLE
MAX_SIDE = 65535  # largest image side accepted (JPEG's); H*W then fits pycocotools' uint32 runs


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
        if entry.id in images:
            raise ValueError(f"{path}: image id {entry.id} appears twice in 'images'")
        if entry.name in names:
            raise ValueError(f"{path}: file name {entry.name!r} appears twice in 'images'")
        names.add(entry.name)
        images[entry.id] = entry
    annotations: dict[int, list[dict[str, Any]]] = defaultdict(list)
    ann_ids: set[int] = set()
    for index, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann or "segmentation" not in ann:
            raise ValueError(f"{path}: annotation #{index} lacks 'image_id' or 'segmentation'")
        ann_id = _integer(ann.get("id"), f"{path}: annotation #{index}: 'id'")
        where = f"{path}: annotation {ann_id}"
        if ann_id in ann_ids:
            raise ValueError(f"{where}: the id appears twice in 'annotations'")
        ann_ids.add(ann_id)
        image_id = _integer(ann["image_id"], f"{where}: 'image_id'")
        if image_id not in images:
            raise ValueError(f"{where} refers to image id {image_id}, which is not in 'images'")
        if "category_id" in ann:
            _integer(ann["category_id"], f"{where}: 'category_id'")
        if ann.get("iscrowd", 0) not in (0, 1):
            raise ValueError(f"{where}: 'iscrowd' must be 0 or 1, got {ann['iscrowd']!r}")
        annotations[image_id].append(ann)
    return AnnotationFile(kind=kind, path=path, images=images, annotations=dict(annotations))


def _integer(value: Any, what: str) -> int:
    """``value`` as an ``int`` if it is a JSON integer (``5`` or ``5.0``), else a ValueError."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return value


def _image_entry(image: Any, path: Path, index: int) -> ImageEntry:
    if not isinstance(image, dict) or not {"id", "height", "width"} <= image.keys():
        raise ValueError(f"{path}: image #{index} lacks 'id', 'height' or 'width'")
    image_id = _integer(image["id"], f"{path}: image #{index}: 'id'")
    where = f"{path}: image {image_id}"
    height, width = (_integer(image[key], f"{where}: '{key}'") for key in ("height", "width"))
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
        raise ValueError(f"{where}: size {height}x{width} (HxW) is not 1..{MAX_SIDE} pixels a side")
    url = image.get("coco_url")
    file_name = image.get("file_name")
    for key, value in (("coco_url", url), ("file_name", file_name)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{where}: '{key}' must be a string, got {value!r}")
    if not url and not file_name:
        raise ValueError(f"{where} has neither 'file_name' nor 'coco_url'")
    if url:
        parts = url.rstrip("/").split("/")
        rel_path = "/".join(parts[-2:]) if len(parts) >= 2 else parts[-1]
    else:
        rel_path = file_name
    name = Path(file_name).name if file_name else rel_path.split("/")[-1]
    return ImageEntry(image_id, name, rel_path, height, width)


def segmentation_to_rle(segmentation: Any, height: int, width: int, where: str) -> RLE:
    """Turn a COCO-style segmentation into one compressed RLE of size ``(height, width)``.

    Accepts polygons (a list of flat ``[x0, y0, x1, y1, ...]`` lists, pixel coordinates),
    uncompressed RLE (``counts`` a list of run lengths) and compressed RLE (``counts`` a
    string). Polygons with fewer than 3 points are skipped (pycocotools would read a
    4-number list as a box); a segmentation with none left gives an empty mask. Everything
    is checked (module docstring) before pycocotools is called.

    Raises:
        ValueError: a polygon with an odd number of coordinates, a coordinate that is not a
            finite number or lies more than an image size outside the image; an RLE whose
            ``size`` differs from the image, whose ``counts`` string is not pycocotools'
            encoding, or whose run lengths are negative or do not add up to ``H*W``; an
            unknown segmentation type. ``where`` names the annotation in the message.
    """
    if isinstance(segmentation, list):
        polygons = [_polygon(polygon, height, width, where) for polygon in segmentation]
        polygons = [polygon for polygon in polygons if len(polygon) >= 6]
        if not polygons:
            return mask_utils.frPyObjects({"size": [height, width], "counts": [height * width]},
                                          height, width)  # empty, without an H x W array
        return mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    if isinstance(segmentation, dict) and {"counts", "size"} <= segmentation.keys():
        size = segmentation["size"]
        if not isinstance(size, list) or len(size) != 2:
            raise ValueError(f"{where}: RLE 'size' must be [H, W], got {size!r}")
        size = [_integer(v, f"{where}: RLE 'size'") for v in size]
        if size != [height, width]:
            raise ValueError(
                f"{where}: mask size {tuple(size)} does not match its image "
                f"{(height, width)} (H, W)"
            )
        counts = segmentation["counts"]
        if isinstance(counts, list):
            _check_runs([_integer(v, f"{where}: RLE run length") for v in counts],
                        height * width, where)
            return mask_utils.frPyObjects(segmentation, height, width)
        if isinstance(counts, (str, bytes)):
            counts = counts.encode("utf-8") if isinstance(counts, str) else counts
            _check_runs(compressed_run_lengths(counts, where), height * width, where)
            return {"size": size, "counts": counts}
    raise ValueError(f"{where}: unknown segmentation (expected polygons or RLE)")


def _polygon(polygon: Any, height: int, width: int, where: str) -> list[float]:
    """A flat ``[x0, y0, x1, y1, ...]`` list checked to lie within one image size of the image."""
    if not isinstance(polygon, list) or len(polygon) % 2:
        raise ValueError(f"{where}: a polygon must be a flat list of x, y pairs")
    for k, v in enumerate(polygon):  # an int is finite; a huge one fails the bounds below
        if not (type(v) is int or (type(v) is float and math.isfinite(v))):
            raise ValueError(f"{where}: polygon coordinate #{k} is {v!r}, not a finite number")
    xs, ys = polygon[0::2], polygon[1::2]
    inside = [-width <= x <= 2 * width and -height <= y <= 2 * height for x, y in zip(xs, ys)]
    if not all(inside):
        k = inside.index(False)
        raise ValueError(f"{where}: polygon point #{k} (x, y) = ({xs[k]}, {ys[k]}) is far outside "
                         f"the {width}x{height} (WxH) image (allowed: x in [-W, 2W], "
                         "y in [-H, 2H])")
    return [float(v) for v in polygon]


def compressed_run_lengths(counts: bytes, where: str = "RLE") -> list[int]:
    """Decode pycocotools' compressed ``counts`` string into run lengths (its ``rleFrString``).

    Each run is written as 5-bit groups, least significant first, each group a character
    ``chr(48 + c)`` with bit ``0x20`` of ``c`` meaning "more groups follow" and bit ``0x10``
    of the last group the sign; from the fourth run on, the value is the difference to the run
    two before (runs alternate 0s and 1s). pycocotools reads past a bad string without a word.

    Raises:
        ValueError: a character outside ``'0'..'o'`` or a string ending inside a run.
    """
    runs: list[int] = []
    value = shift = 0
    for k, byte in enumerate(counts):
        c = byte - 48
        if not 0 <= c < 64:
            raise ValueError(f"{where}: compressed RLE counts hold {chr(byte)!r} at #{k}, which "
                             "pycocotools never writes (not a compressed RLE string)")
        value |= (c & 0x1F) << shift
        shift += 5
        if shift > 35:  # 7 groups hold any run of an image of up to 2**32 pixels
            raise ValueError(f"{where}: compressed RLE counts hold a run too long for any "
                             f"image at #{k} (not a compressed RLE string)")
        if c & 0x20:
            continue
        if c & 0x10:  # sign-extend the last group
            value -= 1 << shift
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
        value = shift = 0
    if shift:
        raise ValueError(f"{where}: compressed RLE counts end in the middle of a run (truncated)")
    return runs


def _check_runs(runs: list[int], pixels: int, where: str) -> None:
    """Run lengths must be non-negative and cover the image exactly (``pixels = H * W``)."""
    negative = [k for k, run in enumerate(runs) if run < 0]
    if negative:
        raise ValueError(f"{where}: RLE run #{negative[0]} has negative length {runs[negative[0]]}")
    if sum(runs) != pixels:
        raise ValueError(f"{where}: RLE run lengths add up to {sum(runs)} pixels, "
                         f"not H*W = {pixels}")


def decode_rles(rles: list[RLE]) -> np.ndarray:
    """Decode compressed RLEs of one image into an ``(H, W, N)`` uint8 array of 0 / 1."""
    with warnings.catch_warnings():  # pycocotools 2.0.x under NumPy 2 warns about __array__
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        return mask_utils.decode(rles)
