"""Copy-paste: an object cut out of one photo and pasted onto another, as one more instance.

Not in RITM. With 648 training instances (COCO_MVal's training split) a network sees every
object against the one background it was photographed on; pasting objects onto other photos
(Ghiasi et al., "Simple Copy-Paste is a Strong Data Augmentation Method for Instance
Segmentation", CVPR 2021) multiplies the (object, background) pairs without new labels. The
course's weights name and measure it (``ritm_lite/weights/MODEL_CARD.md``).

One paste, on the photos as loaded (before the augmentation chain, which then resizes,
flips and crops the composite like any photo):

1. a *donor* object, one instance mask of another photo, is cut out to its bounding box;
2. it is resized so that its box's longer side is ``f * min(H, W)`` of the host photo,
   ``f ~ U(size_range)``, the factor clipped to ``[1 / max_scale, max_scale]`` (a small object
   is not blown up into a blurred giant) and then to what fits in the host;
3. it is placed at a uniform position where the whole box lies inside the host, and its
   pixels replace the host's: ``image = m * donor + (1 - m) * host`` with a hard mask ``m``;
4. the host's instances lose what the paste covers (``mask_k & ~m``, occlusion), the ignore
   region too (the pasted pixels are labelled), and ``m`` is appended as one more instance,
   so the sampler may choose it, or a host object, as the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ritm_lite.data.masks import object_pixels


@dataclass(frozen=True)
class CopyPaste:
    """How often and how large objects are pasted (see the module docstring)."""

    prob: float = 0.5  # chance that a training sample gets one pasted object
    size_range: tuple[float, float] = (0.2, 0.9)  # pasted box's longer side / host's shorter side
    max_scale: float = 2.0  # the donor is resized by at most this factor, up or down

    def __post_init__(self) -> None:
        low, high = self.size_range
        if not 0.0 <= self.prob <= 1.0:  # comparisons with NaN are False: NaN is refused too
            raise ValueError(f"copy-paste prob must be in [0, 1], got {self.prob}")
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"copy-paste size_range must satisfy 0 < low <= high <= 1, got {self.size_range}")
        if not 1.0 <= self.max_scale < float("inf"):
            raise ValueError(f"copy-paste max_scale must be a finite number >= 1, got {self.max_scale}")


def paste_object(
    image: np.ndarray,
    masks: np.ndarray,
    ignore: np.ndarray | None,
    donor_image: np.ndarray,
    donor_mask: np.ndarray,
    config: CopyPaste,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Paste the donor object onto the host photo (new arrays; the inputs are not modified).

    Args:
        image: host ``(H, W, 3)`` uint8 RGB.
        masks: host instances, ``(H, W, K)`` bool (``K`` may be 0); unsigned integer masks
            are read by the package's one mask rule (:func:`ritm_lite.data.masks.object_pixels`:
            0/1 label maps, else the upper half of the range, ``>= 128`` for uint8), each
            layer on its own.
        ignore: host ``(H, W)`` ignore region (bool, or integers by the same rule), or ``None``.
        donor_image: ``(h, w, 3)`` uint8 RGB of the donor photo.
        donor_mask: ``(h, w)``, the donor object (bool, or integers by the same rule; at
            least one pixel).
        config: sizes (``config.prob`` is the caller's to apply).
        rng: source of the size and the position.

    Returns:
        ``(image, masks, ignore)``: the composite ``(H, W, 3)`` uint8, ``(H, W, K + 1)`` bool
        with the pasted object last, and the ignore region minus the paste (or ``None``).
    """
    image, masks, donor_image = np.asarray(image), np.asarray(masks), np.asarray(donor_image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"host image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if image.size == 0:
        raise ValueError(f"host image must be a non-empty (H, W, 3) array, got {image.shape}")
    if donor_image.ndim != 3 or donor_image.shape[2] != 3 or donor_image.dtype != np.uint8:
        raise ValueError(f"donor image must be (h, w, 3) uint8, got {donor_image.shape} {donor_image.dtype}")
    if masks.shape[:2] != image.shape[:2] or masks.ndim != 3:
        raise ValueError(f"host masks must be (H, W, K) for a {image.shape[:2]} image, got {masks.shape}")
    masks = object_pixels(masks, "host masks")  # a 0/128 uint8 mask is an object, not "& 1 == 0"
    donor_mask = object_pixels(donor_mask, "donor mask")
    if ignore is not None:
        if np.shape(ignore) != image.shape[:2]:
            raise ValueError(f"host ignore region must be (H, W) = {image.shape[:2]}, got {np.shape(ignore)}")
        ignore = object_pixels(ignore, "host ignore region")
    if donor_mask.shape != donor_image.shape[:2]:
        raise ValueError(f"donor mask {donor_mask.shape} does not match its image {donor_image.shape[:2]}")
    rows, cols = np.nonzero(donor_mask)
    if rows.size == 0:
        raise ValueError("donor mask has no object pixel")
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    patch, patch_mask = donor_image[top:bottom, left:right], donor_mask[top:bottom, left:right]

    height, width = image.shape[:2]
    box = max(patch.shape[:2])
    # scale = f * min(H, W) / longer box side, f ~ U(size_range), within [1/max_scale, max_scale]
    scale = rng.uniform(*config.size_range) * min(height, width) / box
    scale = float(np.clip(scale, 1.0 / config.max_scale, config.max_scale))
    scale = min(scale, height / patch.shape[0], width / patch.shape[1])  # the whole box fits
    new_h = max(1, min(height, round(patch.shape[0] * scale)))
    new_w = max(1, min(width, round(patch.shape[1] * scale)))
    patch = cv2.resize(patch, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    patch_mask = cv2.resize(patch_mask.astype(np.uint8), (new_w, new_h), interpolation=cv2.INTER_NEAREST) > 0
    if not patch_mask.any():  # a sliver shrunk to nothing: keep its centre pixel
        patch_mask[new_h // 2, new_w // 2] = True

    y = int(rng.integers(height - new_h + 1))
    x = int(rng.integers(width - new_w + 1))
    pasted = np.zeros((height, width), bool)
    pasted[y:y + new_h, x:x + new_w] = patch_mask

    out = image.copy()
    region = out[y:y + new_h, x:x + new_w]
    region[patch_mask] = patch[patch_mask]  # image = m * donor + (1 - m) * host
    out_masks = np.concatenate([masks & ~pasted[:, :, None], pasted[:, :, None]], axis=2)
    out_ignore = ignore & ~pasted if ignore is not None else None
    return out, out_masks, out_ignore
