"""Running a command line's ``main(argv)`` in-process, as the bad-input tests do."""

from __future__ import annotations

from collections.abc import Callable


def run_main(main: Callable[[list[str]], int], argv: list[str], capsys) -> tuple[int, str]:
    """``(exit code, stderr)`` of ``main(argv)``; argparse's ``SystemExit`` counts as its code."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err
