"""Run every course notebook at its default size and store its outputs in the ``.ipynb``.

``make notebooks`` runs this: each notebook's ``.py`` (the jupytext source) runs as a student's
Run All does, in a fresh kernel started in ``notebooks/``, with the exercise cells as they are;
its outputs (text, tables, PNG figures) are written into the paired ``.ipynb``, which is what
GitHub shows. Before it is written, each notebook is checked with
:func:`output_problems` (no error, no path of this machine, no figure too large); a notebook
with a problem is not written and the command exits with status 1.

    python notebooks/execute.py            # every notebook
    python notebooks/execute.py 07 08      # some

The data comes from where the notebooks look for it (``$RITM_DATA``, then ``data/``; see
``ritm_lite.data.locate``). Figures are PNG at :data:`FIGURE_DPI` dots per inch.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import sys
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent
ROOT = NOTEBOOKS.parent

FIGURE_DPI = 72
"""Dots per inch of the stored figures: enough to read on GitHub, a few tens of KB each."""

MAX_FIGURE_BYTES = 1_000_000
"""The largest PNG a stored notebook may hold."""

MAX_NOTEBOOK_BYTES = 4_000_000
"""The largest stored ``.ipynb``."""

# Paths that belong to one machine, never to the course: home and temporary folders, and the
# absolute path of this checkout (filled in by :func:`machine_paths`).
_MACHINE_PATH = re.compile(r"(/home/|/Users/|/root/|/tmp/|/var/folders/|[A-Z]:\\\\|\.\./shared)")


def machine_paths(text: str, root: Path = ROOT) -> list[str]:
    """The pieces of ``text`` that name a folder of this machine (empty when none)."""
    found = [m.group(0) for m in _MACHINE_PATH.finditer(text)]
    return found + ([str(root)] if str(root) in text else [])


def output_problems(notebook) -> list[str]:
    """What keeps an executed notebook (an ``nbformat`` node) from being stored, one line each:
    code cells not run in order from 1, error outputs, text on stderr with a traceback, smoke
    mode, machine paths, figures other than PNG or over :data:`MAX_FIGURE_BYTES`."""
    problems = []
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.get("execution_count") for cell in code]
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"code cells not run once each in order: execution counts {counts}")
    for number, cell in enumerate(code, 1):
        where = f"code cell {number}"
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "error":
                problems.append(f"{where}: {output.get('ename')}: {output.get('evalue')}")
                continue
            text = output.get("text", "") if kind == "stream" else "".join(
                str(value) for mime, value in output.get("data", {}).items() if mime.startswith("text/"))
            if kind == "stream" and output.get("name") == "stderr" and "Traceback" in text:
                problems.append(f"{where}: a traceback on stderr")
            if _progress_bar(output):
                problems.append(f"{where}: a progress bar, stored at its first frame")
            if "smoke mode: True" in text:
                problems.append(f"{where}: ran at smoke size")
            for path in machine_paths(text):
                problems.append(f"{where}: names a folder of this machine ({path!r})")
            data = output.get("data", {})
            if "image/svg+xml" in data or "image/jpeg" in data:
                problems.append(f"{where}: a figure that is not PNG")
            if "image/png" in data:
                size = len(base64.b64decode(data["image/png"]))
                if size > MAX_FIGURE_BYTES:
                    problems.append(f"{where}: a {size:,}-byte figure (at most {MAX_FIGURE_BYTES:,})")
    return problems


def execute(script: Path, timeout: int = 3600):
    """Run the jupytext notebook ``script`` (``NN_name.py``) in a fresh kernel from ``notebooks/``
    at its default size; returns the executed ``nbformat`` node, cell timings dropped."""
    import jupytext
    import nbclient
    from jupyter_core.utils import run_sync

    notebook = jupytext.read(script)
    # a student's Run All: full size, the inline backend, this checkout's ritm_lite (the kernel
    # inherits the environment; the caller's is restored afterwards)
    env = {"RITM_SMOKE": None, "MPLBACKEND": None,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    saved = {key: os.environ.get(key) for key in env}
    _set_environment(env)
    try:
        client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": str(NOTEBOOKS)}})
        with client.setup_kernel():
            # figures as PNG at a modest resolution, set before the first cell (not a cell of its own)
            run_sync(client.kc.execute_interactive)(
                "import matplotlib_inline.backend_inline as _inline, matplotlib as _mpl\n"
                "_inline.set_matplotlib_formats('png')\n"
                f"_mpl.rcParams['figure.dpi'] = {FIGURE_DPI}\n"
                "del _inline, _mpl", store_history=False, silent=True, timeout=60)
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
    finally:
        _set_environment(saved)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":  # a stored progress widget shows its first frame ("0/80") on GitHub
            cell.outputs = [output for output in cell.outputs if not _progress_bar(output)]
    return notebook


def _set_environment(values: dict[str, str | None]) -> None:
    """Set each variable of ``values`` (``None``: unset it)."""
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _progress_bar(output) -> bool:
    """Whether ``output`` is a tqdm progress widget (stored, it shows only its first frame)."""
    data = output.get("data", {})
    return ("application/vnd.jupyter.widget-view+json" in data
            and bool(re.search(r"\d+%\|", str(data.get("text/plain", "")))))


def store(script: Path, notebook) -> Path:
    """Write the executed ``notebook`` into ``script``'s paired ``.ipynb``, with this environment's
    kernel metadata (``notebooks/kernel_metadata.py``), as JupyterLab would save it."""
    import jupytext

    sys.path.insert(0, str(NOTEBOOKS))
    import kernel_metadata

    paired = script.with_suffix(".ipynb")
    jupytext.write(notebook, paired)
    kernel_metadata.stamp(paired, kernel_metadata.kernel_metadata())
    return paired


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("numbers", nargs="*", help="notebook numbers, e.g. 07 08 (default: all)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell (default 3600)")
    args = parser.parse_args(argv)
    scripts = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    if args.numbers:
        unknown = set(args.numbers) - {s.name[:2] for s in scripts}
        if unknown:
            parser.error(f"no notebook numbered {sorted(unknown)}; there are {[s.name[:2] for s in scripts]}")
        scripts = [s for s in scripts if s.name[:2] in args.numbers]
    failed = 0
    for script in scripts:
        start = time.perf_counter()
        try:
            notebook = execute(script, args.timeout)
            problems = output_problems(notebook)
        except Exception as error:  # a failing cell: report it and go on with the others
            problems = [str(error).strip().splitlines()[-1][:200]]
        seconds = time.perf_counter() - start
        if problems:
            failed += 1
            print(f"{script.stem}: NOT stored ({seconds:.0f} s)")
            for line in problems:
                print("   ", line)
        else:
            size = store(script, notebook).stat().st_size
            flag = "" if size <= MAX_NOTEBOOK_BYTES else f"  (over {MAX_NOTEBOOK_BYTES:,} bytes)"
            failed += bool(flag)
            print(f"{script.stem}: stored, {seconds:.0f} s, {size / 1e6:.2f} MB{flag}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
