"""The import rules of CONTRIBUTING.md's map hold: each package imports only what its layer may."""

import ast
from collections import defaultdict
from pathlib import Path

SOURCE = Path(__file__).parents[1] / "src" / "registry"

FOUNDATION = {"config", "database", "models", "caching", "locations"}
# The edge's internals: what only the app wires in; domains use errors, dependencies, etags,
# pagination and idempotency's documented answers.
EDGE_FOR_DOMAINS = {"errors", "dependencies", "etags", "pagination", "idempotency"}
DOMAINS = {
    "audit",
    "health",
    "hsds",
    "initiators",
    "introductions",
    "listings",
    "matching",
    "notifications",
    "organizations",
    "partners",
    "programs",
    "reports",
    "taxonomies",
    "web",
}
TOOLS = {"cli", "seeding", "synthetic"}
# What each package may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "locations": set(),
    "database": {"config"},
    "models": {"database"},
    "caching": {"database", "models"},
    "auth": {"database", "models", "http.errors"},
    "http": {"config", "database", "models", "auth"},
    **{
        domain: FOUNDATION | {"auth"} | {f"http.{m}" for m in EDGE_FOR_DOMAINS} | DOMAINS
        for domain in DOMAINS
    },
    "seeding": FOUNDATION | {"auth", "http.errors"} | DOMAINS,
    "synthetic": FOUNDATION | {"taxonomies"},
    "cli": FOUNDATION | {"auth", "app", "seeding", "synthetic"} | DOMAINS,
}


def imports() -> dict[str, set[str]]:
    """module (dotted, under registry) -> registry modules it imports."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in SOURCE.rglob("*.py"):
        module = ".".join(path.relative_to(SOURCE).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("registry."):
                    found[module].add(name.removeprefix("registry."))
    return found


def package(module: str) -> str:
    return module.split(".")[0]


def allowed(source: str, target: str) -> bool:
    src, dst = package(source), package(target)
    if src == dst or src == "app":
        return True
    rules = ALLOWED.get(src)
    assert rules is not None, (
        f"{source}: a package the map does not place; add it to CONTRIBUTING.md and here"
    )
    if dst == "http":
        return "http" in rules or any(target == r or target.startswith(f"{r}.") for r in rules)
    return dst in rules


def test_every_package_imports_only_what_its_layer_may() -> None:
    broken = sorted(
        f"{source} imports {target}"
        for source, targets in imports().items()
        for target in targets
        if not allowed(source, target) and not (package(target) == "http" and target.split(".")[1:2] == [""])
    )
    assert broken == []


def test_only_the_app_wires_routes_and_services_never_import_them() -> None:
    for source, targets in imports().items():
        for target in targets:
            if target.endswith(".routes") and package(target) != package(source):
                assert package(source) == "app", f"{source} imports {target}"
            if source.endswith(".service"):
                assert not target.endswith(".routes"), f"{source} imports {target}"


def test_the_map_names_every_package() -> None:
    packages = {p.name for p in SOURCE.iterdir() if (p / "__init__.py").exists() or p.suffix == ".py"}
    packages = {p.removesuffix(".py") for p in packages} - {"__init__", "py", "docs"}
    mapped = set(ALLOWED) | {"app"}
    assert packages <= mapped, packages - mapped
    contributing = (SOURCE.parents[1] / "CONTRIBUTING.md").read_text()
    for name in packages:
        assert f"`{name}" in contributing or f"{name}/" in contributing or f"{name}.py" in contributing, name
