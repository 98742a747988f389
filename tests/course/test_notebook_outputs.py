"""The committed notebooks carry their outputs (what GitHub shows), made by ``make notebooks``.

Each ``.ipynb`` must hold a full-size Run All of its ``.py``: every code cell run once, in order,
from a fresh kernel; no error; no folder of the machine that ran it; figures as PNG of modest
size where the notebook draws. Editing a notebook's code drops that cell's outputs when the pair
is synced, so these tests fail until ``make notebooks`` runs it again.
"""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

import nbformat
import pytest

from ritm_lite.utils import PROJECT_ROOT

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def _execute_tool():
    spec = importlib.util.spec_from_file_location("execute", NOTEBOOK_DIR / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


execute = _execute_tool()


def _figures(notebook) -> list[int]:
    return [len(base64.b64decode(output["data"]["image/png"])) for cell in notebook.cells
            if cell.cell_type == "code" for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_committed_notebook_holds_a_clean_full_size_run(path: Path):
    notebook = nbformat.read(path, as_version=4)
    problems = execute.output_problems(notebook)
    assert not problems, f"{path.name}: run `make notebooks` ({'; '.join(problems[:5])})"
    assert any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), f"{path.name} has no output"
    assert path.stat().st_size <= execute.MAX_NOTEBOOK_BYTES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_that_draws_shows_its_figures(path: Path):
    draws = "plt.show()" in path.with_suffix(".py").read_text()
    figures = _figures(nbformat.read(path, as_version=4))
    if draws:
        assert figures, f"{path.name} draws figures but stores none: run `make notebooks`"
    assert all(size <= execute.MAX_FIGURE_BYTES for size in figures)


def _cell(source: str, count: int | None, *outputs) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.execution_count = count
    cell.outputs = list(outputs)
    return cell


def test_output_problems_finds_each_kind_of_problem():
    png = base64.b64encode(b"\x89PNG" + bytes(10)).decode()
    clean = nbformat.v4.new_notebook(cells=[
        _cell("print(1)", 1, nbformat.v4.new_output("stream", name="stdout", text="GrabCut, 50 photos, from data/GrabCut\n")),
        _cell("plot()", 2, nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}))])
    assert execute.output_problems(clean) == []

    def problems(**change) -> list[str]:
        notebook = nbformat.from_dict(nbformat.v4.new_notebook(cells=[c.copy() for c in clean.cells]))
        for key, value in change.items():
            index, field = key.split("_", 1)
            setattr(notebook.cells[int(index[1:])], field, value)
        return execute.output_problems(notebook)

    assert "not run once each in order" in problems(c1_execution_count=3)[0]
    assert "not run once each in order" in problems(c1_execution_count=None)[0]
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])
    assert problems(c0_outputs=[error]) == ["code cell 1: ValueError: bad"]
    for text in ("from /home/ann/ritm/data\n", "from ../shared/data\n", f"from {PROJECT_ROOT}/data\n",
                 "saved to /tmp/tmpab12/x.pth\n"):
        found = problems(c0_outputs=[nbformat.v4.new_output("stream", name="stdout", text=text)])
        assert found and "names a folder of this machine" in found[0], text
    smoke = problems(c0_outputs=[nbformat.v4.new_output("stream", name="stdout", text="smoke mode: True\n")])
    assert smoke == ["code cell 1: ran at smoke size"]
    big = base64.b64encode(bytes(execute.MAX_FIGURE_BYTES + 1)).decode()
    assert "figure" in problems(c1_outputs=[nbformat.v4.new_output("display_data", data={"image/png": big})])[0]
    svg = nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg/>"})
    assert problems(c1_outputs=[svg]) == ["code cell 2: a figure that is not PNG"]
    bar = nbformat.v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "x"},
                                                        "text/plain": "epoch 0:   0%|          | 0/80 [00:00<?, ?it/s]"})
    assert problems(c1_outputs=[bar]) == ["code cell 2: a progress bar, stored at its first frame"]
    traceback = nbformat.v4.new_output("stream", name="stderr", text="Traceback (most recent call last):\n")
    assert problems(c0_outputs=[traceback]) == ["code cell 1: a traceback on stderr"]
