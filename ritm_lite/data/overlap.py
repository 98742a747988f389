"""Is a test photo among the training photos? A perceptual-hash check before training.

Training photos gathered from the web (DUTS-TR comes from ImageNet's DET sets) can contain a
benchmark's photos, resized or recompressed; a model trained on them would be scored on what it
has seen. This module compares every benchmark photo with every training photo by a **difference
hash** (dHash, Krawetz 2013): the photo in grey, shrunk to ``(size + 1) x size`` pixels, one bit
per horizontally adjacent pair,

    bit[r, c] = grey[r, c + 1] > grey[r, c]        (r, c < size: 256 bits for size 16)

which survives resizing, recompression and small colour changes. (The common 64-bit hash is too
coarse here: against DUTS-TR's 10,553 photos it paired a full moon with a ball in the dark.) Two photos whose hashes differ
in at most ``max_distance`` bits (Hamming distance) are reported, the benchmark photo also
mirrored left-right. Usage::

    python -m ritm_lite.data.overlap --train data/DUTS-TR/DUTS-TR-Image --against data/GrabCut data/COCO_MVal

Exit status 0: no benchmark photo is among the training photos; 1: the matches are listed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from ritm_lite.data.files import IMAGE_SUFFIXES, read_rgb
from ritm_lite.data.locate import BENCHMARK_FILES, photos_folder

def dhash(image: np.ndarray, size: int = 16) -> np.ndarray:
    """The ``size * size``-bit difference hash of an ``(H, W, 3)`` uint8 RGB (or ``(H, W)`` grey)
    image, as a ``(size * size,)`` bool array."""
    if image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"need an (H, W) or (H, W, 3) image, got shape {image.shape}")
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey.astype(np.float32), (size + 1, size), interpolation=cv2.INTER_AREA)
    return (small[:, 1:] > small[:, :-1]).ravel()  # bit[r, c] = grey[r, c+1] > grey[r, c]


def image_files(folder: str | Path) -> list[Path]:
    """A benchmark's photos (its layout in :data:`ritm_lite.data.locate.BENCHMARK_FILES`, by the
    folder's name), else every image file under ``folder``, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    inner = folder
    if folder.name in BENCHMARK_FILES:
        inner = photos_folder(folder.name, folder)
        if inner is None:
            raise FileNotFoundError(f"{folder} looks like {folder.name} but has none of "
                                    f"{', '.join(BENCHMARK_FILES[folder.name].images)}/")
    files = sorted(p for p in inner.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no image files under {inner}")
    return files


def hashes(paths: Sequence[Path], mirrored: bool = False, progress: bool = True, desc: str = "hashing") -> np.ndarray:
    """``(len(paths), 256)`` bool dHashes of the image files (``mirrored``: of their left-right mirror)."""
    rows = []
    for path in tqdm(paths, desc=desc, disable=not progress, unit="photo"):
        image = read_rgb(path)
        rows.append(dhash(image[:, ::-1] if mirrored else image))
    return np.stack(rows) if rows else np.zeros((0, 256), bool)


@dataclass(frozen=True)
class Match:
    """A benchmark photo found among the training photos."""

    test: Path
    train: Path
    distance: int  # differing hash bits
    mirrored: bool  # found as its left-right mirror


def find_overlaps(train_paths: Sequence[Path], test_paths: Sequence[Path], max_distance: int = 24,
                  progress: bool = True, train_hashes: np.ndarray | None = None) -> list[Match]:
    """Every test photo whose dHash (or its mirror's) is within ``max_distance`` bits of a
    training photo's, with its closest training photo (``train_hashes``: the training photos'
    :func:`hashes`, when already computed)."""
    if not 0 <= max_distance < 128:
        raise ValueError(f"max_distance must be in [0, 127] bits, got {max_distance}")
    if train_hashes is None:
        train_hashes = hashes(train_paths, progress=progress, desc="training photos")
    if len(train_hashes) != len(train_paths):
        raise ValueError(f"{len(train_hashes)} hashes for {len(train_paths)} training photos")
    matches = []
    for mirrored in (False, True):
        test = hashes(test_paths, mirrored, progress, "benchmark photos" + (" (mirrored)" if mirrored else ""))
        for i, row in enumerate(test):
            distance = np.count_nonzero(train_hashes != row, axis=1)  # Hamming distance to every training photo
            j = int(distance.argmin()) if len(distance) else -1
            if j >= 0 and distance[j] <= max_distance:
                matches.append(Match(Path(test_paths[i]), Path(train_paths[j]), int(distance[j]), mirrored))
    return matches


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ritm_lite.data.overlap", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, nargs="+", required=True, help="folders of training photos")
    parser.add_argument("--against", type=Path, nargs="+", required=True,
                        help="benchmark folders (GrabCut, Berkeley, DAVIS, COCO_MVal, SBD, PascalVOC) or any photo folder")
    parser.add_argument("--max-distance", type=int, default=24,
                        help="most differing bits of the 256-bit hashes that count as the same photo")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        train = [p for folder in args.train for p in image_files(folder)]
        train_hashes = hashes(train, progress=not args.no_progress, desc="training photos")
        found = 0
        for folder in args.against:
            test = image_files(folder)
            matches = find_overlaps(train, test, args.max_distance, not args.no_progress, train_hashes)
            print(f"{folder}: {len(test)} photos against {len(train)} training photos: "
                  f"{len(matches)} within {args.max_distance} bits")
            for m in matches:
                print(f"  {m.test} ~ {m.train} ({m.distance} bits{', mirrored' if m.mirrored else ''})")
            found += len(matches)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
