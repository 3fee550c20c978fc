"""The layout the code keeps (issue #12): `cases` depends on no other app of ours, and no
module of ours imports another inside a function (where an import cycle would hide) or sits in
an import cycle."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("api", "cases", "config", "demo", "evidence", "web")


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, whether inside a function) for each import of ours in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    result = []

    def visit(node, nested):
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                result.extend((alias.name, inner) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                result.append((child.module, inner))
                result.extend((f"{child.module}.{alias.name}", inner) for alias in child.names)
            visit(child, inner)

    visit(tree, False)
    return [(name, inner) for name, inner in result if name.split(".")[0] in APPS]


def test_cases_imports_no_other_app():
    modules = _modules()
    wrong = [
        (name, imported)
        for name, path in modules.items()
        if name.startswith("cases")
        for imported, _ in _imports(path)
        if imported.split(".")[0] not in ("cases", "config")
    ]
    assert wrong == []


def test_no_import_inside_a_function():
    # An app's `ready()` imports what it connects once the models are loaded: Django's way.
    modules = {n: p for n, p in _modules().items() if not n.endswith(".apps")}
    inside = sorted(
        {
            (name, imported)
            for name, path in modules.items()
            for imported, nested in _imports(path)
            if nested and imported in modules
        }
    )
    assert inside == []


def test_no_import_cycles():
    modules = _modules()
    graph = {
        name: {
            imported for imported, _ in _imports(path) if imported in modules and imported != name
        }
        for name, path in modules.items()
    }
    cycles = []
    state = {}

    def walk(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                walk(nxt, [*stack, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert cycles == []


PURE_PACKAGES = ("evidence.imaging", "evidence.bundle")
# What a pure module may import of ours besides the pure packages: the settings, the
# activity record's chain check (a bundle is verified with the one check the database uses)
# the newsroom key's signature check and the RFC 3161 token check (cases.timestamps, no ORM).
PURE_ALLOWED = (
    *PURE_PACKAGES,
    "config",
    "cases.activity",
    "cases.signing",
    "cases.timestamps",
)


def _all_imports(path: Path) -> list[str]:
    """Every module the file imports, ours or not."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_orm(imported: str) -> bool:
    parts = imported.split(".")
    return (
        imported.startswith("django.db")
        or "models" in parts
        or "services" in parts
        or "selectors" in parts
    )


def test_pure_modules_import_no_orm():
    # Decoding, metadata, flags and the bundle format are pure: no database, no models, no
    # services (the services own the rows and call these).
    pure = {n: p for n, p in _modules().items() if n.startswith(PURE_PACKAGES)}
    assert set(pure) >= {
        "evidence.imaging.sniff",
        "evidence.imaging.decode",
        "evidence.imaging.metadata",
        "evidence.imaging.flags",
        "evidence.bundle.manifest",
        "evidence.bundle.report",
        "evidence.bundle.verify",
    }
    wrong = sorted(
        (name, imported)
        for name, path in pure.items()
        for imported in _all_imports(path)
        if _is_orm(imported)
        or (imported.split(".")[0] in APPS and not imported.startswith(PURE_ALLOWED))
    )
    assert wrong == []
