"""Every course notebook runs end to end at smoke size, and its .ipynb/.py pair is in sync.

The notebooks are jupytext pairs: ``NN_name.py`` (py:percent, the file to edit and review)
and ``NN_name.ipynb`` (what JupyterLab opens). ``RITM_SMOKE=1`` makes each notebook run at
a tiny size; a notebook that does not run end to end is broken.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ritm_lite.utils import PROJECT_ROOT

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
TIMEOUT_S = int(os.environ.get("RITM_NOTEBOOK_TIMEOUT", "900"))


def _cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_pair_in_sync(script: Path):
    paired = script.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} missing: run `jupytext --sync {script}`"
    from_py = jupytext.read(script)
    from_ipynb = jupytext.read(paired)
    assert _cells(from_py) == _cells(from_ipynb), (
        f"{script.name} and {paired.name} differ: run `jupytext --sync {script}`"
    )
    formats = from_py.metadata.get("jupytext", {}).get("formats", "")
    assert "py:percent" in formats and "ipynb" in formats


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_at_smoke_size(script: Path, monkeypatch):
    monkeypatch.setenv("RITM_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The kernel must import *this* checkout's ritm_lite (also from a git worktree).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
    notebook = jupytext.read(script)
    client = nbclient.NotebookClient(
        notebook,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()
