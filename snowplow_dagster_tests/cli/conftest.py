"""Each command-line test gets its own persistent Dagster home and working directory."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from snowplow_dagster.resources.storage import LocalStorage, Location
from snowplow_dagster_tests.fixtures.s3 import Backend


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def instance(dagster_home: Path) -> Iterator[dg.DagsterInstance]:
    """The instance the commands use, as a test reads it back."""
    with dg.DagsterInstance.get() as opened:
        yield opened


@pytest.fixture
def backend(tmp_path: Path) -> Backend:
    """The embedded default's storage: local folders (the S3 path is the platform tests' job)."""
    root = tmp_path / "bucket"
    root.mkdir()
    return Backend("local", LocalStorage(), Location.parse(f"{root}/"))
