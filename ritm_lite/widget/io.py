"""Images and masks in, label maps out: the widget's file handling.

Loading accepts what people actually upload — grayscale, RGB or RGBA, PNG, JPEG, TIFF, BMP —
and turns it into the ``H x W x 3`` ``uint8`` RGB array that a
:class:`~ritm_lite.widget.state.PredictorLike` expects. **Files** (paths and uploaded bytes)
are read by the package's one image reader, :func:`ritm_lite.data.files.read_rgb`, exactly as
training and the benchmarks read them: a truncated or corrupt file is an error, a 16-bit
file is scaled by the bit depth it states (PNG ``sBIT``) or refused, the EXIF orientation is
applied. **Arrays** already in memory follow :func:`to_uint8` (their bit depth is not stated
anywhere, so a non-``uint8`` array is stretched from its minimum to its maximum, for display). Saving writes the two formats an
annotation is usually wanted in:

* a **PNG label map**: one ``uint8`` (or ``uint16`` past 255 objects) image in which pixel
  value ``k`` means "object ``k``" and ``0`` means background;
* a **COCO-style JSON** with one annotation per object, its mask run-length encoded by
  pycocotools (``{"size": [H, W], "counts": "..."}``), with area and ``[x, y, w, h]`` box.

Decoding goes through ``ritm_lite.data.files`` (OpenCV); RLE uses pycocotools. Nothing here touches widgets, so it
is tested without a browser.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ritm_lite.data.files import file_bytes, read_rgb, read_unchanged

ImageSource = str | Path | bytes | bytearray | memoryview | np.ndarray


def decode_image(data: bytes | bytearray | memoryview) -> np.ndarray:
    """Decode an encoded image file (PNG, JPEG, TIFF, BMP, ...) kept at full bit depth.

    Returns:
        ``H x W`` (grayscale), ``H x W x 3`` (RGB) or ``H x W x 4`` (RGBA) array in the
        file's own dtype (``uint8`` or ``uint16``). Colour channels are RGB(A), not
        OpenCV's BGR(A).

    Raises:
        ValueError: the bytes are not an image OpenCV can decode (or a truncated one).
    """
    image = read_unchanged(bytes(data))  # the package's one reader
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def _read(source: ImageSource) -> np.ndarray:
    if isinstance(source, np.ndarray):
        return source
    data, _ = file_bytes(source)
    return decode_image(data)


def to_uint8(channel_data: np.ndarray) -> np.ndarray:
    """Bring any-depth image data to ``uint8`` for display and for the network.

    * ``uint8`` is kept as it is;
    * ``bool`` becomes 0/255;
    * floats in ``[0, 1]`` are scaled by 255;
    * anything else (16-bit, other integers, floats outside ``[0, 1]``) is stretched from
      its own minimum to its own maximum — what an image viewer's auto-contrast does, so a
      12-bit microscope image stored in 16 bits is not shown almost black.
    """
    data = np.asarray(channel_data)
    if data.dtype == np.uint8:
        return data
    if data.dtype == bool:
        return data.astype(np.uint8) * 255
    if data.dtype.kind not in "uif":
        raise ValueError(f"image values must be integers, floats or bools, got dtype {data.dtype}")
    values = data.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("image contains NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    if np.issubdtype(data.dtype, np.floating) and low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    if high <= low:
        return np.zeros(data.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Turn a grayscale, RGB or RGBA array of any depth into ``H x W x 3`` ``uint8`` RGB.

    Grayscale is repeated over three channels; an alpha channel is dropped (the network
    sees colours only). See :func:`to_uint8` for the bit-depth rule.

    Raises:
        ValueError: not a 2-D image or an ``H x W x {1, 3, 4}`` array.
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        array = array[..., 0] if array.shape[2] == 1 else array[..., :3]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < 1:
        raise ValueError(
            f"expected an H x W grayscale or H x W x 3/4 colour image, got shape {np.shape(image)}"
        )
    return np.ascontiguousarray(to_uint8(array))


def load_image(source: ImageSource) -> np.ndarray:
    """Load an image (path, encoded bytes or array) as ``H x W x 3`` ``uint8`` RGB.

    Files and bytes go through :func:`ritm_lite.data.files.read_rgb` (training's reader);
    arrays through :func:`to_rgb`.

    Raises:
        FileNotFoundError: no such file. TypeError: not a path, bytes or array.
        ValueError: undecodable, truncated, a 16-bit file that does not state its bit depth,
            or an array that is not an image.
    """
    if isinstance(source, np.ndarray):
        return to_rgb(source)
    return read_rgb(source)


def mask_foreground(mask: np.ndarray, source: str | Path) -> np.ndarray:
    """``H x W`` bool foreground of a mask to correct.

    Bool and unsigned integer masks follow the package's one mask rule
    (:func:`ritm_lite.data.masks.mask_labels`: a 0/1 label map, or grey ``>= 128``; a colour
    mask by its largest channel); float masks are probabilities, foreground above 0.5.

    Raises:
        ValueError: not ``H x W`` (or ``H x W x C``), NaN or values outside ``[0, 1]`` in a
            float mask, a signed integer mask, or no foreground pixel (``source`` is named).
    """
    from ritm_lite.data.masks import mask_labels

    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., :3].max(axis=2)
    if mask.ndim != 2:
        raise ValueError(f"{source}: a mask must be H x W or H x W x C, got shape {mask.shape}")
    if np.issubdtype(mask.dtype, np.floating):
        if not np.all(np.isfinite(mask)) or mask.min(initial=0) < 0 or mask.max(initial=0) > 1:
            raise ValueError(f"{source}: a float mask holds probabilities in [0, 1] (no NaN)")
        foreground = mask > 0.5
        if not foreground.any():
            raise ValueError(f"{source}: the mask has no object pixel (no probability above 0.5)")
        return foreground
    return mask_labels(mask, source) == 1


def load_mask(source: ImageSource, image_size: tuple[int, int]) -> np.ndarray:
    """Load an existing mask to correct (path, encoded bytes or array).

    Args:
        source: ``H x W`` or ``H x W x C``, read by :func:`mask_foreground`.
        image_size: ``(height, width)`` of the image being segmented.

    Returns:
        ``H x W`` ``float32`` array of 0.0 / 1.0, ready to be passed as ``mask_input``.

    Raises:
        ValueError: the mask's size differs from the image's (it is never silently
            resized: a mask for another image would be wrong everywhere), or its values
            are not a mask (see :func:`mask_foreground`).
    """
    name = str(source) if isinstance(source, (str, Path)) else "the mask"
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or not all(isinstance(v, (int, np.integer)) and v > 0 for v in image_size)):
        raise ValueError(f"image_size must be (height, width) in pixels, got {image_size!r}")
    mask = np.asarray(_read(source))
    if mask.ndim not in (2, 3):
        raise ValueError(f"a mask must be H x W or H x W x C, got shape {mask.shape}")
    if tuple(mask.shape[:2]) != tuple(image_size):
        raise ValueError(
            f"the mask is {mask.shape[1]}x{mask.shape[0]} (width x height) but the image is "
            f"{image_size[1]}x{image_size[0]}: load a mask made for this image"
        )
    return mask_foreground(mask, name).astype(np.float32)


def save_label_map_png(label_map: np.ndarray, path: str | Path) -> Path:
    """Write an ``H x W`` integer label map (0 = background, k = object k) as a PNG.

    The file is ``uint8`` when every id fits (up to 255 objects), else ``uint16``.
    """
    labels = np.asarray(label_map)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"a label map is an H x W integer array, got {labels.dtype} {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > np.iinfo(np.uint16).max):
        raise ValueError("label ids must lie in 0..65535 to be stored in a PNG")
    if labels.size == 0:
        raise ValueError(f"the label map has no pixels: shape {labels.shape}")
    dtype = np.uint8 if labels.max() <= 255 else np.uint16
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"a label map is saved as a lossless .png, not {path.name!r}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; name a .png file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), labels.astype(dtype)):
        raise ValueError(f"OpenCV could not write {path}")
    return path


def result_paths(path: str | Path) -> tuple[Path, Path]:
    """``(<path>.png, <path>.json)``: where a segmentation result named ``path`` is saved.

    Only a ``.png`` or ``.json`` suffix is replaced; any other dot is part of the name
    (``scan_1.2`` -> ``scan_1.2.png``, ``scan_1.2.json``).

    Raises:
        ValueError: an empty name, or a name that is an existing folder.
    """
    if not isinstance(path, (str, Path)):
        raise ValueError(f"save path must be a file name such as 'segmentation', got {path!r}")
    path = Path(path)
    if not path.name or str(path).endswith(("/", "\\")) or path.is_dir():
        raise ValueError(f"save path {str(path)!r} names a folder; give a file name such as 'segmentation'")
    if path.suffix.lower() in (".png", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".png"), path.with_name(path.name + ".json")


def label_map_to_coco(
    label_map: np.ndarray, file_name: str = "image.png", category_name: str = "object"
) -> dict[str, Any]:
    """COCO-style description of a label map: one RLE-encoded annotation per object id.

    Returns:
        ``{"images": [...], "annotations": [...], "categories": [...]}`` with one image
        (id 1), one category (id 1) and, for every id ``k > 0`` present, an annotation with
        ``id = k``, ``segmentation = {"size": [H, W], "counts": str}`` (pycocotools'
        compressed RLE), ``area`` in pixels, ``bbox = [x, y, width, height]`` and
        ``iscrowd = 0``.
    """
    labels = np.asarray(label_map)
    if labels.ndim != 2 or labels.dtype.kind not in "ui" or labels.size == 0:
        raise ValueError(f"a label map is a non-empty H x W integer array, got {labels.dtype} {labels.shape}")
    if labels.min() < 0:
        raise ValueError(f"label ids are 0 (background) or positive object ids, got {int(labels.min())}")
    height, width = labels.shape
    annotations = []
    for object_id in (int(k) for k in np.unique(labels) if k > 0):
        rle = mask_utils.encode(np.asfortranarray(labels == object_id, dtype=np.uint8))
        annotations.append(
            {
                "id": object_id,
                "image_id": 1,
                "category_id": 1,
                "segmentation": {"size": [height, width], "counts": rle["counts"].decode("ascii")},
                "area": int(mask_utils.area(rle)),
                "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                "iscrowd": 0,
            }
        )
    return {
        "images": [{"id": 1, "file_name": file_name, "height": height, "width": width}],
        "annotations": annotations,
        "categories": [{"id": 1, "name": category_name}],
    }


def save_coco_rle_json(
    label_map: np.ndarray, path: str | Path, file_name: str = "image.png"
) -> Path:
    """Write :func:`label_map_to_coco` of ``label_map`` to ``path`` as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(label_map_to_coco(label_map, file_name=file_name), indent=1))
    return path


def coco_to_label_map(coco: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`label_map_to_coco`: rebuild the ``H x W`` ``int32`` label map.

    Raises:
        ValueError: not a COCO dict with one image of positive size and its annotations.
    """
    try:
        image = coco["images"][0]
        height, width = int(image["height"]), int(image["width"])
        annotations = list(coco["annotations"])
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise ValueError(f"not a COCO dict as label_map_to_coco writes it (one image, its annotations): "
                         f"{type(error).__name__} {error}") from None
    if height < 1 or width < 1:
        raise ValueError(f"the COCO image has size {height}x{width} (height x width)")
    labels = np.zeros((height, width), dtype=np.int32)
    for annotation in annotations:
        rle = dict(annotation["segmentation"])
        rle["counts"] = rle["counts"].encode("ascii")
        labels[mask_utils.decode(rle).astype(bool)] = annotation["id"]
    return labels
