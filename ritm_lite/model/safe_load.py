"""Opening a ``.pth`` file safely: the bytes are checked before ``torch.load`` sees them.

Every file of weights the package reads (its own checkpoints, official RITM checkpoints,
ImageNet weights, downloads in :mod:`ritm_lite.weights.registry`) comes in through here.
``torch.load(weights_only=True)`` never executes pickled code; before it runs,
:func:`load_safely` tells apart, each with a :class:`CheckpointError` that says which:

* a folder, an empty file, or one that is neither a zip archive (``torch.save``'s format)
  nor a pickle starting with torch's magic number (its legacy format);
* a truncated zip archive, or a member whose CRC-32 fails (bit rot, a bad copy): PyTorch
  itself never checks the CRCs, so :func:`archive_problem` reads the archive once to do it;
* a pickle holding arbitrary Python objects (refused, never run).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch.serialization import MAGIC_NUMBER

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's (default) zip format
# torch.save's legacy format is a sequence of pickles, the first of them its magic number
LEGACY_MAGICS = tuple(pickle.dumps(MAGIC_NUMBER, protocol=p)
                      for p in range(2, pickle.HIGHEST_PROTOCOL + 1))


class CheckpointError(ValueError):
    """A checkpoint file is truncated, foreign, unsafe, or does not match its architecture."""


def archive_problem(path: str | os.PathLike) -> str | None:
    """Why the zip archive ``path`` is not intact (``None``: every member passes its CRC-32).

    One read of the whole file (``ZipFile.testzip``; ~30 ms for 40 MB). The sentence names
    the damaged member, or says the archive is incomplete (truncated).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        return f"the file is truncated or damaged (its zip archive is incomplete: {err})"
    if damaged is not None:
        return (f"the file is damaged: member {damaged!r} of its zip archive fails its CRC check "
                "(bit rot or a bad copy; download or copy the checkpoint again)")
    return None


def load_safely(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load(weights_only=True)`` of a file checked first, with a :class:`CheckpointError`.

    The file must be a zip archive whose every member passes its CRC-32 check
    (:func:`archive_problem`), or torch's legacy pickle format.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: a folder, an empty file, not a PyTorch checkpoint, truncated or
            damaged (naming the damaged member), or pickled code.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        head = f.read(max(map(len, LEGACY_MAGICS)))
    if not head:
        raise CheckpointError(f"{path}: the file is empty (0 bytes), not a PyTorch checkpoint")
    if head.startswith(ZIP_MAGIC):
        problem = archive_problem(path)
        if problem is not None:
            raise CheckpointError(f"{path}: {problem}")
    elif not head.startswith(LEGACY_MAGICS):
        what = "a Python pickle not written by torch.save" if head[:1] == b"\x80" else \
            f"neither a zip archive nor a pickle: it starts with {head[:8]!r}"
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({what})")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" in str(err):
            raise CheckpointError(
                f"{path}: refusing to load — the file contains arbitrary Python objects, and "
                "loading it would execute pickled code (only tensors and plain data are allowed)"
            ) from err
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({err})") from err
    except Exception as err:  # torch raises RuntimeError, EOFError, KeyError ... for bad bytes
        raise CheckpointError(f"{path}: the checkpoint is corrupt, or not one written by "
                              f"torch.save ({err})") from err
