"""Finding the benchmark data: the one place the notebooks and command lines look for it.

A benchmark (GrabCut, Berkeley, DAVIS, COCO_MVal, SBD, PascalVOC, the names of the paper's
tables) is looked for, in this order, in

1. ``$RITM_DATA/<name>``, a folder of benchmarks you keep elsewhere (the test suite points it
   at its own copy of the data);
2. the project's ``data/<name>``, where ``python -m ritm_lite.data.download NAME --root data/``
   unpacks it (in a clone: ``data/`` beside ``pyproject.toml``; with the package installed
   from a wheel, as on Colab: ``./data`` under the working directory).

When it is in neither, :func:`benchmark_folder` downloads it into ``data/`` with the existing
downloader (:func:`ritm_lite.data.download.fetch`, a progress bar, resumable) if asked to
(``download=True``); otherwise, or if the download fails, it says in one sentence what it
would download, from where and how large, and returns ``None`` so that the caller falls back
(the notebooks to generated images). Either way it prints which data is used::

    >>> folder = benchmark_folder("GrabCut")             # doctest: +SKIP
    GrabCut, 50 photos, from data/GrabCut

The golden outputs of the original implementation (what the parity tests compare with) are not
published; :func:`reference_folder` returns them only where ``$RITM_REFERENCE`` names a copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .download import REGISTRY, DatasetSource, DownloadError, fetch
from .files import IMAGE_SUFFIXES

DATA_ENV = "RITM_DATA"
"""Environment variable naming a folder of benchmarks (looked in before ``data/``)."""

REFERENCE_ENV = "RITM_REFERENCE"
"""Environment variable naming the folder of the original implementation's golden outputs."""

@dataclass(frozen=True)
class BenchmarkFiles:
    """Where one benchmark's photos lie inside its folder, and which download gives it.

    Attributes:
        download_name: its key in :data:`ritm_lite.data.download.REGISTRY`.
        images: the photo folder under ``<root>/<folder>``; the first one of these that exists
            (an archive's own nesting, or the reader's flat layout).
        folder: the folder under ``<root>`` (default: the benchmark's name).
    """

    download_name: str
    images: tuple[str, ...]
    folder: str | None = None


BENCHMARK_FILES: dict[str, BenchmarkFiles] = {
    "GrabCut": BenchmarkFiles("grabcut", ("data_GT",)),
    "Berkeley": BenchmarkFiles("berkeley", ("images",)),
    "DAVIS": BenchmarkFiles("davis", ("img",)),
    "COCO_MVal": BenchmarkFiles("coco-mval", ("img",)),
    "SBD": BenchmarkFiles("sbd", ("benchmark_RELEASE/dataset/img", "img")),
    "PascalVOC": BenchmarkFiles("pascal-voc", ("VOCdevkit/VOC2012/JPEGImages", "JPEGImages")),
    # the course's selection set: DUTS-TR's fixed holdout, read from the DUTS-TR folder
    "DUTS-TR-holdout": BenchmarkFiles("duts-tr", ("DUTS-TR-Image",), folder="DUTS-TR"),
}
"""Benchmark name (as :data:`ritm_lite.data.benchmarks.BENCHMARKS` spells it) -> its files."""


def project_data_dir() -> Path:
    """The project's ``data/``: beside ``pyproject.toml`` in a clone, else ``./data`` (an
    installed package, e.g. on Colab, has no project folder of its own)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "ritm_lite").is_dir():
        return root / "data"
    return Path.cwd() / "data"


def data_dirs() -> list[Path]:
    """The folders searched for benchmarks, in order: ``$RITM_DATA`` (if set), then ``data/``."""
    dirs = []
    if os.environ.get(DATA_ENV, "").strip():
        dirs.append(Path(os.environ[DATA_ENV]).expanduser())
    dirs.append(project_data_dir())
    return dirs


def _files(name: str) -> BenchmarkFiles:
    if name not in BENCHMARK_FILES:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {sorted(BENCHMARK_FILES)}")
    return BENCHMARK_FILES[name]


def photos_folder(name: str, folder: str | Path) -> Path | None:
    """Where benchmark ``name`` keeps its photos inside ``folder`` (the first layout of
    :data:`BENCHMARK_FILES` that exists), or ``None``."""
    folder, files = Path(folder), _files(name)
    return next((folder / inner for inner in files.images if (folder / inner).is_dir()), None)


def count_photos(name: str, folder: str | Path) -> int:
    """How many photos (image files) benchmark ``name`` has in ``folder``."""
    photos = photos_folder(name, folder)
    if photos is None:
        return 0
    return sum(1 for p in photos.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def shown_path(folder: str | Path) -> str:
    """``folder`` as the course prints it: relative to the project (``data/GrabCut``,
    ``runs/notebook12``) when it lies in the project's folder (the one holding
    :func:`project_data_dir`), ``$RITM_DATA/GrabCut`` when it lies in ``$RITM_DATA``, else as
    given; so a printed output names no folder of one machine, and a printed command runs from
    the project's root (in a shell, which expands ``$RITM_DATA``)."""
    path, project = Path(folder), project_data_dir().parent
    if path.is_absolute() and path.is_relative_to(project):
        return str(path.relative_to(project))
    base = Path(os.environ.get(DATA_ENV, "").strip()).expanduser()
    if path.is_absolute() and base.is_absolute() and path.is_relative_to(base):
        return "/".join((f"${DATA_ENV}", *path.relative_to(base).parts))
    return str(path)


def describe(name: str, folder: str | Path) -> str:
    """One line saying which data is used: ``"GrabCut, 50 photos, from <folder>"``
    (:func:`shown_path`)."""
    return f"{name}, {count_photos(name, folder)} photos, from {shown_path(folder)}"


def find_benchmark(name: str) -> Path | None:
    """``<dir>/<name>`` for the first of :func:`data_dirs` that holds benchmark ``name`` with at
    least one photo, else ``None`` (looks only; prints and downloads nothing)."""
    _files(name)  # an unknown name is an error, not "not found"
    for root in data_dirs():
        folder = root / (_files(name).folder or name)
        if folder.is_dir() and count_photos(name, folder) > 0:
            return folder
    return None


def _source(name: str) -> DatasetSource:
    return REGISTRY[_files(name).download_name]


def download_plan(name: str) -> str:
    """What a download of ``name`` would fetch, from where, how large and into which folder."""
    source = _source(name)
    archives = ", ".join(f"{a.filename} ({a.size}) from {a.urls[0]}" for a in source.archives)
    return f"{archives} into {shown_path(project_data_dir())}"


def benchmark_folder(name: str, download: bool = False, progress: bool = True) -> Path | None:
    """The folder of benchmark ``name``, found (see the module docstring) or downloaded.

    Prints one line: which data is used (``"GrabCut, 50 photos, from <folder>"``), or why there
    is none (what a download would fetch, or why it failed), so the caller can fall back.

    Args:
        name: a benchmark name: GrabCut, Berkeley, DAVIS, COCO_MVal, SBD or PascalVOC.
        download: when the benchmark is in no folder, download it into ``data/`` (the
            registry's archives; the same as ``python -m ritm_lite.data.download``).
        progress: show the download's progress bar.

    Returns:
        The benchmark's folder (``<root>/<name>``, DUTS-TR's for ``DUTS-TR-holdout``, for :func:`ritm_lite.data.benchmarks.load_benchmark`),
        or ``None`` when it is not here and was not (or could not be) downloaded.

    Raises:
        ValueError: an unknown benchmark name.
    """
    folder = find_benchmark(name)
    if folder is None and download:
        source = _source(name)
        try:
            fetch(source, project_data_dir(), progress=progress)
        except (DownloadError, RuntimeError, ValueError) as err:
            reason = str(err).strip().splitlines()[-1].strip()
            print(f"{name} could not be downloaded ({reason}); `python -m ritm_lite.data.download "
                  f"{source.name} --root {project_data_dir()}` tries again and resumes.")
            return None
        folder = find_benchmark(name)
        if folder is None:  # fetched, but without photos: say so rather than guess
            print(f"{name} was downloaded into {project_data_dir()}, but holds no photos "
                  f"(expected layout: {source.layout}).")
            return None
    if folder is None:
        where = " or ".join(shown_path(d) for d in data_dirs())
        print(f"{name} is not in {where}; benchmark_folder({name!r}, download=True) would "
              f"download {download_plan(name)}.")
        return None
    print(describe(name, folder))
    return folder


def reference_folder() -> Path | None:
    """The original implementation's golden outputs (``ritm_*_reference.pt``), where
    ``$RITM_REFERENCE`` names a folder holding them; ``None`` otherwise (they are not
    published: a user checks parity with the official checkpoints instead)."""
    value = os.environ.get(REFERENCE_ENV, "").strip()
    if not value:
        return None
    folder = Path(value).expanduser()
    return folder if folder.is_dir() else None
