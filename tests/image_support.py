"""Image files for reader tests: a PNG that states its bit depth (``sBIT``), and cut-off files."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np


def encode(image: np.ndarray, suffix: str = ".png") -> bytes:
    """``image`` (RGB(A) order when it has 3 or 4 channels) encoded by OpenCV."""
    array = image
    if image.ndim == 3 and image.shape[2] in (3, 4):
        array = image[:, :, [2, 1, 0, 3][: image.shape[2]]]
    ok, buffer = cv2.imencode(suffix, array)
    assert ok
    return buffer.tobytes()


def png_with_sbit(image: np.ndarray, bits: int) -> bytes:
    """A PNG of ``image`` with an ``sBIT`` chunk saying ``bits`` significant bits per channel."""
    png = encode(image)
    channels = 1 if image.ndim == 2 else image.shape[2]
    body = bytes([bits] * channels)
    chunk = struct.pack(">I4s", len(body), b"sBIT") + body + struct.pack(">I", zlib.crc32(b"sBIT" + body))
    header_end = 8 + 8 + 13 + 4  # signature, then IHDR (length, type, 13 bytes, CRC)
    return png[:header_end] + chunk + png[header_end:]


def smooth_photo(height: int = 120, width: int = 160) -> np.ndarray:
    """A smooth RGB ``uint8`` photo (JPEG keeps it close)."""
    rows, cols = np.mgrid[:height, :width]
    return np.dstack([cols * 255 // width, rows * 255 // height, 255 - cols * 255 // width]).astype(np.uint8)
