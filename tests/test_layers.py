"""The package's layout is its architecture: folders are layers, imports only go down.

Read from the source (no imports of raygen needed, except the last test, which checks
what a run-directory viewer pulls in at import time).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "raygen"

# the package root holds the entry point, the loop and the modules every layer shares
ROOT_MODULES = {"__init__", "__main__", "loop", "validate", "cluster", "atomic", "errors",
                "results"}
# folders of the package, top (the loop drives the steps) to bottom (shared science)
FOLDERS = {"steps", "state", "science", "config", "cli", "actors", "engines", "labelers",
           "selection", "props", "report", "examples", "simplify"}


def _modules() -> dict[str, Path]:
    mods = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = p
    return mods


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations, not a
    dependency at run time)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            out.update(id(n) for n in ast.walk(node))
    return out


def _imports() -> dict[str, set[str]]:
    """raygen module -> the raygen modules it imports (anywhere in it, lazily too;
    not the annotation-only imports under ``if TYPE_CHECKING:``)."""
    mods = _modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        skip = _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                           for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            edges[name].update(t for t in targets if t in mods and t not in (name, "raygen"))
    return edges


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v):
        state[v] = 1
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def _unit(module: str) -> str:
    """A folder of the package, or a module of its root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in FOLDERS) else module


def test_root_holds_only_the_shared_modules_and_the_folders_are_the_layers():
    root = {p.stem for p in PKG.glob("*.py")}
    assert root == ROOT_MODULES, f"modules at the package root: {sorted(root - ROOT_MODULES)}"
    folders = {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()}
    assert folders == FOLDERS


def test_no_import_cycle_between_modules():
    assert _cycle(_imports()) is None


def test_no_import_cycle_between_folders():
    units: dict[str, set[str]] = defaultdict(set)
    for a, targets in _imports().items():
        units[_unit(a)].update(_unit(b) for b in targets if _unit(b) != _unit(a))
    assert _cycle(units) is None


def test_nothing_below_the_steps_imports_a_step():
    # the drivers: the loop, and simplify's nine steps (which reuse the loop's)
    above = {"raygen.loop", "raygen.validate", "raygen.__main__", "raygen.simplify.run"}
    bad = {a: sorted(t for t in targets if t.startswith("raygen.steps"))
           for a, targets in _imports().items()
           if not a.startswith("raygen.steps") and a not in above}
    assert not {a: t for a, t in bad.items() if t}


def test_a_run_directory_viewer_imports_neither_ray_nor_deepmd_nor_the_steps():
    code = ("import sys\n"
            "import raygen.report.__main__, raygen.report.runinfo, raygen.report.page\n"
            "import raygen.report.whatif, raygen.report.summary\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('ray', 'deepmd', 'tensorflow', 'torch', 'lammps') or m.startswith('raygen.steps'))\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
