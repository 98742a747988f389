"""The Colab set-up: one repository address, one set-up helper for notebooks 00 and 09."""

from __future__ import annotations

import re
import tomllib

from ritm_lite import colab
from ritm_lite.utils import PROJECT_ROOT


def test_the_repository_is_named_once_and_the_notebooks_clone_that():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    url = pyproject["project"]["urls"]["Repository"]
    assert colab.REPO_URL == url
    for name in ("00_overview.py", "09_live_widget.py"):
        text = (PROJECT_ROOT / "notebooks" / name).read_text()
        cell = text[text.index('# %% tags=["colab"]'):]
        cell = cell[: cell.index("\n# %%", 5)]
        assert re.findall(r'"(https://[^"]+)"', cell) == [url], name
        assert "colab.setup(" in cell, name


def test_setup_outside_colab_does_nothing_and_says_so(capsys):
    assert colab.setup(widgets=True) is False
    assert "Not on Colab" in capsys.readouterr().out
