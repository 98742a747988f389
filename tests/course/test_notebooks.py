"""Every course notebook runs end to end at smoke size, and its .ipynb/.py pair is in sync.

The notebooks are jupytext pairs: ``NN_name.py`` (py:percent, the file to edit and review)
and ``NN_name.ipynb`` (what JupyterLab opens). ``RITM_SMOKE=1`` makes each notebook run at
a tiny size; a notebook that does not run end to end is broken. Each notebook's exercise
cells (tagged ``exercise``) are filled in with ``notebooks/solutions/NN_name.py`` first, and
the checks must then say "right" (``tests/course/test_course.py`` shows they reject wrong answers).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ritm_lite.utils import PROJECT_ROOT

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
TIMEOUT_S = int(os.environ.get("RITM_NOTEBOOK_TIMEOUT", "900"))


SOLUTIONS_DIR = NOTEBOOK_DIR / "solutions"
EXERCISE_KEY = re.compile(r"# exercise (\S+):")


def solutions(script: Path) -> dict[str, str]:
    """``{key: code}`` of ``notebooks/solutions/<script's name>``: its ``# %% <key>`` blocks."""
    path = SOLUTIONS_DIR / script.name
    blocks = re.split(r"^# %% (\S+)\n", path.read_text(), flags=re.M) if path.is_file() else [""]
    return {key: code.strip() for key, code in zip(blocks[1::2], blocks[2::2])}


def exercise_keys(notebook) -> list[str]:
    """The key of every exercise cell (tagged ``exercise``) of a jupytext notebook, in order."""
    keys = []
    for cell in notebook.cells:
        if "exercise" in cell.metadata.get("tags", []):
            match = EXERCISE_KEY.search(cell.source)
            assert match, f"an exercise cell names no key (# exercise KEY:): {cell.source!r}"
            keys.append(match.group(1))
    return keys


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


def _kernel_metadata_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("kernel_metadata", NOTEBOOK_DIR / "kernel_metadata.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_holds_the_kernel_metadata_jupyterlab_adds(script: Path):
    """Opening the notebook in JupyterLab changes nothing (``tests/course/test_notebooks_browser.py``
    shows it in a browser): its kernelspec and language_info are this environment's."""
    tool = _kernel_metadata_tool()
    expected = tool.kernel_metadata()
    assert expected["language_info"]["version"].count(".") == 2  # the running Python's x.y.z
    assert not tool.stale(script.with_suffix(".ipynb"), expected), (
        f"{script.stem}.ipynb would be changed on opening: run `make sync-notebooks`"
    )


def test_kernel_metadata_tool_finds_and_fixes_a_stale_notebook(tmp_path):
    tool = _kernel_metadata_tool()
    expected = tool.kernel_metadata()
    path = tmp_path / "00_x.ipynb"
    path.write_text((NOTEBOOK_DIR / "00_overview.ipynb").read_text())
    assert not tool.stale(path, expected)
    notebook = __import__("json").loads(path.read_text())
    notebook["metadata"]["language_info"]["version"] = "2.7.18"
    path.write_text(__import__("json").dumps(notebook))
    assert tool.stale(path, expected)
    tool.stamp(path, expected)
    assert not tool.stale(path, expected)


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_at_smoke_size(script: Path, monkeypatch):
    monkeypatch.setenv("RITM_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The kernel must import *this* checkout's ritm_lite (also from a git worktree).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
    notebook = jupytext.read(script)
    solved = solutions(script)
    keys = exercise_keys(notebook)
    assert keys, f"{script.name} has no exercise"
    for cell in notebook.cells:
        if "exercise" in cell.metadata.get("tags", []):
            key = EXERCISE_KEY.search(cell.source).group(1)
            assert key in solved, f"no solution for {key} in {SOLUTIONS_DIR / script.name}"
            cell.source = solved[key]
    client = nbclient.NotebookClient(
        notebook,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()
    printed = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", []) if output.get("output_type") == "stream"
    )
    for key in keys:
        assert f"right ({key})" in printed, f"{script.name}: the check of {key} did not say right:\n{printed[-2000:]}"
    assert "not yet (" not in printed
