"""The rooms of the code base, checked: the domain imports nothing outside it; the read side
(``projections``) depends on the domain and the application's ports, never on the concrete
application; no two modules import each other, directly or in a circle; a module over about 500
lines says in its docstring why it is one concept (a paragraph starting "One concept:").

Imports are read from the source (``ast``), lazy ones inside functions included. Imports under
``if TYPE_CHECKING:`` run only in the type checker: they count for what a layer may depend on
(a type-only import of the concrete application is still a dependence on it), not for circles.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("registry", "projections")
GENERATED = "registry/api/v1/"  # the protobuf modules (*_pb2*.py) generated there are not ours
LONG = 500
#: Infrastructure the domain must not import (it may use eventsourcing's domain model and pure
#: algorithm libraries such as rapidfuzz).
INFRASTRUCTURE = ("sqlalchemy", "grpc", "psycopg", "google", "projections", "eventsourcing.application",
                  "eventsourcing.persistence", "eventsourcing.postgres", "eventsourcing.sqlite")
#: What the read side may import from ``registry``: the domain, the application's ports, the
#: configuration and the shared storage helpers (database URLs). ``projections/cli.py`` is an entry point (a command-line interface, like
#: ``registry/cli.py``) and may build the registry. The journal's store check
#: (``registry.journal.service``) is part of the log's storage: a rebuild asks it whether the log
#: it is about to trust still matches its Merkle tree.
READ_SIDE_MAY_IMPORT = ("registry.domain", "registry.application.ports", "registry.config", "registry.infrastructure",
                        "registry.journal.service")
ENTRY_POINTS = {"projections.cli", "projections.child"}  # command-line entry points


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(GENERATED) and "_pb2" in path.name:
                continue
            name = rel[:-3].replace("/", ".")
            found[name.removesuffix(".__init__")] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path, type_checking: bool = False) -> set[str]:
    """The modules ``module`` imports; with ``type_checking``, those under TYPE_CHECKING too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node) and not type_checking:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: {i for i in _imports(m, p) if i in modules and i != m} for m, p in modules.items()}


def test_the_domain_imports_nothing_outside_the_domain() -> None:
    modules = _modules()
    wrong = {
        m: sorted(i for i in _imports(m, p, type_checking=True)
                  if (i.startswith("registry.") and not i.startswith("registry.domain"))
                  or i == "registry" or i.startswith(INFRASTRUCTURE))
        for m, p in modules.items() if m.startswith("registry.domain")
    }
    assert {m: i for m, i in wrong.items() if i} == {}


def test_the_read_side_imports_the_domain_and_the_application_ports_only() -> None:
    modules = _modules()
    wrong = {
        m: sorted(i for i in _imports(m, p, type_checking=True)
                  if i.startswith("registry") and not i.startswith(READ_SIDE_MAY_IMPORT))
        for m, p in modules.items() if m.startswith("projections") and m not in ENTRY_POINTS
    }
    assert {m: i for m, i in wrong.items() if i} == {}


def test_the_read_side_never_imports_the_concrete_application() -> None:
    """Named on its own: the registry's ``Registry`` (service) and its command executor stay out of
    ``projections`` (only the command-line entry points build a registry)."""
    concrete = ("registry.application.service", "registry.application.executor", "registry.application.compliance")
    wrong = {
        m: sorted(i for i in _imports(m, p, type_checking=True) if i.startswith(concrete))
        for m, p in _modules().items() if m.startswith("projections") and m not in ENTRY_POINTS
    }
    assert {m: i for m, i in wrong.items() if i} == {}


def test_no_module_imports_itself_through_a_circle() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            # a package and the modules it re-exports are one unit, not a circle
            members = [c for c in component if not any(o.startswith(c + ".") for o in component)]
            if len(members) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    assert circles == []


def test_a_long_module_says_in_its_docstring_why_it_is_one_concept() -> None:
    unexplained = []
    for module, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= LONG:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", doc)]
        if not any(p.startswith("One concept:") for p in paragraphs):
            unexplained.append(f"{module} ({text.count(chr(10))} lines)")
    assert unexplained == []
