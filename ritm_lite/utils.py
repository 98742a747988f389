"""Small helpers shared by the notebooks, the command lines and the tests.

* :func:`shared_dir` finds ``../shared`` (golden outputs of the original RITM code and the
  real benchmark data), which lives *beside* the project and is never copied into it.
* :func:`smoke_mode` tells a notebook to run at a tiny size (the test suite sets
  ``RITM_SMOKE=1``).
* :func:`show_source` prints the library's own code in a notebook, so the course never keeps
  a second copy of it.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import torch

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_path() -> Path:
    """Where ``shared/`` is expected: beside the project root, or ``$RITM_SHARED`` if set."""
    env = os.environ.get("RITM_SHARED")
    return Path(env) if env else PROJECT_ROOT.parent / "shared"


def shared_dir() -> Path | None:
    """Return the ``shared/`` folder (see :func:`shared_path`), or ``None`` if it is absent."""
    path = shared_path()
    return path if path.is_dir() else None


def smoke_mode() -> bool:
    """True when ``RITM_SMOKE`` is set to 1/true: notebooks then run at a tiny size."""
    return os.environ.get("RITM_SMOKE", "").strip().lower() in {"1", "true", "yes"}


def default_device() -> torch.device:
    """CUDA if available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def show_source(obj: Any) -> Any:
    """Display the source of a library object (function, class or module).

    In a notebook this returns a syntax-highlighted :class:`IPython.display.Code`; elsewhere
    it returns the source text.
    """
    source = inspect.getsource(obj)
    try:
        from IPython import get_ipython
        from IPython.display import Code

        if get_ipython() is not None:
            return Code(source, language="python")
    except ImportError:  # pragma: no cover - IPython ships with the course extra
        pass
    return source
