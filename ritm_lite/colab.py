"""Set-up on Google Colab, shared by the notebooks (00 and 09).

A notebook's Colab cell installs the package first (the only step that cannot live here,
since this module is not there yet) and then calls :func:`setup`, which does the rest:

* ``widgets=True`` pins **ipycanvas 0.13.2** and turns on Colab's custom widget manager,
  without which third-party widgets do not render (ipycanvas 0.12.x and 0.13.1 do not render on
  Colab, 0.13.2 is reported working with the custom widget manager, ipycanvas issue #318);
* outside Colab it does nothing and says so.

:data:`REPO_URL` is the repository named in the package metadata (``pyproject.toml``'s
``[project.urls] Repository``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

COLAB_IPYCANVAS = "ipycanvas==0.13.2"  # known to render on Colab (see the module docstring)


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


def in_colab() -> bool:
    """Whether this kernel runs on Google Colab."""
    return "google.colab" in sys.modules


def setup(widgets: bool = False) -> bool:
    """Finish the set-up on Colab (see the module docstring); ``False`` elsewhere (nothing done)."""
    if not in_colab():
        print("Not on Colab: nothing to set up (make course installed everything).")
        return False
    if widgets:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", COLAB_IPYCANVAS], check=True)
    from google.colab import output  # type: ignore[import-not-found]

    output.enable_custom_widget_manager()
    print(f"Colab ready: ritm_lite from {REPO_URL}" + (f", {COLAB_IPYCANVAS}" if widgets else ""))
    return True
