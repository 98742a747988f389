"""Reading image files and pairing images with masks, shared by training sets and benchmarks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def read_rgb(path: str | Path) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB image read with OpenCV; ``ValueError`` if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


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
