"""The paper's official RITM checkpoints by name, downloaded once into the torch hub cache.

The original release links (``github.com/saic-vul/ritm_interactive_segmentation/releases``)
are dead; the maintained MIT fork (supervisely-ecosystem) re-publishes all five files, and
``coco_lvis_h18_itermask`` is also published by Cutie (with its SHA-256). Each entry lists its
mirrors in order and the size the original README gives (MiB). Where no hash is published the
download is checked by size and by the archive's own CRCs only, and the user is told so.

    >>> from ritm_lite.weights.registry import download
    >>> path = download("coco_lvis_h18s_itermask")          # doctest: +SKIP
    >>> model = ritm_lite.load_checkpoint("coco_lvis_h18s_itermask")   # doctest: +SKIP

Transfers are ``torch.hub.download_url_to_file``'s (a temporary file renamed into place, the
SHA-256 checked where one is published, a progress bar); each file is then verified
(:func:`verify`: size, hash, the archive's CRCs) before it replaces anything in the cache, so
a failed or damaged download never costs the copy already there.

Command line: ``python -m ritm_lite.weights list`` and ``python -m ritm_lite.weights download NAME``.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path

from ..data.download import DownloadError
from ..model.safe_load import archive_problem

FORK = "https://github.com/supervisely-ecosystem/ritm-interactive-segmentation/releases/download/v0.1"
CUTIE = "https://github.com/hkchengrex/Cutie/releases/download/v1.0"
SIZE_TOLERANCE = 0.02  # the README rounds sizes to 0.1 MiB; a truncated or HTML answer is far off


@dataclass(frozen=True)
class OfficialCheckpoint:
    """One released RITM checkpoint."""

    name: str
    description: str
    urls: tuple[str, ...]  # mirrors, tried in order
    size_mib: float  # as the original README gives it
    sha256: str | None = None  # None: no hash is published anywhere we know of

    @property
    def filename(self) -> str:
        return f"{self.name}.pth"


def _entry(name: str, description: str, size_mib: float, sha256: str | None = None,
           extra: tuple[str, ...] = ()) -> OfficialCheckpoint:
    return OfficialCheckpoint(name, description, (f"{FORK}/{name}.pth", *extra), size_mib, sha256)


OFFICIAL_CHECKPOINTS: dict[str, OfficialCheckpoint] = {c.name: c for c in (
    _entry("coco_lvis_h18s_itermask", "HRNet-W18-small, COCO+LVIS, ITER-M (the paper's GrabCut "
           "NoC@85/90 1.54/1.68)", 16.5),
    _entry("coco_lvis_h18_itermask", "HRNet-W18, COCO+LVIS, ITER-M", 38.8,
           "5f69cfce354d1507e3850bfc39ee7057c8dd27b6a4910d1d2dc724916b9ee32b",
           (f"{CUTIE}/coco_lvis_h18_itermask.pth",)),
    _entry("coco_lvis_h32_itermask", "HRNet-W32, COCO+LVIS, ITER-M", 119.0),
    _entry("coco_lvis_h18_baseline", "HRNet-W18, COCO+LVIS, no iterative training", 38.8),
    _entry("sbd_h18_itermask", "HRNet-W18, SBD, ITER-M", 38.8),
)}


def cache_dir() -> Path:
    """``<torch hub dir>/checkpoints`` (``$TORCH_HOME/hub/checkpoints``), where torch caches weights."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_path(name: str, cache: str | os.PathLike | None = None) -> Path:
    """Where ``name`` is (or would be) cached."""
    return Path(cache or cache_dir()) / _spec(name).filename


def is_cached(name: str, cache: str | os.PathLike | None = None) -> bool:
    """True when a verified copy of ``name`` is in the cache (no network)."""
    path = cached_path(name, cache)
    return path.is_file() and verify(path, _spec(name)) is None


def verify(path: Path, spec: OfficialCheckpoint) -> str | None:
    """Why ``path`` is not ``spec``'s file (``None``: it is): size, SHA-256 if known, zip CRCs."""
    size = path.stat().st_size / 2**20
    if abs(size - spec.size_mib) > SIZE_TOLERANCE * spec.size_mib:
        return f"{size:.1f} MiB instead of the expected {spec.size_mib} MiB"
    if spec.sha256 is not None:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != spec.sha256:
            return f"SHA-256 {digest.hexdigest()} differs from the published {spec.sha256}"
    problem = archive_problem(path)
    if problem is not None:
        return f"not a complete PyTorch checkpoint archive: {problem}"
    return None


def download(name: str, cache_dir: str | os.PathLike | None = None, url: str | None = None,
             progress: bool = True) -> Path:
    """The path of the official checkpoint ``name``, downloaded into the cache if needed.

    Args:
        name: a key of :data:`OFFICIAL_CHECKPOINTS` (``python -m ritm_lite.weights list``).
        cache_dir: where to cache (default: :func:`cache_dir`, torch's hub cache).
        url: fetch from this URL instead of the registry's mirrors.
        progress: show a progress bar.

    A cached copy that passes :func:`verify` is returned without a request. Otherwise each
    mirror is tried in turn (``torch.hub.download_url_to_file``: a temporary file, the SHA-256
    checked when one is published); the file is verified and only then renamed into place.
    A cached copy that fails :func:`verify` is replaced only by a verified download: when
    every mirror fails it stays where it is (and is still not used).

    Raises:
        KeyError: an unknown name.
        DownloadError: every mirror failed; the message lists each URL and why.
    """
    import torch.hub

    spec = _spec(name)
    target = cached_path(name, cache_dir)
    stale = None
    if target.is_file():
        stale = verify(target, spec)
        if stale is None:
            return target
    if spec.sha256 is None and progress:
        print(f"note: no SHA-256 is published for {name}; checking its size and archive CRCs only")
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".download")
    errors = []
    for source in (url,) if url else spec.urls:
        try:
            torch.hub.download_url_to_file(source, str(staged), hash_prefix=spec.sha256, progress=progress)
        except RuntimeError as err:  # torch.hub's hash check (it deletes what it fetched)
            errors.append(f"{source}: SHA-256 of the download differs from the published {spec.sha256} "
                          f"({err}); deleted")
            continue
        except (urllib.error.URLError, OSError, ValueError) as err:  # HTTP errors, refused, timeouts, bad URL
            errors.append(f"{source}: {err}")
            continue
        problem = verify(staged, spec)
        if problem is not None:
            staged.unlink()
            errors.append(f"{source}: {problem}; deleted")
            continue
        os.replace(staged, target)
        return target
    kept = f"\n  the cached copy {target} ({stale}) is kept as it was" if stale is not None else ""
    raise DownloadError(f"could not download {spec.filename}:\n  " + "\n  ".join(errors) + kept)


def format_registry(cache: str | os.PathLike | None = None) -> str:
    """The registry as a text table, with what is cached."""
    rows = [f"{'name':<26}{'MiB':>7}  {'cached':<7}{'sha256':<8}description"]
    for spec in OFFICIAL_CHECKPOINTS.values():
        cached = "yes" if is_cached(spec.name, cache) else "no"
        known = "yes" if spec.sha256 else "none"
        rows.append(f"{spec.name:<26}{spec.size_mib:>7.1f}  {cached:<7}{known:<8}{spec.description}")
    return "\n".join(rows)


def _spec(name: str) -> OfficialCheckpoint:
    if name not in OFFICIAL_CHECKPOINTS:
        raise KeyError(f"unknown checkpoint {name!r}; known: {', '.join(OFFICIAL_CHECKPOINTS)}")
    return OFFICIAL_CHECKPOINTS[name]
