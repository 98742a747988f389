"""The one rule that turns a mask file's pixel values into object, background and ignore.

Every reader of mask files (the benchmarks, the training folders) goes through
:func:`mask_labels`, so a mask means the same thing wherever it is read:

* a mask whose values are all 0 or 1 is a **label map**: 1 is the object (what the widget
  saves, and what many tools export);
* any other mask is a **grey mask**: the object is the upper half of the value range,
  ``value >= 128`` for 8-bit files (0/255 masks; anti-aliased or JPEG-compressed edges split
  at half), ``>= 32768`` for 16-bit ones; a colour mask is read as the largest of its
  colour channels (as the original's DAVIS reader does);
* in layouts with an **ignore band** (GrabCut, Berkeley) the value 128 marks pixels that are
  neither object nor background: ``-1``, never clicked on and left out of the IoU.

On the benchmarks as published (GrabCut 0/128/255, COCO_MVal and DAVIS 0/255) this gives
exactly the original readers' masks (GrabCut: ``> 128`` object, ``== 128`` ignore; DAVIS:
``> 0`` object). Where they differ, on masks saved another way, the original's rules go wrong
silently: a 0/1 GrabCut mask is an empty object there, and ``> 0`` turns JPEG noise into object.

A mask with no object pixel is an error naming the file: an empty object would count as
solved at the first click (IoU of two empty masks is 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

IGNORE = -1
"""Label of ignored pixels."""

IGNORE_BAND = 128
"""Grey value of GrabCut's and Berkeley's ignore band."""


def object_min_grey(dtype: np.dtype) -> int:
    """A grey mask's object: values at or above half the dtype's range (128 for uint8)."""
    return (int(np.iinfo(dtype).max) + 1) // 2


def object_threshold(values: np.ndarray) -> int:
    """The lowest value that is object in ``values`` (bool or unsigned integers), by the rule:
    1 in a 0/1 label map (or a bool mask), else half the dtype's range (128 for uint8)."""
    if values.dtype == bool or values.size == 0 or int(values.max()) <= 1:
        return 1  # a 0/1 label map
    return object_min_grey(values.dtype)  # grey: the upper half of the range


def object_pixels(values: np.ndarray, source: str | Path) -> np.ndarray:
    """``values``' object pixels as bool, by the one rule; unlike :func:`mask_labels` an empty
    mask is allowed (an instance cropped away), and any shape (``(H, W)`` or ``(H, W, K)``: the
    rule is applied to each ``[..., k]`` layer on its own).

    Raises:
        ValueError: not bool or unsigned integer values (``source`` is named).
    """
    values = np.asarray(values)
    if values.dtype == bool:
        return values
    if values.dtype.kind != "u":
        raise ValueError(f"{source}: a mask must be bool or unsigned integers, got {values.dtype}")
    if values.ndim == 3:
        return np.stack([object_pixels(values[:, :, k], source) for k in range(values.shape[2])], axis=2) \
            if values.shape[2] else np.zeros(values.shape, bool)
    return values >= object_threshold(values)


def read_mask(path: str | Path, ignore_band: bool = False) -> np.ndarray:
    """``(H, W)`` int32 labels of the mask file ``path`` (:func:`mask_labels`'s rule).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not decodable (truncated, corrupt), or no object pixel (the message names
            the file).
    """
    from ritm_lite.data.files import read_unchanged

    values = read_unchanged(path)  # the one reader: a truncated file is an error
    if values.ndim == 3:
        values = values[:, :, :3].max(axis=2)  # colour: the largest channel; alpha is not a label
    return mask_labels(values, path, ignore_band=ignore_band)


def mask_labels(values: np.ndarray, source: str | Path, ignore_band: bool = False) -> np.ndarray:
    """``(H, W)`` int32 labels (1 object, 0 background, -1 ignore) of one mask's values.

    Args:
        values: ``(H, W)`` bool or integer mask values (grey, or a 0/1 label map); a
            signed integer array counts as 8-bit when its values fit, else as 16-bit.
        source: where the values come from (a file), named in errors.
        ignore_band: the layout marks ignored pixels with 128 (GrabCut, Berkeley; 8-bit only).

    Raises:
        ValueError: not a non-empty 2-D bool or unsigned integer array, or no object pixel.
    """
    values = np.asarray(values)
    if values.ndim != 2 or values.dtype.kind not in "uib" or values.size == 0:
        raise ValueError(
            f"{source}: a mask must be a non-empty (H, W) array of unsigned integers, "
            f"got shape {values.shape} {values.dtype}"
        )
    if values.dtype.kind == "i":  # an in-memory array: its values say which depth it has
        low, high = int(values.min()), int(values.max())
        if low < 0 or high > 65535:
            raise ValueError(f"{source}: mask values must lie in 0..65535, got {low}..{high}")
        values = values.astype(np.uint8 if high <= 255 else np.uint16)
    labels = np.zeros(values.shape, dtype=np.int32)
    threshold = object_threshold(values)
    labels[values >= threshold] = 1
    if threshold > 1 and ignore_band and values.dtype == np.uint8:
        labels[values == IGNORE_BAND] = IGNORE
    if not (labels == 1).any():
        kinds = np.unique(values)
        raise ValueError(
            f"{source}: the mask has no object pixel (values {kinds[:8].tolist()}"
            f"{' ...' if kinds.size > 8 else ''}); an object is 1 in a 0/1 label map or >= "
            f"{threshold if threshold > 1 else 128} in a grey mask"
        )
    return labels
