"""Store in each course notebook the kernel metadata JupyterLab writes when it opens one.

JupyterLab connects a kernel to a notebook it opens and copies the kernel's description into
the notebook's metadata: ``kernelspec`` (its name and display name) and ``language_info``
(the language, its version, the lexer...). A notebook that lacks them, or holds another
Python's version, is therefore changed the moment it is opened, and shows as modified. This
script writes what this environment's ``python3`` kernel reports into every ``NN_*.ipynb``;
``make sync-notebooks`` runs it after ``jupytext --sync``, and ``tests/course/test_notebooks.py``
fails when a notebook's copy is stale (e.g. after a Python upgrade)::

    python notebooks/kernel_metadata.py           # rewrite the notebooks whose copy is stale
    python notebooks/kernel_metadata.py --check   # exit 1 and name them instead
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parent
KERNEL = "python3"


def kernel_metadata(kernel: str = KERNEL) -> dict:
    """``{"kernelspec": ..., "language_info": ...}`` as JupyterLab stores them for ``kernel``.

    ``kernelspec`` comes from the installed kernel spec; ``language_info`` is ipykernel's own
    description of the running Python, the one its ``kernel_info`` reply sends.
    """
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(kernel)
    return {
        "kernelspec": {"display_name": spec.display_name, "language": spec.language, "name": kernel},
        "language_info": json.loads(json.dumps(IPythonKernel.language_info)),
    }


def stale(path: Path, expected: dict) -> bool:
    """Whether the notebook ``path`` would change when JupyterLab opens it."""
    metadata = json.loads(path.read_text())["metadata"]
    return any(metadata.get(key) != value for key, value in expected.items())


def stamp(path: Path, expected: dict) -> None:
    """Write ``expected`` into the metadata of the notebook ``path`` (jupytext's layout kept)."""
    notebook = json.loads(path.read_text())
    notebook["metadata"].update(expected)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report the stale notebooks")
    args = parser.parse_args(argv)
    expected = kernel_metadata()
    notebooks = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    todo = [path for path in notebooks if stale(path, expected)]
    for path in todo:
        if args.check:
            print(f"{path.name}: kernel metadata differs from this environment's")
        else:
            stamp(path, expected)
            print(f"{path.name}: kernel metadata updated")
    return 1 if args.check and todo else 0


if __name__ == "__main__":
    sys.exit(main())
