"""Small helpers shared by the notebooks, the command lines and the tests.

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
