"""The training augmentation chain of RITM, on OpenCV and NumPy.

The original ITER-M configs build it with albumentations::

    UniformRandomResize(scale_range=(0.75, 1.40))      # both sides scaled by one factor
    HorizontalFlip()                                   # p = 0.5
    PadIfNeeded(min_height=320, min_width=480, border_mode=0)
    RandomCrop(320, 480)
    RandomBrightnessContrast(brightness_limit=(-0.25, 0.25), contrast_limit=(-0.15, 0.4), p=0.75)
    RGBShift(r_shift_limit=10, g_shift_limit=10, b_shift_limit=10, p=0.75)

and validates with ``PadIfNeeded`` + ``RandomCrop`` only. This module computes the same
operations with albumentations' formulas (quoted at each function) without depending on it:

* the image is resized bilinearly, masks with nearest neighbour (labels stay labels);
* padding is centred (``top = (320 - h) // 2``) with zeros for the image and the masks,
  so padded pixels are *background*, not ignored;
* the crop's top-left corner is ``int((H - 320) * u)`` with ``u ~ U[0, 1)``;
* brightness/contrast: ``out = clip(alpha * in + beta * 255, 0, 255)`` truncated to uint8,
  ``alpha = 1 + U(contrast_limit)``, ``beta = U(brightness_limit)`` (``brightness_by_max``);
* RGB shift: ``out_c = clip(in_c + s_c, 0, 255)`` truncated, ``s_c ~ U(-10, 10)`` per channel.

Masks travel as one ``(H, W, K)`` stack (one channel per object, any integer or bool dtype)
through exactly the same geometric steps as the image, so they stay aligned with it.
Randomness comes from an explicit :class:`numpy.random.Generator`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import cv2
import numpy as np

_CV_MAX_CHANNELS = 128  # OpenCV 5's CV_CN_MAX (512 in 4.x): resize larger stacks in chunks
_MASK_DTYPES = (np.bool_, np.uint8, np.uint16, np.int16, np.int32, np.float32)  # what cv2 resizes
MAX_SIDE = 8192  # crop sides and resized photos past this would not fit a training batch in memory
MAX_SCALE = 8.0  # a random-resize factor past this blows an ordinary photo up past MAX_SIDE


def _number(value: object) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _range(name: str, value: object, low: float, high: float) -> tuple[float, float]:
    """``value`` as a ``(lo, hi)`` pair of finite numbers with ``low <= lo <= hi <= high``."""
    if (not isinstance(value, (tuple, list)) or len(value) != 2 or not all(_number(v) for v in value)
            or not low <= value[0] <= value[1] <= high):
        raise ValueError(f"augmentation {name} must be a (low, high) pair of finite numbers with "
                         f"{low} <= low <= high <= {high}, got {value!r}")
    return float(value[0]), float(value[1])


@dataclass(frozen=True)
class AugmentationConfig:
    """Parameters of the chain; the defaults are the original ITER-M training chain."""

    crop_size: tuple[int, int] = (320, 480)  # (height, width) of every training crop
    scale_range: tuple[float, float] | None = (0.75, 1.40)  # uniform random resize; None: off
    flip_prob: float = 0.5  # probability of a horizontal flip
    brightness_limit: tuple[float, float] = (-0.25, 0.25)  # beta range, in units of 255
    contrast_limit: tuple[float, float] = (-0.15, 0.4)  # alpha - 1 range
    brightness_contrast_prob: float = 0.75  # probability of the brightness/contrast step
    rgb_shift_limit: float = 10.0  # per-channel shift drawn from U(-limit, limit)
    rgb_shift_prob: float = 0.75  # probability of the RGB shift step

    def __post_init__(self) -> None:
        size = self.crop_size
        if (not isinstance(size, (tuple, list)) or len(size) != 2
                or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in size)
                or not all(1 <= v <= MAX_SIDE for v in size)):
            raise ValueError(f"augmentation crop_size must be (height, width) integers from 1 to {MAX_SIDE}, got {size!r}")
        if self.scale_range is not None:
            low, _ = _range("scale_range", self.scale_range, 0.0, MAX_SCALE)
            if low <= 0:
                raise ValueError(f"augmentation scale_range must be above 0, got {self.scale_range!r}")
        for name in ("flip_prob", "brightness_contrast_prob", "rgb_shift_prob"):
            value = getattr(self, name)
            if not _number(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"augmentation {name} must be a probability in [0, 1], got {value!r}")
        _range("brightness_limit", self.brightness_limit, -1.0, 1.0)  # beta, in units of 255
        _range("contrast_limit", self.contrast_limit, -1.0, 10.0)  # alpha = 1 + c >= 0: no negative image
        if not _number(self.rgb_shift_limit) or not 0.0 <= self.rgb_shift_limit <= 255.0:
            raise ValueError(f"augmentation rgb_shift_limit must be in [0, 255], got {self.rgb_shift_limit!r}")

    @classmethod
    def train(cls, crop_size: tuple[int, int] = (320, 480)) -> AugmentationConfig:
        """The original training chain (the defaults)."""
        return cls(crop_size=crop_size)

    @classmethod
    def val(cls, crop_size: tuple[int, int] = (320, 480)) -> AugmentationConfig:
        """The original validation chain: pad if needed, then a random crop; nothing else."""
        return cls(
            crop_size=crop_size,
            scale_range=None,
            flip_prob=0.0,
            brightness_contrast_prob=0.0,
            rgb_shift_prob=0.0,
        )


def _check(image: np.ndarray, masks: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or not isinstance(masks, np.ndarray):
        raise ValueError(f"image and masks must be numpy arrays, got {type(image).__name__}, {type(masks).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if image.size == 0:
        raise ValueError(f"image must have at least one pixel, got {image.shape}")
    if masks.ndim != 3 or masks.shape[:2] != image.shape[:2]:
        raise ValueError(
            f"masks must be an (H, W, K) stack matching the image {image.shape[:2]}, got {masks.shape}"
        )
    if masks.dtype.type not in _MASK_DTYPES:
        raise ValueError(f"masks dtype {masks.dtype} is not one of bool/uint8/uint16/int16/int32/float32")


def _resize_stack(masks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of an ``(H, W, K)`` stack; keeps dtype and the K axis."""
    if masks.shape[2] == 0:
        return np.zeros((height, width, 0), masks.dtype)
    work = masks.view(np.uint8) if masks.dtype == np.bool_ else masks
    chunks = []
    for start in range(0, work.shape[2], _CV_MAX_CHANNELS):
        chunk = cv2.resize(
            np.ascontiguousarray(work[:, :, start : start + _CV_MAX_CHANNELS]),
            (width, height),
            interpolation=cv2.INTER_NEAREST,
        )
        chunks.append(chunk.reshape(height, width, -1))
    out = np.concatenate(chunks, axis=2) if len(chunks) > 1 else chunks[0]
    return out.view(np.bool_) if masks.dtype == np.bool_ else out


def resize(image: np.ndarray, masks: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Scale both sides by ``scale``: new size ``round(H * scale) x round(W * scale)``.

    The image is interpolated bilinearly, the masks with nearest neighbour.

    Raises:
        ValueError: ``scale`` is not a finite positive number, or the result would have a side
            below 1 or above :data:`MAX_SIDE` pixels.
    """
    _check(image, masks)
    if not _number(scale) or scale <= 0:
        raise ValueError(f"resize scale must be a finite number above 0, got {scale!r}")
    height = round(image.shape[0] * scale)
    width = round(image.shape[1] * scale)
    if min(height, width) < 1 or max(height, width) > MAX_SIDE:
        raise ValueError(f"resizing a {image.shape[:2]} image by {scale} gives {height}x{width}: "
                         f"sides must stay within 1..{MAX_SIDE}")
    if (height, width) == image.shape[:2]:
        return image, masks
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    return image, _resize_stack(masks, height, width)


def hflip(image: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror left-right: column ``x`` goes to ``W - 1 - x``."""
    _check(image, masks)
    return cv2.flip(image, 1), np.ascontiguousarray(masks[:, ::-1])


def pad_if_needed(
    image: np.ndarray, masks: np.ndarray, min_height: int, min_width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pad with zeros to at least ``min_height x min_width``, centred (extra pixel at the end)."""
    _check(image, masks)
    if not all(isinstance(v, numbers.Integral) and 0 <= v <= MAX_SIDE for v in (min_height, min_width)):
        raise ValueError(f"pad sizes must be integers in 0..{MAX_SIDE}, got {min_height!r}, {min_width!r}")
    height, width = image.shape[:2]
    pad_h, pad_w = max(0, min_height - height), max(0, min_width - width)
    if pad_h == 0 and pad_w == 0:
        return image, masks
    top, left = pad_h // 2, pad_w // 2
    bottom, right = pad_h - top, pad_w - left
    image = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    masks = np.pad(masks, ((top, bottom), (left, right), (0, 0)), constant_values=0)
    return image, masks


def crop(
    image: np.ndarray, masks: np.ndarray, top: int, left: int, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """The window ``[top, top + height) x [left, left + width)``; it must lie inside the image."""
    _check(image, masks)
    if not all(isinstance(v, numbers.Integral) for v in (top, left, height, width)) or height < 1 or width < 1:
        raise ValueError(f"crop takes integer top, left and a size of at least 1x1, got {top!r}, {left!r}, "
                         f"{height!r}x{width!r}")
    if top < 0 or left < 0 or top + height > image.shape[0] or left + width > image.shape[1]:
        raise ValueError(
            f"crop ({top}, {left}) + {height}x{width} does not fit the image {image.shape[:2]}"
        )
    window = (slice(top, top + height), slice(left, left + width))
    return np.ascontiguousarray(image[window]), np.ascontiguousarray(masks[window])


def brightness_contrast(image: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """``clip(alpha * image + beta * 255, 0, 255)``, truncated to uint8 (albumentations' LUT)."""
    if not (_number(alpha) and _number(beta)):
        raise ValueError(f"brightness/contrast takes finite alpha and beta, got {alpha!r}, {beta!r}")
    lut = np.arange(256, dtype=np.float32)
    if alpha != 1:
        lut *= alpha
    if beta != 0:
        lut += beta * 255
    return cv2.LUT(image, np.clip(lut, 0, 255).astype(np.uint8))


def rgb_shift(image: np.ndarray, shifts: tuple[float, float, float]) -> np.ndarray:
    """Add ``shifts[c]`` to channel ``c`` (R, G, B), clip to 0..255 and truncate to uint8."""
    if len(shifts) != 3 or not all(_number(v) for v in shifts):
        raise ValueError(f"rgb_shift takes three finite shifts (R, G, B), got {shifts!r}")
    lut = np.arange(256, dtype=np.float32)[:, None] + np.asarray(shifts, dtype=np.float32)[None, :]
    # a (256, 1, 3) table: OpenCV looks channel c up in column c
    return cv2.LUT(image, np.clip(lut, 0, 255).astype(np.uint8)[:, None, :])


def augment(
    image: np.ndarray,
    masks: np.ndarray,
    config: AugmentationConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the whole chain once.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        masks: ``(H, W, K)`` stack of per-object masks (bool or integer labels; K may be 0).
        config: the chain's parameters (:meth:`AugmentationConfig.train` / ``.val``).
        rng: source of all randomness.

    Returns:
        ``(image, masks)``: ``(h, w, 3)`` uint8 and ``(h, w, K)`` of the input mask dtype,
        with ``(h, w) = config.crop_size``.

    Raises:
        ValueError: an image or mask stack of the wrong shape or dtype.
        TypeError: ``config`` or ``rng`` of the wrong type.
    """
    if not isinstance(config, AugmentationConfig):
        raise TypeError(f"config must be an AugmentationConfig, got {type(config).__name__}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    _check(image, masks)
    if config.scale_range is not None:
        image, masks = resize(image, masks, rng.uniform(*config.scale_range))
    if rng.random() < config.flip_prob:
        image, masks = hflip(image, masks)
    crop_h, crop_w = config.crop_size
    image, masks = pad_if_needed(image, masks, crop_h, crop_w)
    top = int((image.shape[0] - crop_h) * rng.random())
    left = int((image.shape[1] - crop_w) * rng.random())
    image, masks = crop(image, masks, top, left, crop_h, crop_w)
    if rng.random() < config.brightness_contrast_prob:
        alpha = 1.0 + rng.uniform(*config.contrast_limit)
        beta = rng.uniform(*config.brightness_limit)
        image = brightness_contrast(image, alpha, beta)
    if rng.random() < config.rgb_shift_prob:
        limit = config.rgb_shift_limit
        image = rgb_shift(image, tuple(rng.uniform(-limit, limit, size=3)))
    return image, masks
