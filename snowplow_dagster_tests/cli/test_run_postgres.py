"""``snowplow-dagster run ... -t targets/``: the cron path loads each batch into PostgreSQL, on a
Dagster instance whose run and event-log storage is PostgreSQL too (``dagster.postgres.yaml``);
a bad target stops the pass before anything moves, and the password shows nowhere."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

import snowplow_dagster.assets.loaded as loaded_module
from snowplow_dagster.assets import archived_logs, staged_logs
from snowplow_dagster.cli import main
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS
from snowplow_dagster_tests.cli.helpers import LineCountingEngine, run_args
from snowplow_dagster_tests.fixtures.postgres import (
    POSTGRES_TARGET_SCHEMA,
    SUPERUSER_PASSWORD,
    PostgresDatabase,
)
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.loading.helpers import PythonEnrichingEngine
from snowplow_dagster_tests.platform.helpers import put_raw_logs, write_config

REPO = Path(__file__).parents[2]


@pytest.fixture
def config(backend: Backend, tmp_path: Path) -> Path:
    return write_config(tmp_path / "config.yml", backend.root)


def write_targets(folder: Path, document: dict[str, object]) -> Path:
    folder.mkdir()
    path = folder / "postgresql.json"
    path.write_text(json.dumps(document, indent=2))
    return path


@pytest.mark.parametrize("problem", ["wrong password", "unreachable host"])
def test_a_bad_target_exits_1_naming_its_file_before_anything_moves(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    dagster_home: Path,
    postgres_database: PostgresDatabase,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    problem: str,
) -> None:
    engine = LineCountingEngine()
    monkeypatch.setattr(SnowplowPipeline, "execution_engine", lambda self: engine)
    put_raw_logs(backend, tmp_path, "in/", events=40, files=2)
    raw = backend.objects("in/")
    wrong = SUPERUSER_PASSWORD + "-typo"
    if problem == "wrong password":
        document = postgres_database.target(password=wrong)
    else:
        document = postgres_database.target(host="127.0.0.1", port=1)
    path = write_targets(tmp_path / "targets", document)

    assert main(run_args(config, "-t", str(tmp_path / "targets"))) == 1

    out, err = capsys.readouterr()
    assert "Cannot connect to the PostgreSQL target PostgreSQL enriched events storage" in err
    assert str(path) in err
    assert SUPERUSER_PASSWORD not in out + err
    assert backend.objects("in/") == raw  # nothing claimed, staged or moved
    assert backend.objects("processing/") == {} and engine.calls == 0
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_records() == []


def test_an_invalid_target_file_exits_1_naming_file_and_key(
    config: Path, tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_targets(
        tmp_path / "targets",
        {
            "schema": POSTGRES_TARGET_SCHEMA,
            "data": {"host": "localhost", "port": 0, "database": "d", "username": "u"},
        },
    )
    assert main(run_args(config, "-t", str(tmp_path / "targets"))) == 1
    err = capsys.readouterr().err
    assert str(path) in err and "data.port" in err and "data.schema: is required" in err


def _instance_on_postgres(
    dagster_home: Path, database: PostgresDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repository's shared-deployment instance file, as an operator would install it."""
    shutil.copy(REPO / "dagster.postgres.yaml", dagster_home / "dagster.yaml")
    server = database.server
    for name, value in {
        "DAGSTER_PG_HOST": server.host,
        "DAGSTER_PG_PORT": str(server.port),
        "DAGSTER_PG_USER": server.user,
        "DAGSTER_PG_PASSWORD": server.password,
        "DAGSTER_PG_DB": database.name,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.spark
def test_the_cron_path_loads_each_batch_once_on_an_instance_stored_in_postgres(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    dagster_home: Path,
    postgres_database: PostgresDatabase,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _instance_on_postgres(dagster_home, postgres_database, monkeypatch)
    put_raw_logs(backend, tmp_path, "in/", events=300, files=2)
    write_targets(tmp_path / "targets", postgres_database.target())
    args = run_args(
        config, "-n", str(SAMPLE_ENRICHMENTS), "-t", str(tmp_path / "targets"), "-l", "etl.lock"
    )

    assert main(args) == 0

    out, err = capsys.readouterr()
    assert "Completed successfully" in out
    with dg.DagsterInstance.get() as instance:
        [batch] = instance.get_dynamic_partitions("batches")
        [record] = instance.get_run_records()
        assert record.dagster_run.status is dg.DagsterRunStatus.SUCCESS
        loaded = instance.get_latest_materialization_event(dg.AssetKey("loaded_events"))
        assert loaded is not None and loaded.asset_materialization is not None
        assert loaded.asset_materialization.partition == batch
        [check] = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("loaded_events"), "loaded_rows"), limit=5
        )
        assert check.status.value == "SUCCEEDED"
        events = instance.all_logs(record.dagster_run.run_id)
    [counts] = [
        json.loads(data)
        for key, data in backend.objects("").items()
        if key.endswith(f"enrich_counts/{batch}.json")
    ]
    with postgres_database.connect() as connection:
        # Dagster's own tables are in this database: the run and its event log live there.
        assert connection.execute("SELECT count(*) FROM runs").fetchone() == (1,)
        stored = connection.execute("SELECT count(*) FROM event_logs").fetchone()
        assert stored is not None and stored[0] == len(events)
        leaked = connection.execute(
            "SELECT count(*) FROM event_logs WHERE event LIKE %s", [f"%{SUPERUSER_PASSWORD}%"]
        ).fetchone()
        assert leaked == (0,)
        assert connection.execute("SELECT count(*) FROM atomic.events").fetchone() == (
            counts["good_events"],
        )
        assert counts["good_events"] > 0
        joined = connection.execute(
            "SELECT count(*) FROM atomic.com_snowplowanalytics_snowplow_ua_parser_context_1 c "
            "JOIN atomic.events e ON c.root_id = e.event_id"
        ).fetchone()
        assert joined == (counts["good_events"],)
    assert SUPERUSER_PASSWORD not in out + err
    assert SUPERUSER_PASSWORD not in (dagster_home / "logs" / "snowplow-dagster.log").read_text()
    assert len(backend.objects(f"archive/raw/run={batch}/")) == 2

    # Nothing left: the next pass has no data, and nothing is loaded twice.
    assert main(args) == 3
    with postgres_database.connect() as connection:
        assert connection.execute("SELECT count(*) FROM atomic.events").fetchone() == (
            counts["good_events"],
        )


def test_a_failed_load_leaves_the_archive_done_and_the_next_run_loads_it(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    dagster_home: Path,
    postgres_database: PostgresDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Archiving raw does not wait for the load; ``--resume-from rdb_load`` is not even needed:
    the batch is unfinished until it is loaded, and the next run loads it."""
    engine = PythonEnrichingEngine()
    monkeypatch.setattr(SnowplowPipeline, "execution_engine", lambda self: engine)
    for asset in (staged_logs, archived_logs):
        monkeypatch.setattr(asset.op, "_retry_policy", dg.RetryPolicy(max_retries=1))
    put_raw_logs(backend, tmp_path, "in/", events=60, files=2)
    write_targets(tmp_path / "targets", postgres_database.target())
    args = run_args(config, "-t", str(tmp_path / "targets"))
    real = loaded_module.load_batch

    def failing(*args: object, **kwargs: object) -> object:
        raise ConnectionResetError("injected: connection lost during COPY")

    monkeypatch.setattr(loaded_module, "load_batch", failing)
    assert main(args) == 1
    [batch] = {key.split("/")[2] for key in backend.objects("archive/raw/")}
    assert len(backend.objects(f"archive/raw/{batch}/")) == 2  # archived all the same

    monkeypatch.setattr(loaded_module, "load_batch", real)
    assert main(args) == 0
    assert engine.calls == 1  # not enriched again
    with postgres_database.connect() as connection:
        assert connection.execute("SELECT count(*) FROM atomic.events").fetchone() == (
            engine.good_events,
        )
    assert engine.good_events > 0
