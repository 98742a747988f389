"""Running the course on Google Colab: the repository's address, the badges, the set-up.

Colab starts a fresh runtime for every notebook, so every notebook begins with the same
**set-up cell** (tagged ``colab``). On Colab only, it clones :data:`REPO_URL` into
:data:`COLAB_CLONE` and installs the package from the clone in editable mode with the one
``pyproject.toml`` extra that notebook needs (``""``: none; ``"widget"``: notebook 09's
canvas). ``pip install`` keeps any torch that satisfies ``torch>=2.1``, so Colab's own CUDA
build stays. The cell then calls :func:`setup`, which does what needs the package:

* with the ``widget`` extra, it turns on Colab's custom widget manager, without which
  third-party widgets such as ipycanvas do not render. The extra pins **ipycanvas 0.13.2**:
  0.12.x and 0.13.1 do not render on Colab, 0.13.2 is reported working with the custom widget
  manager (ipycanvas issue #318; issues #170 and #292 and colabtools #4157 describe a blank or
  click-deaf canvas with other combinations);
* outside Colab it does nothing and says so in one line.

Where the custom widget still fails, :func:`ritm_lite.widget.colab_canvas.click_segmenter` shows
the click-segmentation session in a plain HTML canvas that needs no custom widget.

:data:`REPO_URL` is the one place the address lives in code: ``pyproject.toml``'s
``[project.urls] Repository``, read from the installed metadata. The set-up cells (which run
before the package exists) and the badges repeat it; ``tests/course/test_colab.py`` keeps them equal.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

COLAB_CLONE = "/content/ritm_lite"
"""Where the set-up cell clones the repository on Colab (the package is installed from it)."""

EXTRAS_WITH_WIDGETS = {"widget"}
"""Set-up extras whose notebook shows a custom widget (Colab's widget manager is turned on)."""

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def repo_url() -> str:
    """The course's repository, from the installed package's metadata (or its pyproject.toml)."""
    try:
        for entry in metadata.metadata("ritm_lite").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() == "repository":
                return url.strip()
    except metadata.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    match = re.search(r'^Repository\s*=\s*"([^"]+)"', pyproject.read_text(), flags=re.M)
    if match is None:
        raise RuntimeError("the package metadata names no Repository URL")
    return match.group(1)


REPO_URL = repo_url()


def colab_url(notebook: str, branch: str = "main") -> str:
    """The address that opens ``notebooks/<notebook>.ipynb`` of :data:`REPO_URL` in Colab.

    Args:
        notebook: the notebook's stem, e.g. ``"01_clicks_and_disks"``.
    """
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", REPO_URL)
    if match is None:
        raise ValueError(f"Colab opens notebooks from GitHub; the repository is {REPO_URL}")
    owner, name = match.groups()
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/notebooks/{notebook}.ipynb"


def badge(notebook: str) -> str:
    """The "Open in Colab" badge (Markdown) of ``notebooks/<notebook>.ipynb``."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook)})"


def in_colab() -> bool:
    """Whether this kernel runs on Google Colab."""
    return "google.colab" in sys.modules


def known_extras() -> set[str]:
    """The package's extras (``pyproject.toml``'s optional dependencies), and ``""`` for none."""
    try:
        extras = set(metadata.metadata("ritm_lite").get_all("Provides-Extra") or [])
    except metadata.PackageNotFoundError:
        extras = set()
    return {"", *EXTRAS_WITH_WIDGETS, *extras}


def setup(extra: str = "") -> None:
    """Finish a notebook's Colab set-up (see the module docstring) and say so in one line.

    Args:
        extra: the ``pyproject.toml`` extra the set-up cell installed (``""``: none).

    Raises:
        ValueError: ``extra`` is not one of the package's extras (a typo would otherwise leave
            the widget manager off without a word).
    """
    if extra not in known_extras():
        raise ValueError(f"unknown extra {extra!r}; the package's extras are {sorted(known_extras())}")
    if not in_colab():
        print("Not on Colab: nothing to set up (`make course` installed everything).")
        return None
    if extra in EXTRAS_WITH_WIDGETS:
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()
    print(f"Colab ready: ritm_lite from {REPO_URL}" + (f" with [{extra}]" if extra else "")
          + (", custom widget manager on" if extra in EXTRAS_WITH_WIDGETS else ""))
    return None
