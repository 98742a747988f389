"""Download helpers for the datasets RITM trains and evaluates on (they never go into git).

``REGISTRY`` (``sources.py``) lists each dataset: where its publisher (or the RITM / f-BRS authors' mirror,
as the RITM README links them) serves it, its size, its MD5 where one is published, how it
unpacks and the layout it gives under ``--root`` (``data/`` by default). Usage::

    python -m ritm_lite.data.download --list
    python -m ritm_lite.data.download grabcut berkeley davis --root data/
    python -m ritm_lite.data.download coco2017-val lvis-v1 --root data/

The transfer itself is PyTorch's ``torch.hub.download_url_to_file`` (progress bar, a
temporary file renamed into place only when the transfer ends), run with a socket timeout
so that a stalled server is an error, not a hang. It does not resume, so the one many-GB
file (COCO's 18 GB ``train2017.zip``, ``Archive.resumable``) streams to
``<root>/.downloads/<file>.part`` instead and resumes from it (HTTP Range) when the same
command is run again.

**Nothing is lost, nothing looks whole that is not**: a downloaded file is checked (its MD5
where one is published, and every archive is read through: zip CRCs, the whole tar stream,
so a cut-off transfer of a file without an MD5 is caught too) before it replaces anything;
a failed or corrupt download deletes only what it downloaded, never the file or the
unpacked folder it would have replaced. Archives are then unpacked (zip, tar, tar.gz; entries
escaping the target are refused), the old copy of each unpacked folder moved aside until the
new one is in place, and deleted unless ``--keep-archives``. ``--mirror URL`` fetches
``URL/<file name>`` first, for a local copy of the archives.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import math
import os
import shutil
import socket
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from ritm_lite.model.safe_load import archive_problem as zip_problem

from ritm_lite.data.sources import REGISTRY, Archive, DatasetSource

__all__ = ["REGISTRY", "Archive", "ChecksumError", "DatasetSource", "DownloadError", "archive_problem",
           "download_file", "extract", "fetch", "fetch_plan", "main", "md5sum"]


class DownloadError(RuntimeError):
    """A download failed (network, HTTP error, incomplete file)."""


class ChecksumError(DownloadError):
    """A downloaded file's MD5 differs from the published one."""


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """MD5 hex digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def archive_problem(path: str | Path, name: str | None = None) -> str | None:
    """Why the file at ``path`` is not a whole archive, or ``None`` when it reads through.

    A zip (by name or content) must have its central directory and every member must pass its
    CRC; a tar (plain or compressed) must be read to its end without error. Any other file
    gives ``None`` (not an archive: nothing to check here). ``name``: the file name that says
    which kind it is (default: ``path``'s own; a download in progress is ``<name>.part``).
    """
    path = Path(path)
    name = (name or path.name).lower()
    try:
        if name.endswith(".zip") or zipfile.is_zipfile(path):  # a cut-off zip has no directory
            problem = zip_problem(path)  # the one zip check, shared with checkpoint loading
            return None if problem is None else f"not a whole archive: {problem}"
        if name.endswith((".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz")) or tarfile.is_tarfile(path):
            with tarfile.open(path) as tf:
                for member in tf:
                    if member.isfile():
                        with tf.extractfile(member) as data:
                            while data.read(1 << 20):  # a cut-off stream fails while reading
                                pass
            return None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error) as err:
        return f"not a whole archive ({type(err).__name__}: {err})"
    return None


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Give sockets opened without a timeout (``torch.hub``'s ``urlopen``) this one."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def download_file(urls: Sequence[str], dest: str | Path, md5: str | None = None,
                  timeout: float = 60.0, progress: bool = True, resumable: bool = False,
                  force: bool = False) -> Path:
    """Download ``dest`` from the first URL that works.

    The transfer goes to ``<dest>.part`` (``torch.hub.download_url_to_file``; with
    ``resumable``, a stream that a later call continues with an HTTP Range request) and
    replaces ``dest`` only once complete and checked: its MD5 when ``md5`` is given, and
    :func:`archive_problem` for an archive. An existing ``dest`` that passes the same checks
    is kept without a request (unless ``force``); one that fails them stays until a good copy
    replaces it.

    Raises:
        ValueError: no URL, or a timeout that is not a positive number of seconds.
        ChecksumError: the complete file has another MD5 (the download is deleted).
        DownloadError: every URL failed (network, HTTP, cut-off or corrupt transfer); with
            ``resumable`` a partial ``.part`` is kept so that the next call resumes.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
        raise ValueError(f"need at least one http(s) URL, got {urls!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    dest = Path(dest)
    if not force and dest.is_file() and (md5 is None or md5sum(dest) == md5) and archive_problem(dest) is None:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part(dest)
    errors = []
    for url in urls:
        try:
            if resumable:
                _resume(url, part, timeout, progress)
            else:
                import torch.hub

                with _socket_timeout(timeout):
                    torch.hub.download_url_to_file(url, str(part), progress=progress)
        except (urllib.error.URLError, http.client.HTTPException, OSError, DownloadError) as err:
            errors.append(f"{url}: {err}")
            continue
        if md5 is not None and (actual := md5sum(part)) != md5:
            part.unlink()
            raise ChecksumError(f"{dest.name}: MD5 {actual} differs from the published {md5} "
                                "(corrupt download or changed file); the download was deleted"
                                + (f", {dest} is kept" if dest.exists() else ""))
        if (problem := archive_problem(part, dest.name)) is not None:
            part.unlink()  # a cut-off transfer of a file without an MD5: start again next time
            errors.append(f"{url}: the download is {problem}; deleted")
            continue
        os.replace(part, dest)  # the one step that replaces dest, with a checked file
        return dest
    kept = (f"; {part.stat().st_size} bytes kept in {part}, run again to resume"
            if resumable and part.exists() else "")
    raise DownloadError(f"could not download {dest.name}:\n  " + "\n  ".join(errors) + kept)


def _resume(url: str, part: Path, timeout: float, progress: bool) -> None:
    """Stream ``url`` into ``part``, continuing from its current size when the server allows
    (for many-GB files only: ``torch.hub`` does the rest)."""
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
            old = target / f".{entry.name}.replaced"
            shutil.rmtree(old, ignore_errors=True)
            if final.exists():
                os.replace(final, old)  # the old copy stays until the new one is in place
            try:
                os.replace(entry, final)
            except OSError:
                if old.exists():
                    os.replace(old, final)
                raise
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
            moved.append(final)
        return moved
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_members(names: list[str], archive: Path) -> None:
    for name in names:
        parts = Path(name).parts
        if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise ValueError(f"{archive}: entry {name!r} would be written outside the target")


def _part(dest: Path) -> Path:
    """Where a download of ``dest`` goes until it is complete and checked."""
    return dest.with_name(dest.name + ".part")


def _archive_path(root: Path, archive: Archive) -> Path:
    """Where :func:`fetch` keeps ``archive`` under ``root`` (``<root>/.downloads/<file>``)."""
    return root / ".downloads" / archive.filename


def _registered(source: DatasetSource | str) -> DatasetSource:
    if isinstance(source, DatasetSource):
        return source
    if source not in REGISTRY:
        raise KeyError(f"unknown dataset {source!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[source]


def _fetched(source: DatasetSource, root: Path) -> bool:
    """Whether every path ``source`` unpacks to is already under ``root``."""
    return all((root / p).exists() for p in source.expected)


def fetch(source: DatasetSource | str, root: str | Path = "data", checksum: bool = True,
          keep_archives: bool = False, mirror: str | None = None, force: bool = False,
          progress: bool = True) -> Path:
    """Download and unpack one dataset under ``root``; returns ``root``.

    Skips a dataset whose ``expected`` paths all exist (unless ``force``, which also
    downloads its archives again rather than reusing ones kept in ``<root>/.downloads``).

    Raises:
        KeyError: an unknown dataset name.
        DownloadError / ChecksumError: see :func:`download_file`.
        RuntimeError: the archive unpacked, but not into the expected layout.
    """
    source = _registered(source)
    root = Path(root)
    if not force and _fetched(source, root):
        print(f"{source.name}: already in {root}, skipping (--force to fetch again)")
        return root
    for archive in source.archives:
        urls = ((mirror.rstrip("/") + "/" + archive.filename,) if mirror else ()) + archive.urls
        path = download_file(urls, _archive_path(root, archive),
                             archive.md5 if checksum else None, progress=progress,
                             resumable=archive.resumable, force=force)
        extract(path, root / archive.extract_to)
        if not keep_archives:
            path.unlink()
    missing = [p for p in source.expected if not (root / p).exists()]
    if missing:
        raise RuntimeError(f"{source.name}: unpacked, but {missing} are missing under {root}; "
                           f"expected layout: {source.layout}")
    return root


def fetch_plan(names: Sequence[str], root: str | Path, show: Callable[[Path], str] = str) -> str:
    """What :func:`fetch` does for each of ``names`` under ``root``, one line per archive, before
    it starts: the file, its published size, where from, where it unpacks, and whether it is
    already there (skipped) or partly downloaded (its ``.part``: resumed).

    Args:
        names: keys of :data:`REGISTRY`.
        root: the download root (``--root``).
        show: how a path is printed (e.g. :func:`ritm_lite.data.locate.shown_path`).

    Raises:
        KeyError: an unknown dataset name.
    """
    root = Path(root)
    lines = []
    for source in map(_registered, names):
        if _fetched(source, root):
            lines.append(f"{source.name}: already in {show(root)}, nothing to download")
            continue
        for archive in source.archives:
            part = _part(_archive_path(root, archive))
            state = (f", resumes after {part.stat().st_size / 2**30:.2f} GiB already downloaded"
                     if archive.resumable and part.is_file() else "")
            lines.append(f"{source.name}: {archive.filename} ({archive.size}) from {archive.urls[0]} "
                         f"-> {show(root / archive.extract_to)}{state}")
    return "\n".join(lines)


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
    parser.add_argument("--force", action="store_true",
                        help="fetch even if already present (archives are downloaded again)")
    args = parser.parse_args(argv)
    if not args.root or Path(args.root).is_file():
        parser.error(f"--root must name a folder (created if missing), got {args.root!r}")
    if args.mirror is not None and not args.mirror.startswith(("http://", "https://")):
        parser.error(f"--mirror must be an http(s) URL whose <file name> paths serve the archives, "
                     f"got {args.mirror!r}")
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
