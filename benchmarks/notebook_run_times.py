"""Wall time of a full Run All of each course notebook, at its default (not smoke) size.

Each notebook runs as a student's Run All does (the exercise cells left as they are), in a
fresh kernel, from the notebooks folder; the executed copies go to ``--out`` (the sources are
not touched). Prints one table row per notebook and the total.

    python benchmarks/notebook_run_times.py                  # every notebook
    python benchmarks/notebook_run_times.py 07 08 --out /tmp/nb

Timings mean something only on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks import flags  # noqa: E402
NOTEBOOKS = ROOT / "notebooks"


def run(script: Path, out: Path, timeout: int) -> tuple[float, str]:
    """(seconds, "ok" or the error's first line) of one Run All."""
    notebook = jupytext.read(script)
    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    try:
        client.execute()
        status = "ok"
    except Exception as error:  # a failing cell: report it, keep timing the others
        status = f"error: {str(error).strip().splitlines()[-1][:80]}"
    seconds = time.perf_counter() - start
    nbformat.write(notebook, out / f"{script.stem}.ipynb")
    return seconds, status


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("numbers", nargs="*", help="notebook numbers (default: all)")
    parser.add_argument("--out", type=Path, help="where executed copies go (default: a new temporary folder)")
    parser.add_argument("--timeout", type=flags.count(1, 7 * 86_400), default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    args.out = args.out or Path(tempfile.mkdtemp(prefix="ritm_notebooks_"))
    if args.out.is_file():
        parser.error(f"--out must be a folder, {args.out} is a file")
    os.environ.pop("RITM_SMOKE", None)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    scripts = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    if args.numbers:
        unknown = sorted(set(args.numbers) - {s.name[:2] for s in scripts})
        if unknown:
            parser.error(f"no notebook numbered {unknown[0]}; choose from {', '.join(s.name[:2] for s in scripts)}")
        scripts = [s for s in scripts if s.name[:2] in args.numbers]
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}; executed copies in {args.out}")
    print("| notebook | Run All, s | |\n| --- | --- | --- |")
    total = 0.0
    for script in scripts:
        seconds, status = run(script, args.out, args.timeout)
        total += seconds
        print(f"| {script.stem} | {seconds:.0f} | {status} |", flush=True)
    print(f"| **all** | **{total:.0f}** | |")


if __name__ == "__main__":
    main()
