"""The package's import graph: no cycles, the model independent of the weights, every module
importable on its own.

The graph is read from the source (``ast``, nothing executed): every ``import`` and
``from ... import`` of a ``ritm_lite`` module, those inside functions included (a lazy import
still closes a circle; it only hides it until the function runs), but not those under
``if TYPE_CHECKING:``, which never run. ``from package import name`` counts as importing the
submodule ``package.name`` when there is one, else the package. Importing ``a.b.c`` also runs
``a/__init__`` and ``a/b/__init__``; those implicit edges are left out, since a package whose
``__init__`` re-exports its submodules would otherwise be a circle with each of them.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ritm_lite"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST):
    """Every node except the bodies of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
            else:
                stack.append(child)


def imports_of(name: str, modules: dict[str, Path] = MODULES) -> set[str]:
    """The ``ritm_lite`` modules that module ``name`` imports at run time."""
    path = modules[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
    return {m for m in found if m in modules and m != name}


def import_graph(modules: dict[str, Path] = MODULES) -> dict[str, set[str]]:
    return {name: imports_of(name, modules) for name in modules}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = iter(range(10**9))

    def visit(node: str) -> None:
        index[node] = low[node] = next(counter)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_graph_reader_sees_relative_lazy_and_type_checking_imports(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    files = {
        "pkg/__init__.py": "from .a import f\n",
        "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import g\n"
                    "def f():\n    from .sub import c\n",
        "pkg/b.py": "from . import a\nimport pkg.sub.c\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "from ..b import x\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    modules = {".".join(Path(rel).with_suffix("").parts).removesuffix(".__init__"): tmp_path / rel
               for rel in files}
    graph = import_graph(modules)
    assert graph["pkg"] == {"pkg.a"}
    assert graph["pkg.a"] == {"pkg.sub.c"}  # lazy counts, TYPE_CHECKING does not
    assert graph["pkg.b"] == {"pkg.a", "pkg.sub.c"} and graph["pkg.sub.c"] == {"pkg.b"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]  # through the lazy import in a.f


def test_no_import_cycle_among_ritm_lite_modules():
    found = cycles(import_graph())
    assert not found, "import cycles (each a set of modules that import each other):\n" + "\n".join(
        "  " + " <-> ".join(c) for c in found)


def test_the_model_never_imports_the_weights():
    graph = import_graph()
    offenders = {name: sorted(m for m in graph[name] if m == "ritm_lite.weights" or m.startswith("ritm_lite.weights."))
                 for name in graph if name == "ritm_lite.model" or name.startswith("ritm_lite.model.")}
    assert "ritm_lite.model.safe_load" in graph["ritm_lite.weights.registry"]  # the reader sees the other way
    assert not {k: v for k, v in offenders.items() if v}


def _import_alone(name: str) -> str | None:
    """Import ``name`` in a fresh interpreter; its error output if that fails."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    return None if done.returncode == 0 else done.stderr[-2000:]


@pytest.mark.slow
def test_every_module_imports_on_its_own():
    """``python -c "import ritm_lite.X"`` for every module, each in a fresh interpreter (~3 s each)."""
    names = sorted(m for m in MODULES if not m.endswith("__main__"))
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        errors = dict(zip(names, pool.map(_import_alone, names)))
    failed = {name: error for name, error in errors.items() if error is not None}
    assert not failed, "\n\n".join(f"import {name}:\n{error}" for name, error in failed.items())
