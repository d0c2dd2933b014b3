"""The Dagster instance the commands run on: the one the UI shows.

``$DAGSTER_HOME`` when it is set (``DagsterInstance.get()``, as ``dagster dev`` uses it); otherwise
``./.dagster_home`` in the current directory, the folder ``make dev`` uses from the repository root,
so ``snowplow-dagster run`` there and ``make dev`` share runs, partitions and materialisations.
Never an ephemeral instance: a run nobody can look at afterwards is no use to an operator.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

DEFAULT_HOME = ".dagster_home"
DEFAULT_SETTINGS = "telemetry:\n  enabled: false\n"
"""Written to a new default home when there is no ``dagster.yaml`` beside it to link to."""


def dagster_home() -> Path:
    """Where the instance lives (absolute), created with its settings when it is the default."""
    configured = os.environ.get("DAGSTER_HOME")
    if configured:
        return Path(configured).resolve()
    home = Path(DEFAULT_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists() and not settings.is_symlink():
        repo_settings = home.parent / "dagster.yaml"  # the repository's, as `make dev` links it
        if repo_settings.is_file():
            settings.symlink_to(Path("..") / "dagster.yaml")
        else:
            settings.write_text(DEFAULT_SETTINGS)
    return home


def log_file(home: Path) -> Path:
    """Where the commands append the runs' detailed console logs."""
    return home / "logs" / "snowplow-dagster.log"


def open_instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home()))


def ui_command(home: Path, extra_env: dict[str, str] | None = None) -> str:
    """The command that opens the UI on this instance and code location, from any directory."""
    env = " ".join(f"{name}={value}" for name, value in (extra_env or {}).items())
    prefix = f"{env} " if env else ""
    return f"{prefix}DAGSTER_HOME={home} dagster dev -m snowplow_dagster.definitions"
