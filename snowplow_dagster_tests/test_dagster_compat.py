"""Dagster's private modules are imported by ``dagster_compat`` alone."""

import ast
from pathlib import Path

import snowplow_dagster

PACKAGE = Path(snowplow_dagster.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
    return names


def test_only_the_compatibility_module_imports_private_dagster() -> None:
    private = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.startswith("dagster._") for name in _imported_modules(path))
    }
    assert private == {"dagster_compat.py"}
