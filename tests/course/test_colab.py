"""Colab: one repository address, a badge and the same set-up cell in every notebook, and that
cell's install tried in a fresh virtual environment against a local clone (no network)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ritm_lite import colab
from ritm_lite.utils import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
URL = PYPROJECT["project"]["urls"]["Repository"]
EXTRA_LINE = re.compile(r'^EXTRA = "([^"]*)"', re.M)


def setup_cell(script: Path) -> str:
    """The source of the notebook's cell tagged ``colab``."""
    text = script.read_text()
    start = text.index('# %% tags=["colab"]')
    return text[start: text.index("\n# %%", start + 5)].strip() + "\n"


def code_cells(script: Path) -> list[str]:
    return [c for c in re.split(r"^# %%", script.read_text(), flags=re.M)[1:] if not c.startswith(" [markdown]")]


def test_the_repository_is_named_once_in_code():
    assert colab.REPO_URL == URL
    assert colab.colab_url("01_x") == (
        "https://colab.research.google.com/github/" + URL.removeprefix("https://github.com/")
        + "/blob/main/notebooks/01_x.ipynb")


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_opens_in_colab_with_the_same_setup_cell(script):
    text = script.read_text()
    first_markdown = text[text.index("# %% [markdown]"): text.index("\n# %%", text.index("# %% [markdown]") + 5)]
    assert colab.badge(script.stem) in first_markdown, "the Open-in-Colab badge belongs in the first cell"
    assert code_cells(script)[0].startswith(' tags=["colab"]'), "the set-up cell must be the first code cell"
    cell = setup_cell(script)
    assert re.findall(r'"(https://[^"]+)"', cell) == [URL]
    (extra,) = EXTRA_LINE.findall(cell)
    assert extra == "" or extra in PYPROJECT["project"]["optional-dependencies"], extra
    assert extra != "course", "install only what the notebook needs, not the whole course extra"
    reference = EXTRA_LINE.sub('EXTRA = ""', setup_cell(NOTEBOOKS[0]))
    assert EXTRA_LINE.sub('EXTRA = ""', cell) == reference, "the set-up cells differ beyond EXTRA"


def test_only_the_widget_notebook_installs_the_widget_extra():
    extras = {s.stem[:2]: EXTRA_LINE.findall(setup_cell(s))[0] for s in NOTEBOOKS}
    assert {k for k, v in extras.items() if v} == {"09"} and extras["09"] == "widget"
    assert "ipycanvas==0.13.2" in PYPROJECT["project"]["optional-dependencies"]["widget"]


def test_the_readme_course_table_has_a_badge_per_notebook():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for script in NOTEBOOKS:
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{script.stem}`"))
        assert colab.badge(script.stem) in row, script.stem
    badges = re.findall(r"https://colab\.research\.google\.com/github/[^)\s]+", readme)
    assert badges and all(b.startswith(colab.colab_url("")[: -len(".ipynb")].rsplit("/", 1)[0]) for b in badges)


def test_setup_outside_colab_prints_a_line_and_returns_nothing(capsys):
    assert colab.setup("widget") is None  # a cell shows the line, not a bare False
    assert capsys.readouterr().out.strip() == "Not on Colab: nothing to set up (`make course` installed everything)."


def test_setup_refuses_an_unknown_extra():
    with pytest.raises(ValueError, match="unknown extra 'widgets'"):
        colab.setup("widgets")


def test_setup_on_colab_turns_on_the_widget_manager_for_the_widget_extra(monkeypatch, capsys):
    import types

    calls = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("on"))
    google = types.ModuleType("google")
    google_colab = types.ModuleType("google.colab")
    google_colab.output = output
    google.colab = google_colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google_colab)
    assert colab.setup("") is None and calls == []
    assert colab.setup("widget") is None and calls == ["on"]
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"Colab ready: ritm_lite from {URL}",
                     f"Colab ready: ritm_lite from {URL} with [widget], custom widget manager on"]


# A fake Colab for the set-up cell: ``google.colab`` is imported, so the cell installs.
_FAKE_COLAB = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')\n"


@pytest.mark.slow
def test_the_setup_cell_installs_from_a_clone_in_a_fresh_environment(tmp_path):
    """The cell's own commands (``git clone``, ``pip install -e CLONE[EXTRA]``), run by a fresh
    virtualenv's Python with a fake ``google.colab``, against a local clone of this checkout
    instead of GitHub. Offline, so pip installs the package alone (``--no-deps``; Colab brings
    torch, and pip keeps any torch that meets ``torch>=2.1``) without build isolation."""
    source = tmp_path / "origin"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(PROJECT_ROOT), str(source)], check=True)
    changed = subprocess.run(["git", "-C", str(PROJECT_ROOT), "diff", "--name-only", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.split()
    for path in changed:  # the working tree as it is, uncommitted edits included
        if (PROJECT_ROOT / path).is_file():
            (source / path).write_bytes((PROJECT_ROOT / path).read_bytes())
    subprocess.run(["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam",
                    "the working tree", "--allow-empty"], check=True)
    venv = tmp_path / "venv"
    # a fresh virtualenv with the pip and setuptools Python bundles (ensurepip: no index needed)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    # ... whose setuptools is older than pyproject's build requirement: this environment's instead
    site = next((venv / "lib").glob("python3*/site-packages"))
    host = Path(importlib.util.find_spec("setuptools").origin).parents[1]
    for old in [*site.glob("setuptools*"), *site.glob("_distutils_hack"), *site.glob("distutils-precedence.pth")]:
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    for new in [*host.glob("setuptools*"), host / "_distutils_hack", host / "distutils-precedence.pth"]:
        (shutil.copytree if new.is_dir() else shutil.copy)(new, site / new.name)
    cell = setup_cell(PROJECT_ROOT / "notebooks" / "09_live_widget.py")
    install = cell[: cell.index("from ritm_lite import colab")]
    install = install.replace(f'"{URL}"', repr(f"file://{source}")).replace('"/content/ritm_lite"', repr(str(tmp_path / "clone")))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1",
           "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run([str(python), "-c", _FAKE_COLAB + install], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    shown = subprocess.run([str(python), "-m", "pip", "show", "ritm_lite"], env=env, cwd=tmp_path, capture_output=True,
                           text=True, check=True).stdout
    assert "Name: ritm_lite" in shown, shown
    origin = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('ritm_lite').origin)"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert origin == str(tmp_path / "clone" / "ritm_lite" / "__init__.py")
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, check=True).stdout.lower()
    assert "torch" not in listed  # the cell installs no torch of its own
