"""The package structure: imports point down the layers, no import circles, no module over 400 lines.

A static check over the source (``ast``): every import statement counts, also those inside functions and under
``if TYPE_CHECKING``, since a function-level import that points up is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tlcore", "ui")
MAX_LINES = 400

# Bottom to top: a module may import from its own layer and the layers below it, never from one above.
LAYERS = (
    ("tlcore", "tlcore.errors", "tlcore.atomic", "tlcore.events", "tlcore.workspace", "tlcore.metrics",
     "tlcore.runtime"),
    ("tlcore.data",),
    ("tlcore.models",),
    ("tlcore.train",),
    ("tlcore.runs",),
    ("tlcore.evaluate",),
    ("tlcore.auto",),
    ("tlcore.explain",),
    ("tlcore.jobs",),
    ("tlcore.cli", "tlcore.__main__"),
    ("ui",),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` (a module, or a module's attribute) names."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module that ``path`` imports, wherever the import statement stands."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pkg import sub` imports the submodule when there is one, else a name of pkg itself
            targets = [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            resolved = resolve(target, modules)
            if resolved is not None and resolved != name:
                found.add(resolved)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def layer_of(module: str) -> int:
    best, best_len = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    if best < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return best


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_circles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import circles (function-level imports included):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_imports_point_down_the_layers() -> None:
    upward = [f"{a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)})"
              for a, targets in sorted(import_graph().items()) for b in sorted(targets) if layer_of(b) > layer_of(a)]
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_no_module_over_the_line_limit() -> None:
    long = [f"{path.relative_to(ROOT)}: {n} lines" for path in source_modules().values()
            if (n := len(path.read_text().splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines:\n" + "\n".join(long)


def test_the_engine_never_imports_streamlit_or_the_app() -> None:
    offenders = []
    for name, path in source_modules().items():
        if not name.startswith("tlcore"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{name} imports {n}" for n in names if n.split(".")[0] in ("streamlit", "ui", "pages")]
    assert not offenders, "\n".join(offenders)


# The checks themselves, on small graphs with known answers


def test_find_cycles_reports_a_circle_through_a_function_level_import(tmp_path: Path) -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_imported_modules_sees_imports_inside_functions_and_relative_ones(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    pkg = tmp_path / "tlcore"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "low.py").write_text("X = 1\n")
    (pkg / "sub" / "high.py").write_text("def f():\n    from ..low import X\n    from . import other\n")
    (pkg / "sub" / "other.py").write_text("")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    modules = {module_name(p): p for p in pkg.rglob("*.py")}
    assert imported_modules("tlcore.sub.high", pkg / "sub" / "high.py", modules) == {"tlcore.low", "tlcore.sub.other"}


def test_the_design_document_maps_every_module() -> None:
    design = (ROOT / "docs" / "DESIGN.md").read_text()
    missing = [f"{path.relative_to(ROOT).as_posix()}" for path in source_modules().values()
               if f"`{path.relative_to(ROOT).as_posix()}`" not in design]
    assert not missing, ("modules missing from the module map of docs/DESIGN.md (python scripts/module_map.py "
                         "--write):\n" + "\n".join(missing))
