"""Download helpers for the datasets RITM trains and evaluates on (they never go into git).

``REGISTRY`` lists each dataset: where its publisher (or the RITM / f-BRS authors' mirror,
as the RITM README links them) serves it, its size, its MD5 where one is published, how it
unpacks and the layout it gives under ``--root`` (``data/`` by default). Usage::

    python -m ritm_lite.data.download --list
    python -m ritm_lite.data.download grabcut berkeley davis --root data/
    python -m ritm_lite.data.download coco2017-val lvis-v1 --root data/

Downloads stream to ``<root>/.downloads/<file>.part`` with a progress bar and are renamed
only once complete (and, where an MD5 is known, verified), so a broken connection never
leaves a file that looks whole: run the same command again and it resumes (HTTP Range).
Archives are then unpacked (zip, tar, tar.gz; entries escaping the target are refused) and
deleted unless ``--keep-archives``. ``--mirror URL`` fetches ``URL/<file name>`` first, for a
local copy of the archives.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

FBRS = "https://github.com/saic-vul/fbrs_interactive_segmentation/releases/download/v1.0"
LVIS = "dl.fbaipublicfiles.com/LVIS"


class DownloadError(RuntimeError):
    """A download failed (network, HTTP error, incomplete file)."""


class ChecksumError(DownloadError):
    """A downloaded file's MD5 differs from the published one."""


@dataclass(frozen=True)
class Archive:
    """One file to fetch and unpack."""

    filename: str
    urls: tuple[str, ...]  # tried in order (official first, then mirrors)
    size: str              # as published, for the user's disk planning
    md5: str | None = None  # None: no checksum is published
    extract_to: str = ""    # folder under the dataset root to unpack into ("" = the root)


@dataclass(frozen=True)
class DatasetSource:
    """A dataset: its archives, where it comes from and what it looks like unpacked."""

    name: str
    description: str
    homepage: str
    licence: str
    archives: tuple[Archive, ...]
    expected: tuple[str, ...]  # paths under --root that exist once it is unpacked
    layout: str                # the layout, for the documentation


_COCO_LICENCE = ("annotations CC BY 4.0; images under their Flickr licences "
                 "(cocodataset.org/#termsofuse)")
_COCO_ANN = Archive("annotations_trainval2017.zip",
                    ("http://images.cocodataset.org/annotations/annotations_trainval2017.zip",),
                    "241 MB", "f4bbac642086de4f52a3fdda2de5fa2c", "coco2017")
_COCO_VAL = Archive("val2017.zip", ("http://images.cocodataset.org/zips/val2017.zip",),
                    "778 MB", "442b8da7639aecaf257c1dceb8ba8c80", "coco2017")
_COCO_TRAIN = Archive("train2017.zip", ("http://images.cocodataset.org/zips/train2017.zip",),
                      "18 GB", "cced6f7f71b7629ddf16f17bbcfab6b2", "coco2017")


def _lvis(split: str, size: str) -> Archive:
    name = f"lvis_v1_{split}.json.zip"
    urls = (f"https://{LVIS}/{name}", f"https://s3-us-west-2.amazonaws.com/{LVIS}/{name}")
    return Archive(name, urls, size, None, "lvis")


def _fbrs(name: str, size: str) -> Archive:
    return Archive(f"{name}.zip", (f"{FBRS}/{name}.zip",), size, None, name)


REGISTRY: dict[str, DatasetSource] = {s.name: s for s in (
    DatasetSource("coco2017", "COCO 2017 train + val images and instance annotations "
                  "(118k + 5k images)", "https://cocodataset.org/#download", _COCO_LICENCE,
                  (_COCO_ANN, _COCO_VAL, _COCO_TRAIN),
                  ("coco2017/annotations/instances_train2017.json", "coco2017/train2017",
                   "coco2017/val2017"),
                  "coco2017/{annotations/instances_{train,val}2017.json, train2017/*.jpg, "
                  "val2017/*.jpg}"),
    DatasetSource("coco2017-val", "COCO 2017 val images + all annotations (a 1 GB start)",
                  "https://cocodataset.org/#download", _COCO_LICENCE, (_COCO_ANN, _COCO_VAL),
                  ("coco2017/annotations/instances_val2017.json", "coco2017/val2017"),
                  "coco2017/{annotations/, val2017/*.jpg}"),
    DatasetSource("lvis-v1", "LVIS v1.0 train + val annotations (images are COCO 2017's)",
                  "https://www.lvisdataset.org/dataset",
                  "annotations CC BY 4.0; images are COCO's (Flickr licences)",
                  (_lvis("train", "~350 MB"), _lvis("val", "~64 MB")),
                  ("lvis/lvis_v1_train.json", "lvis/lvis_v1_val.json"),
                  "lvis/lvis_v1_{train,val}.json"),
    DatasetSource("grabcut", "GrabCut: 50 images, one object each (test)",
                  "https://github.com/saic-vul/fbrs_interactive_segmentation",
                  "research benchmark (Rother et al. 2004); check the publisher's terms",
                  (_fbrs("GrabCut", "11 MB"),), ("GrabCut/data_GT", "GrabCut/boundary_GT"),
                  "GrabCut/{data_GT/*.jpg|bmp, boundary_GT/*.bmp}"),
    DatasetSource("berkeley", "Berkeley: 96 images, 100 instances (test)",
                  "https://github.com/saic-vul/fbrs_interactive_segmentation",
                  "from the Berkeley Segmentation Dataset; research use, check its terms",
                  (_fbrs("Berkeley", "7 MB"),), ("Berkeley/images", "Berkeley/masks"),
                  "Berkeley/{images/*.jpg, masks/*.png}"),
    DatasetSource("davis", "DAVIS: 345 frames, one object each (test)",
                  "https://github.com/saic-vul/fbrs_interactive_segmentation",
                  "from DAVIS 2016 (Perazzi et al.); check davischallenge.org terms",
                  (_fbrs("DAVIS", "43 MB"),), ("DAVIS/img", "DAVIS/gt"),
                  "DAVIS/{img/*.jpg, gt/*.png}"),
    DatasetSource("coco-mval", "COCO_MVal: 800 COCO val2017 instances (test)",
                  "https://github.com/saic-vul/fbrs_interactive_segmentation", _COCO_LICENCE,
                  (_fbrs("COCO_MVal", "127 MB"),), ("COCO_MVal/img", "COCO_MVal/gt"),
                  "COCO_MVal/{img/*.jpg, gt/*.png}"),
    DatasetSource("sbd", "SBD: 8498 train / 2857 val images with instance masks",
                  "http://home.bharathh.info/pubs/codes/SBD/download.html",
                  "research use (Hariharan et al. 2011); images from PASCAL VOC (Flickr)",
                  (Archive("benchmark.tgz", ("https://www2.eecs.berkeley.edu/Research/Projects/"
                                             "CS/vision/grouping/semantic_contours/benchmark.tgz",),
                           "1.4 GB", "82b4d87ceb2ed10f6038a1cba92111cb", "SBD"),),
                  ("SBD/benchmark_RELEASE/dataset/img", "SBD/benchmark_RELEASE/dataset/inst"),
                  "SBD/benchmark_RELEASE/dataset/{img/*.jpg, inst/*.mat, train.txt, val.txt}"),
    DatasetSource("pascal-voc", "PASCAL VOC 2012 trainval (1449 val images, 3417 instances)",
                  "http://host.robots.ox.ac.uk/pascal/VOC/",
                  "images under Flickr terms; annotations: see the VOC site",
                  (Archive("VOCtrainval_11-May-2012.tar",
                           ("http://host.robots.ox.ac.uk/pascal/VOC/voc2012/"
                            "VOCtrainval_11-May-2012.tar",),
                           "1.9 GB", "6cd6e144f989b92b3379bac3b3de84fd", "PascalVOC"),),
                  ("PascalVOC/VOCdevkit/VOC2012/SegmentationObject",),
                  "PascalVOC/VOCdevkit/VOC2012/{JPEGImages, SegmentationObject, "
                  "ImageSets/Segmentation}"),
)}


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """MD5 hex digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def download_file(urls: Sequence[str], dest: str | Path, md5: str | None = None,
                  timeout: float = 60.0, progress: bool = True) -> Path:
    """Download ``dest`` from the first URL that works; resume a ``dest.part`` left before.

    The file is streamed to ``<dest>.part`` and renamed to ``dest`` only when complete and,
    if ``md5`` is given, verified. An existing ``dest`` (with the right MD5) is kept.

    Raises:
        ChecksumError: the complete file has another MD5 (the ``.part`` is deleted).
        DownloadError: every URL failed (network, HTTP, cut-off stream); a partial
            ``.part`` is kept so that the next call resumes.
    """
    dest = Path(dest)
    if dest.exists() and (md5 is None or md5sum(dest) == md5):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    errors = []
    for url in urls:
        try:
            _fetch(url, part, timeout, progress)
        except (urllib.error.URLError, http.client.HTTPException, OSError, DownloadError) as err:
            errors.append(f"{url}: {err}")
            continue
        if md5 is not None and (actual := md5sum(part)) != md5:
            part.unlink()
            raise ChecksumError(f"{dest.name}: MD5 {actual} differs from the published {md5} "
                                "(corrupt download or changed file); it was deleted")
        os.replace(part, dest)
        return dest
    kept = (f"; {part.stat().st_size} bytes kept in {part}, run again to resume"
            if part.exists() else "")
    raise DownloadError(f"could not download {dest.name}:\n  " + "\n  ".join(errors) + kept)


def _fetch(url: str, part: Path, timeout: float, progress: bool) -> None:
    """Stream ``url`` into ``part``, continuing from its current size when the server allows."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "ritm_lite-download"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # nothing left to fetch: the .part is whole
            return
        raise
    with response:
        if offset and response.status != 206:
            offset = 0  # the server ignored Range: start again
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        with open(part, "ab" if offset else "wb") as f, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=part.name[:-5], disable=not progress) as bar:
            while block := response.read(1 << 16):
                f.write(block)
                bar.update(len(block))
    if total is not None and part.stat().st_size != total:
        raise DownloadError(f"connection closed after {part.stat().st_size} of {total} bytes")


def extract(archive: str | Path, target: str | Path) -> list[Path]:
    """Unpack a zip / tar / tar.gz into ``target``; returns its top-level entries there.

    Unpacks into a hidden folder first, then moves each top-level entry into ``target``
    (replacing an older copy), so an interrupted unpack leaves no half-filled folder. An
    archive whose only top-level entry is a folder named like ``target`` (``GrabCut.zip``
    holding ``GrabCut/``) is unwrapped, so both packings give the same layout.

    Raises:
        ValueError: an unknown archive type, or an entry that would land outside ``target``.
    """
    archive, target = Path(archive), Path(target)
    staging = target / f".{archive.name}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _check_members(zf.namelist(), archive)
                zf.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                _check_members([m.name for m in tf.getmembers()], archive)
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.10.12
                    tf.extractall(staging, filter="data")
                else:  # pragma: no cover - older Pythons; members were checked above
                    tf.extractall(staging)
        else:
            raise ValueError(f"{archive} is neither a zip nor a tar archive")
        content = staging
        entries = list(staging.iterdir())
        if len(entries) == 1 and entries[0].is_dir() and entries[0].name == target.name:
            content = entries[0]
        moved = []
        for entry in sorted(content.iterdir()):
            final = target / entry.name
            if final.is_dir():
                shutil.rmtree(final)
            elif final.exists():
                final.unlink()
            os.replace(entry, final)
            moved.append(final)
        return moved
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_members(names: list[str], archive: Path) -> None:
    for name in names:
        parts = Path(name).parts
        if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise ValueError(f"{archive}: entry {name!r} would be written outside the target")


def fetch(source: DatasetSource | str, root: str | Path = "data", checksum: bool = True,
          keep_archives: bool = False, mirror: str | None = None, force: bool = False,
          progress: bool = True) -> Path:
    """Download and unpack one dataset under ``root``; returns ``root``.

    Skips a dataset whose ``expected`` paths all exist (unless ``force``).

    Raises:
        KeyError: an unknown dataset name.
        DownloadError / ChecksumError: see :func:`download_file`.
        RuntimeError: the archive unpacked, but not into the expected layout.
    """
    if isinstance(source, str):
        if source not in REGISTRY:
            raise KeyError(f"unknown dataset {source!r}; known: {', '.join(REGISTRY)}")
        source = REGISTRY[source]
    root = Path(root)
    if not force and all((root / p).exists() for p in source.expected):
        print(f"{source.name}: already in {root}, skipping (--force to fetch again)")
        return root
    for archive in source.archives:
        urls = ((mirror.rstrip("/") + "/" + archive.filename,) if mirror else ()) + archive.urls
        path = download_file(urls, root / ".downloads" / archive.filename,
                             archive.md5 if checksum else None, progress=progress)
        extract(path, root / archive.extract_to)
        if not keep_archives:
            path.unlink()
    missing = [p for p in source.expected if not (root / p).exists()]
    if missing:
        raise RuntimeError(f"{source.name}: unpacked, but {missing} are missing under {root}; "
                           f"expected layout: {source.layout}")
    return root


def format_registry() -> str:
    """The registry as a text table."""
    rows = [f"{'name':<13}{'size':<26}description"]
    for s in REGISTRY.values():
        size = " + ".join(a.size for a in s.archives)
        rows.append(f"{s.name:<13}{size:<26}{s.description}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ritm_lite.data.download NAME [NAME ...] --root data/``."""
    parser = argparse.ArgumentParser(prog="python -m ritm_lite.data.download",
                                     description="Download RITM's datasets (see data/README.md).")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(REGISTRY)}")
    parser.add_argument("--root", default="data", help="where datasets go (default: data)")
    parser.add_argument("--list", action="store_true", help="list the datasets and exit")
    parser.add_argument("--no-checksum", action="store_true", help="skip the MD5 check")
    parser.add_argument("--keep-archives", action="store_true",
                        help="keep the archives after unpacking")
    parser.add_argument("--mirror", default=None, help="try MIRROR/<file name> first")
    parser.add_argument("--force", action="store_true", help="fetch even if already present")
    args = parser.parse_args(argv)
    if args.list or not args.names:
        print(format_registry())
        return 0
    unknown = [n for n in args.names if n not in REGISTRY]
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; known: {', '.join(REGISTRY)}")
    try:
        for name in args.names:
            fetch(name, args.root, checksum=not args.no_checksum, keep_archives=args.keep_archives,
                  mirror=args.mirror, force=args.force)
            print(f"{name}: ready under {args.root} ({REGISTRY[name].layout})")
    except (DownloadError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
