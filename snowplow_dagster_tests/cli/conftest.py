"""Each command-line test gets its own persistent Dagster home and working directory."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from snowplow_dagster.assets import archived_logs, staged_logs
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster_tests.cli.helpers import LineCountingEngine
from snowplow_dagster_tests.fixtures.s3 import Backend, new_backend
from snowplow_dagster_tests.platform.helpers import write_config


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
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The embedded default's storage: local folders (the S3 path is the platform tests' job),
    unless a test is parametrized with ``ON_S3_AND_LOCAL``."""
    return new_backend(getattr(request, "param", "local"), request, tmp_path)


@pytest.fixture
def config(backend: Backend, tmp_path: Path) -> Path:
    return write_config(tmp_path / "config.yml", backend.root)


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> LineCountingEngine:
    """Enrichment without Spark, and moves retried at once (no 10 s back-off)."""
    counting = LineCountingEngine()
    monkeypatch.setattr(SnowplowPipeline, "execution_engine", lambda self: counting)
    for asset in (staged_logs, archived_logs):
        monkeypatch.setattr(asset.op, "_retry_policy", dg.RetryPolicy(max_retries=1))
    return counting
