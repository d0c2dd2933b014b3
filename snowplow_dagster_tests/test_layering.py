"""The package's layers, bottom up; an import only ever points down.

Walks every module's imports (``ast``, so nothing is executed) and checks the rules the README's
Development section states: storage imports nothing else of the package; the batch core never
reaches up into the engines, the Dagster layer or the CLI; the enrichment application stands alone,
because it is shipped to EMR without the rest of the package. Dagster's private modules are
imported by ``dagster_compat`` alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import snowplow_dagster

PACKAGE = Path(snowplow_dagster.__file__).parent
NAME = "snowplow_dagster"

RULES: dict[str, tuple[str, ...]] = {
    # layer: the package-level names it may import (its own always allowed)
    "storage": (),
    "config": ("storage",),
    "batches": ("storage", "config"),
    "enrich": (),
    "engines": ("storage", "config", "enrich"),
}


def _module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Absolute names of the modules (and imported names) this file imports, relative imports
    resolved."""
    tree = ast.parse(path.read_text(), str(path))
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _ours(names: set[str]) -> set[str]:
    return {name for name in names if name.startswith(NAME + ".")}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _existing(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative).is_dir()


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_only_what_is_below_it(layer: str) -> None:
    allowed = {layer, *RULES[layer]}
    offending = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for imported in sorted(_ours(_imports(path))):
            if _existing(imported) and _layer(imported) not in allowed:
                offending.append(f"{path.relative_to(PACKAGE.parent)} imports {imported}")
    assert not offending, "\n".join(offending)


def test_the_walker_sees_absolute_from_and_relative_imports(tmp_path: Path) -> None:
    """The rules are only as good as the walker: every import form must be seen."""
    module = tmp_path / NAME / "batches" / "probe.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "import snowplow_dagster.engines.steps\n"
        "from snowplow_dagster import cli\n"
        "from ..assets import raw\n"
        "from . import claiming\n"
        "from dagster._core import storage\n"
    )
    assert _ours(_imports(module, root=tmp_path)) == {
        f"{NAME}.engines.steps",
        f"{NAME}.cli",
        f"{NAME}.assets",
        f"{NAME}.assets.raw",
        f"{NAME}.batches",
        f"{NAME}.batches.claiming",
    }


def test_only_the_compatibility_module_imports_private_dagster() -> None:
    """Dagster's private modules may move in a minor release: one file to mend when they do."""
    private = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.startswith("dagster._") for name in _imports(path))
    }
    assert private == {"dagster_compat.py"}
