"""The Dagster instance the commands run on: the one the UI shows.

``$DAGSTER_HOME`` when it is set (``DagsterInstance.get()``, as ``dagster dev`` uses it); otherwise
``./.dagster_home`` in the current directory, the folder ``make dev`` uses from the repository root,
so ``snowplow-dagster run`` there and ``make dev`` share runs, partitions and materialisations.
Never an ephemeral instance: a run nobody can look at afterwards is no use to an operator.

Either way the home gets the project's ``dagster.yaml`` when it has none (``make dev`` does the
same), so the run and pool limits and the telemetry setting apply to every command and the UI.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import dagster as dg

DEFAULT_HOME = ".dagster_home"
PROJECT_SETTINGS = Path(__file__).resolve().parents[2] / "dagster.yaml"
"""The repository's ``dagster.yaml`` (present in a clone, which the package is installed from)."""
DEFAULT_SETTINGS = "telemetry:\n  enabled: false\n"
"""Written to a home without settings when the project's file is not there (a wheel install)."""


def dagster_home() -> Path:
    """Where the instance lives (absolute), created with its settings when absent."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists() and not settings.is_symlink():
        if PROJECT_SETTINGS.is_file():
            shutil.copyfile(PROJECT_SETTINGS, settings)
        else:
            settings.write_text(DEFAULT_SETTINGS)
    return home


def log_file(home: Path) -> Path:
    """Where the commands append the runs' detailed console logs."""
    return home / "logs" / "snowplow-dagster.log"


def open_instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home()))


def ui_command(home: Path, extra_env: dict[str, str] | None = None) -> str:
    """The command that opens the UI on this instance and code location, from any directory, as
    printed: absolute paths, the ``dagster`` of this installation, and the variables the code
    location's resource and sensor read (``SNOWPLOW_DAGSTER_*``) with this process's values."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name.startswith("SNOWPLOW_DAGSTER_") and value
    }
    env.update(extra_env or {})
    ordered = [*sorted(env.items()), ("DAGSTER_HOME", str(home))]
    assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in ordered)
    dagster = shlex.quote(str(Path(sys.executable).with_name("dagster")))
    return f"{assignments} {dagster} dev -m snowplow_dagster.definitions"
