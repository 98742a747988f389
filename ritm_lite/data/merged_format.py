"""The on-disk format of the merged COCO+LVIS annotations, its atomic writer and its reader.

One folder per split, ``<root>/<split>/``, written by
:func:`ritm_lite.data.coco_lvis.merge_coco_lvis`::

    <root>/<split>/
        images.npy    structured array, one row per image:
                        rel_path (str)        path under the COCO image root, e.g.
                                              "train2017/000000000009.jpg"
                        height, width (int32) image size in pixels
                        first_object (int64)  row of its first object in objects.npy
                        num_objects (int32)   its objects are rows [first, first + num)
                        coco_id, lvis_id (int64)  the image id in each source file, -1 if absent
        objects.npy   structured array, one row per kept object:
                        area (int64)          mask area in pixels
                        source (uint8)        0 = COCO, 1 = LVIS
                        ann_id (int64)        annotation id in its source file
                        category_id (int64)   category id in its source file's vocabulary
                        bbox (float32 x 4)    box of the mask, (x, y, w, h) pixels
                        rle_start, rle_length (int64)  byte range of its RLE in rle.bin
        rle.bin       the compressed RLE ``counts`` strings of pycocotools, concatenated
        summary.json  counts (images, masks kept / replaced / removed / dropped), the merge
                      settings, the sources, the image root, byte sizes of the files above,
                      and ``"format": "ritm_lite.merged_coco_lvis"``, ``"version": 1``.

Masks stay run-length encoded (a COCO mask is a few hundred bytes) and are decoded by
pycocotools only when an image is loaded; ``rle.bin`` is memory-mapped, so opening a split
of a million objects reads two small arrays. Everything is plain NumPy (no pickle).

**Atomic.** The writer fills a hidden ``<root>/.<split>.partial-<pid>`` folder, writes
``summary.json`` last and only then renames the folder to ``<root>/<split>``. A run killed
half-way leaves at most that hidden folder (delete it), never a ``<split>`` folder that
looks complete; the reader refuses any folder without a matching ``summary.json``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ritm_lite.data.coco_lvis_files import decode_rles
from ritm_lite.data.files import read_rgb

FORMAT_NAME = "ritm_lite.merged_coco_lvis"
FORMAT_VERSION = 1
SOURCES = ("coco", "lvis")  # objects.npy "source" code -> name
FILES = ("images.npy", "objects.npy", "rle.bin")

OBJECT_DTYPE = np.dtype([
    ("area", np.int64), ("source", np.uint8), ("ann_id", np.int64), ("category_id", np.int64),
    ("bbox", np.float32, (4,)), ("rle_start", np.int64), ("rle_length", np.int64),
])


@dataclass
class InstanceMask:
    """One instance annotation: compressed RLE, area, (x, y, w, h) box and where it came from.

    The merge reads COCO and LVIS annotations into these and writes the kept ones to disk.
    """

    rle: dict[str, Any]
    area: int
    bbox: tuple[float, float, float, float]
    source: str  # "coco" or "lvis"
    ann_id: int
    category_id: int


@dataclass
class MergedImage:
    """One image of the merged split and its kept objects."""

    rel_path: str
    height: int
    width: int
    coco_id: int | None
    lvis_id: int | None
    objects: list[InstanceMask]


class SplitWriter:
    """Write one split atomically: ``add`` images, then ``commit(summary)``.

    Use as a context manager: leaving the block without ``commit`` (an exception, Ctrl-C)
    removes the temporary folder.
    """

    def __init__(self, root: str | Path, split: str, overwrite: bool = False):
        if not split or "/" in split or split.startswith("."):
            raise ValueError(f"invalid split name {split!r}")
        self.root = Path(root)
        self.final = self.root / split
        if self.final.exists() and not overwrite:
            raise FileExistsError(f"{self.final} exists; pass overwrite=True (--overwrite)")
        self.overwrite = overwrite
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp = self.root / f".{split}.partial-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()
        self._rle_file = open(self.tmp / "rle.bin", "wb")
        self._offset = 0
        self._images: list[tuple] = []
        self._objects: list[tuple] = []
        self.committed = False

    def __enter__(self) -> SplitWriter:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if not self.committed:
            self._rle_file.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def add(self, image: MergedImage) -> None:
        """Append one image and its objects."""
        first = len(self._objects)
        for obj in image.objects:
            counts = obj.rle["counts"]
            counts = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
            self._rle_file.write(counts)
            self._objects.append((obj.area, SOURCES.index(obj.source), obj.ann_id,
                                  obj.category_id, obj.bbox, self._offset, len(counts)))
            self._offset += len(counts)
        self._images.append((image.rel_path, image.height, image.width, first,
                             len(image.objects), _id(image.coco_id), _id(image.lvis_id)))

    def commit(self, summary: dict[str, Any]) -> Path:
        """Write the index and ``summary.json``, then rename into place; returns the folder."""
        self._rle_file.close()
        width = max([len(row[0]) for row in self._images], default=1)
        image_dtype = np.dtype([
            ("rel_path", f"U{width}"), ("height", np.int32), ("width", np.int32),
            ("first_object", np.int64), ("num_objects", np.int32),
            ("coco_id", np.int64), ("lvis_id", np.int64),
        ])
        np.save(self.tmp / "images.npy", np.array(self._images, dtype=image_dtype))
        np.save(self.tmp / "objects.npy", np.array(self._objects, dtype=OBJECT_DTYPE))
        summary = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **summary,
                   "num_images": len(self._images), "num_objects": len(self._objects),
                   "file_bytes": {name: (self.tmp / name).stat().st_size for name in FILES}}
        _write_summary(self.tmp / "summary.json", summary)
        old = None
        if self.final.exists():  # overwrite=True: move the old one aside, then swap
            old = self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
            os.replace(self.final, old)
        os.replace(self.tmp, self.final)
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final


def _id(value: int | None) -> int:
    return -1 if value is None else int(value)


def _write_summary(path: Path, summary: dict[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")


class MergedCocoLvis:
    """Read one split written by :func:`ritm_lite.data.coco_lvis.merge_coco_lvis`.

    Args:
        root: the ``--out`` folder of the merge.
        split: the split folder under it (``"train"``, ``"val"``).
        images_dir: the COCO image root (holding ``train2017/``, ``val2017/``, or the images
            themselves); defaults to the one recorded at merge time.

    Raises:
        FileNotFoundError: no such split folder.
        ValueError: an incomplete, corrupt or foreign folder.
    """

    def __init__(self, root: str | Path, split: str = "train",
                 images_dir: str | Path | None = None):
        self.folder = Path(root) / split
        if not self.folder.is_dir():
            raise FileNotFoundError(
                f"{self.folder} does not exist: run `python -m ritm_lite.data.coco_lvis "
                f"--coco ... --lvis ... --out {root} --split {split}` first")
        summary_path = self.folder / "summary.json"
        if not summary_path.is_file():
            raise ValueError(f"{self.folder} has no summary.json: an incomplete merge "
                             "(killed half-way?) or not a merged COCO+LVIS folder")
        try:
            self.summary: dict[str, Any] = json.loads(summary_path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{summary_path} is not valid JSON ({err})") from None
        if self.summary.get("format") != FORMAT_NAME:
            raise ValueError(f"{self.folder} is not a merged COCO+LVIS folder "
                             f"(format {self.summary.get('format')!r}, expected {FORMAT_NAME!r})")
        if self.summary.get("version") != FORMAT_VERSION:
            raise ValueError(f"{self.folder}: format version {self.summary.get('version')} "
                             f"is not {FORMAT_VERSION}; merge again with this version")
        for name, size in self.summary.get("file_bytes", {}).items():
            path = self.folder / name
            if not path.is_file() or path.stat().st_size != size:
                raise ValueError(f"{path} is missing or truncated: the folder is incomplete")
        self._images = np.load(self.folder / "images.npy", allow_pickle=False)
        self._objects = np.load(self.folder / "objects.npy", allow_pickle=False)
        if len(self._images) != self.summary["num_images"] or \
                len(self._objects) != self.summary["num_objects"]:
            raise ValueError(f"{self.folder}: index sizes differ from summary.json")
        size = self.folder.joinpath("rle.bin").stat().st_size
        self._rle = np.memmap(self.folder / "rle.bin", dtype=np.uint8, mode="r") if size else \
            np.zeros(0, np.uint8)
        recorded = self.summary.get("images_dir")
        self.images_dir = Path(images_dir) if images_dir is not None else (
            Path(recorded) if recorded else None)

    def __len__(self) -> int:
        """Number of images."""
        return len(self._images)

    def _rows(self, i: int) -> np.ndarray:
        if not -len(self) <= i < len(self):
            raise IndexError(f"image index {i} out of range for {len(self)} images")
        row = self._images[i]
        first = int(row["first_object"])
        return self._objects[first:first + int(row["num_objects"])]

    def image_size(self, i: int) -> tuple[int, int]:
        """``(H, W)`` of image ``i``."""
        row = self._images[i]
        return int(row["height"]), int(row["width"])

    def require_images_dir(self) -> Path:
        """The COCO image root; a RuntimeError saying how to record one if the merge had none."""
        if self.images_dir is not None:
            return self.images_dir
        sources = self.summary.get("sources") or {}
        coco = " ".join(map(shlex.quote, sources.get("coco") or [])) or "COCO_JSON ..."
        lvis = shlex.quote(sources["lvis"]) if sources.get("lvis") else "LVIS_JSON"
        options = "".join(  # the merge settings, as the command line of the merge spells them
            f" --{name.replace('_', '-')}" + ("" if isinstance(value, bool) else f" {value}")
            for name, value in (self.summary.get("config") or {}).items() if value is not False)
        raise RuntimeError(
            f"{self.folder} records no image folder (it was merged without --images), so its "
            "images cannot be found. Merge again with `python -m ritm_lite.data.coco_lvis "
            f"--coco {coco} --lvis {lvis} --out {shlex.quote(str(self.folder.parent))} "
            f"--split {shlex.quote(self.folder.name)}"
            f"{options} --images COCO_ROOT --overwrite` (COCO_ROOT: the folder holding "
            "train2017/ and val2017/), or pass images_dir= to MergedCocoLvis")

    def image_path(self, i: int) -> Path:
        """Path of image ``i``: ``images_dir/rel_path``, or ``images_dir/<file name>``."""
        root = self.require_images_dir()
        rel_path = str(self._images[i]["rel_path"])
        path = root / rel_path
        flat = root / Path(rel_path).name
        return path if path.exists() or not flat.exists() else flat

    def load_image(self, i: int) -> np.ndarray:
        """Image ``i`` as ``(H, W, 3)`` uint8 RGB."""
        path = self.image_path(i)
        image = read_rgb(path)  # the one reader (FileNotFoundError, or ValueError if corrupt)
        if image.shape[:2] != self.image_size(i):
            raise RuntimeError(f"{path} is {image.shape[:2]}, the annotations say "
                               f"{self.image_size(i)} (H, W): wrong image folder?")
        return image

    def rles(self, i: int) -> list[dict[str, Any]]:
        """The compressed RLEs (pycocotools dicts) of image ``i``'s objects."""
        size = list(self.image_size(i))
        return [{"size": size, "counts": bytes(self._rle[o["rle_start"]:
                                                         o["rle_start"] + o["rle_length"]])}
                for o in self._rows(i)]

    def load_masks(self, i: int) -> list[np.ndarray]:
        """Image ``i``'s object masks, one ``(H, W)`` bool array per kept object."""
        rles = self.rles(i)
        if not rles:
            return []
        stack = decode_rles(rles)  # (H, W, N) uint8
        return [stack[:, :, k].astype(bool) for k in range(stack.shape[2])]

    def object_areas(self, i: int) -> list[int]:
        """Mask areas in pixels of image ``i``'s objects."""
        return [int(a) for a in self._rows(i)["area"]]

    def object_sources(self, i: int) -> list[str]:
        """``"coco"`` or ``"lvis"`` for each of image ``i``'s objects."""
        return [SOURCES[int(s)] for s in self._rows(i)["source"]]

    def object_boxes(self, i: int) -> np.ndarray:
        """``(N, 4)`` float32 boxes ``(x, y, w, h)`` of image ``i``'s objects."""
        return np.array(self._rows(i)["bbox"], dtype=np.float32).reshape(-1, 4)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (DataLoader workers) by location, not by content: workers re-open the files."""
        return {"root": self.folder.parent, "split": self.folder.name,
                "images_dir": self.images_dir}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"], state["split"], state["images_dir"])

    def __repr__(self) -> str:
        return f"MergedCocoLvis({str(self.folder)!r}: {len(self)} images, " \
               f"{len(self._objects)} objects)"
