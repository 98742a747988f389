"""Tests that need ../shared skip in a user's clone but fail under CI; the library and the
notebooks never name ../shared (they find data through ``ritm_lite.data.locate``)."""

import ast
import re
import subprocess
import sys

import pytest

from ritm_lite.utils import PROJECT_ROOT


@pytest.mark.parametrize("ci, outcome", [("", "1 skipped"), ("true", "1 error")])
def test_missing_shared_skips_locally_and_fails_in_ci(tmp_path, ci, outcome):
    test_file = PROJECT_ROOT / "tests" / "model" / "test_checkpoint.py"
    env = {"PATH": "/usr/bin:/bin", "RITM_SHARED": str(tmp_path / "nowhere"), "CI": ci,
           "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(PROJECT_ROOT),
         f"{test_file}::test_official_format_loads_and_reproduces_the_reference_outputs"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert outcome in result.stdout, result.stdout + result.stderr
    assert "nowhere" in result.stdout  # the reason names the missing path


# ---------------------------------------------------------------- no library code looks in ../shared

_SHARED_PART = re.compile(r"(^|[/\\])shared([/\\]|$)")
_SHARED_NAMES = {"shared_dir", "shared_path", "RITM_SHARED"}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def shared_references(source: str) -> list[str]:
    """Code (not docstrings or comments) in ``source`` that names the ``shared`` folder: a string
    with ``shared`` as a path part, the old helpers' names, or a ``/ "shared"`` path join."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if _SHARED_PART.search(node.value) or node.value in _SHARED_NAMES:
                found.append(f"line {node.lineno}: {node.value!r}")
        elif isinstance(node, ast.Name) and node.id in _SHARED_NAMES:
            found.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in _SHARED_NAMES:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.alias) and node.name in _SHARED_NAMES:
            found.append(f"import {node.name}")
    return found


def test_the_guard_sees_each_way_of_naming_shared():
    assert shared_references('"""Golden outputs live in ../shared."""\nx = 1\n') == []
    for code in ('root = PROJECT_ROOT.parent / "shared"', 'p = "../shared/data/GrabCut"',
                 "from ritm_lite.utils import shared_dir", "root = utils.shared_dir()",
                 'os.environ["RITM_SHARED"]'):
        assert shared_references(code), code


def test_no_library_module_or_benchmark_script_looks_in_shared():
    offenders = {}
    for path in sorted([*(PROJECT_ROOT / "ritm_lite").rglob("*.py"), *(PROJECT_ROOT / "benchmarks").glob("*.py")]):
        found = shared_references(path.read_text())
        if found:
            offenders[str(path.relative_to(PROJECT_ROOT))] = found
    assert offenders == {}, "find data with ritm_lite.data.locate, not in ../shared"


NOTEBOOK_FILES = [*sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.py")),
                  *sorted((PROJECT_ROOT / "notebooks" / "solutions").glob("*.py"))]


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: str(p.relative_to(PROJECT_ROOT / "notebooks")))
def test_no_notebook_names_shared(path):
    """Not in code, not in markdown: a student has no ../shared."""
    text = path.read_text()
    assert "../shared" not in text and "shared_dir" not in text, path.name
    assert shared_references(text) == [], path.name
