"""Reading image files (the package's one image reader) and pairing images with masks.

Every image the package reads from a file or from encoded bytes goes through this module:
the training sets, the benchmarks, the merged COCO+LVIS set and the widget's uploads. So a
file means the same pixels wherever it is read, and a file that cannot be decoded is an
error everywhere:

* **decoding**: OpenCV's ``imdecode`` on the file's bytes; a file it cannot decode (not an
  image, empty, **truncated**: OpenCV's decoder refuses a JPEG or PNG that ends early, where
  ``imread`` would return the decoded part with the rest grey) raises ``ValueError`` naming the
  file. Damage *inside* the data that libjpeg only warns about ("Corrupt JPEG data") cannot be
  told apart from a valid file by any decoder, and is not caught;
* **colour** (:func:`read_rgb`): RGB in ``uint8``; grey is repeated over three channels, an
  alpha channel is dropped, the EXIF orientation is applied (as ``cv2.imread`` does);
* **bit depth** (:func:`to_8bit`): 8-bit files as they are. A 16-bit file is scaled by its
  *real* bit depth, ``round(v * 255 / (2**b - 1))``, where ``b`` is the PNG's ``sBIT``
  (significant bits) chunk: 12-bit microscope data stored in 16 bits is not read almost black
  (``v >> 8``, what ``IMREAD_COLOR`` does). A 16-bit file that does not state its depth (no
  ``sBIT``: most 16-bit PNGs and every TIFF) is refused: 12-bit and 16-bit data cannot be told
  apart, and a guess would be silently wrong for one of them. Float images are refused too;
* **masks** (:func:`read_unchanged`): the stored values at full depth, for
  :func:`ritm_lite.data.masks.read_mask`'s value rule; palette PNGs' indices
  (:func:`read_palette_png`, Pascal VOC) through PIL, which OpenCV cannot give.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ImageFile = str | Path | bytes | bytearray | memoryview


def file_bytes(source: ImageFile) -> tuple[bytes, str]:
    """``(bytes, name)`` of an image file given as a path or as its encoded bytes.

    Raises:
        FileNotFoundError: a path that is not a file. TypeError: neither a path nor bytes.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return data, f"the {len(data)}-byte image"
    if not isinstance(source, (str, Path)):
        raise TypeError(f"an image file is a path or encoded bytes, got {type(source).__name__}")
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist (or is not a file)")
    return path.read_bytes(), str(path)


def decode(data: bytes, name: str, flags: int) -> np.ndarray:
    """``cv2.imdecode(data, flags)`` (OpenCV's channel order), ``ValueError`` naming ``name``
    when it cannot be decoded (not an image, empty, truncated)."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags) if data else None
    if image is None or image.size == 0:
        raise ValueError(f"cannot decode {name}: not an image, empty, truncated or corrupt ({len(data)} bytes)")
    return image


def png_significant_bits(data: bytes) -> int | None:
    """The largest colour entry of a PNG's ``sBIT`` chunk (its real bit depth), or ``None``
    when ``data`` is not a PNG or has no ``sBIT`` (it comes before the image data)."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    offset = len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"sBIT" and len(body) == length and length >= 1:
            colour = body if length in (1, 3) else body[:-1]  # grey / RGB; drop alpha's entry
            return max(colour)
        if kind in (b"IDAT", b"IEND"):
            return None
        offset += 12 + length
    return None


def to_8bit(image: np.ndarray, data: bytes, name: str) -> np.ndarray:
    """``image`` (decoded from ``data``) in ``uint8`` by the bit-depth rule (module docstring).

    Raises:
        ValueError: a 16-bit file without a stated bit depth, values above the stated depth,
            or a float image (``name`` is named).
    """
    if image.dtype == np.uint8:
        return image
    if image.dtype != np.uint16:
        raise ValueError(f"{name} holds {image.dtype} pixels; only 8- and 16-bit images are read "
                         "(convert it to 8-bit with the scaling you mean)")
    bits = png_significant_bits(data)
    if bits is None or not 1 <= bits <= 16:
        raise ValueError(
            f"{name} is a 16-bit image that does not state its real bit depth (no PNG sBIT chunk): "
            "12-bit data in it would read almost black, 16-bit data correctly, and the two cannot "
            "be told apart. Convert it to 8-bit with the scaling you mean, e.g. "
            "(image.astype(float) * 255 / 4095).round().astype('uint8') for 12-bit data"
        )
    top = 2**bits - 1
    if int(image.max()) > top:
        raise ValueError(f"{name} states {bits} significant bits (sBIT) but holds values up to {int(image.max())}")
    return np.round(image.astype(np.float32) * (255.0 / top)).astype(np.uint8)  # v * 255 / (2^b - 1)


def read_rgb(source: ImageFile) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of an image file (path or encoded bytes), by the module's rules.

    Raises:
        FileNotFoundError: no such file. ValueError: not decodable (truncated, corrupt, not an
            image) or a bit depth that cannot be read correctly; the message names the file.
    """
    data, name = file_bytes(source)
    image = decode(data, name, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)  # 3 channels, depth kept
    return cv2.cvtColor(to_8bit(image, data, name), cv2.COLOR_BGR2RGB)


def read_unchanged(source: ImageFile) -> np.ndarray:
    """The stored values of an image file at full depth and channel count (OpenCV's BGR(A)
    order), for masks; ``ValueError`` naming the file when it cannot be decoded."""
    data, name = file_bytes(source)
    return decode(data, name, cv2.IMREAD_UNCHANGED)


def read_palette_png(path: str | Path) -> np.ndarray:
    """``(H, W)`` int32 palette indices of an indexed PNG (Pascal VOC's ``SegmentationObject``).

    Raises:
        ValueError: not an indexed PNG, or not decodable (truncated, corrupt).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                raise ValueError(f"{path} is a {image.mode} image; expected an indexed (palette) PNG")
            return np.asarray(image, dtype=np.int32)
    except (OSError, UnidentifiedImageError, zlib.error, SyntaxError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"cannot decode {path}: {error}") from error


def files_by_stem(folder: str | Path) -> dict[str, Path]:
    """The image files of ``folder`` by file stem, in sorted order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}


def require_images_for_masks(images: dict[str, Path], masks: dict[str, Path], images_folder: Path) -> None:
    """``FileNotFoundError`` naming the first mask (of ``files_by_stem`` dicts) whose stem has no image."""
    orphans = [stem for stem in masks if stem not in images]
    if orphans:
        raise FileNotFoundError(
            f"no image for the mask {masks[orphans[0]].name} in {images_folder} "
            f"({len(orphans)} masks without an image)"
        )


def image_mask_pairs(root: str | Path, images_dir: str = "img", masks_dir: str = "gt") -> list[tuple[Path, Path, str]]:
    """``(image, mask, stem)`` for every image of ``root/images_dir``; each must have a mask.

    Raises:
        FileNotFoundError: a folder is missing, an image has no mask, a mask has no image, or
            there are no images.
    """
    root = Path(root)
    images = files_by_stem(root / images_dir)
    masks = files_by_stem(root / masks_dir)
    missing = [name for name in images if name not in masks]
    if missing:
        raise FileNotFoundError(f"no mask for {images[missing[0]].name} in {root / masks_dir}")
    require_images_for_masks(images, masks, root / images_dir)
    if not images:
        raise FileNotFoundError(f"no images in {root / images_dir}")
    return [(path, masks[stem], stem) for stem, path in images.items()]


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of an image file as it is read (EXIF rotation applied, as OpenCV does),
    from its header; ``ValueError`` naming the file if it is not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            rotated = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF Orientation: a quarter turn
    except (OSError, UnidentifiedImageError) as err:
        raise ValueError(f"cannot read image {path}: {err}") from None
    return (height, width) if rotated else (width, height)
