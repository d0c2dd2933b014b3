"""Storage targets: validated up front naming file and key, passwords from the file, an environment
variable or libpq's own PGPASSWORD / .pgpass, and never shown; a refused login names the file."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from snowplow_dagster.cli import main
from snowplow_dagster.cli.selection import plan_steps
from snowplow_dagster.config import ConfigError
from snowplow_dagster.config.targets import load_targets
from snowplow_dagster.loading.warehouse import (
    PostgresWarehouse,
    TargetUnreachable,
    check_connection,
)
from snowplow_dagster_tests.fixtures.postgres import SUPERUSER_PASSWORD, PostgresDatabase


def write_target(folder: Path, document: dict[str, object], name: str = "postgres.json") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(document))
    return path


def target_document(**data: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "PostgreSQL",
        "id": "2e9d3b4a-7c1f-4e1a-9a57-0f4f5b0e6d11",
        "host": "db.example.com",
        "database": "snowplow",
        "port": 5432,
        "username": "loader",
        "password": SUPERUSER_PASSWORD,
        "schema": "atomic",
        "sshTunnel": None,
        "processingManifest": None,
        "sslMode": "REQUIRE",
        "purpose": "ENRICHED_EVENTS",
    }
    return {
        "schema": "iglu:com.snowplowanalytics.snowplow.storage/postgresql_config/jsonschema/2-0-0",
        "data": {**base, **data},
    }


def test_a_target_file_is_read_and_its_password_never_shown(tmp_path: Path) -> None:
    write_target(tmp_path / "targets", target_document())
    target = load_targets(tmp_path / "targets")
    assert (target.host, target.port, target.database, target.schema) == (
        "db.example.com",
        5432,
        "snowplow",
        "atomic",
    )
    assert target.connection_kwargs()["sslmode"] == "require"
    assert target.connection_kwargs()["password"] == SUPERUSER_PASSWORD
    for shown in (repr(target), str(target), target.describe()):
        assert SUPERUSER_PASSWORD not in shown


def test_every_problem_names_the_file_and_key_and_no_secret(tmp_path: Path) -> None:
    path = write_target(
        tmp_path / "targets", target_document(port="five", sslMode="SOMETIMES", hots="x")
    )
    with pytest.raises(ConfigError) as failed:
        load_targets(tmp_path / "targets")
    message = str(failed.value)
    assert str(path) in message
    for key in ("data.port", "data.sslMode", "data.hots"):
        assert key in message
    assert SUPERUSER_PASSWORD not in message


def test_other_kinds_of_target_and_unsupported_settings_are_refused(tmp_path: Path) -> None:
    redshift = target_document()
    redshift["schema"] = (
        "iglu:com.snowplowanalytics.snowplow.storage/redshift_config/jsonschema/4-0-0"
    )
    write_target(tmp_path / "a", redshift)
    with pytest.raises(ConfigError, match="redshift_config targets are not loaded"):
        load_targets(tmp_path / "a")
    write_target(
        tmp_path / "b", target_document(password={"ec2ParameterStore": {"parameterName": "p"}})
    )
    with pytest.raises(ConfigError, match=r"data\.password: ec2ParameterStore is not supported"):
        load_targets(tmp_path / "b")
    write_target(tmp_path / "c", target_document(), "one.json")
    write_target(tmp_path / "c", target_document(), "two.json")
    with pytest.raises(ConfigError, match="one PostgreSQL target per pipeline"):
        load_targets(tmp_path / "c")


def test_the_password_may_come_from_an_environment_variable(tmp_path: Path) -> None:
    path = write_target(tmp_path / "t", target_document(password="<%= ENV['LOADER_PASSWORD'] %>"))
    target = load_targets(tmp_path / "t", env={"LOADER_PASSWORD": "from-env"})
    assert target.connection_kwargs()["password"] == "from-env"
    with pytest.raises(ConfigError) as failed:
        load_targets(tmp_path / "t", env={})
    assert str(path) in str(failed.value)
    assert "environment variable LOADER_PASSWORD is not set" in str(failed.value)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_libpq_s_pgpassword_and_pgpass_apply_when_the_file_has_no_password(
    postgres_database: PostgresDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = postgres_database.target()
    del document["data"]["password"]  # type: ignore[attr-defined]
    write_target(tmp_path / "t", document)
    target = load_targets(tmp_path / "t")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with pytest.raises(TargetUnreachable):
        check_connection(target)
    monkeypatch.setenv("PGPASSWORD", SUPERUSER_PASSWORD)
    check_connection(target)
    monkeypatch.delenv("PGPASSWORD")
    server = postgres_database.server
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{server.host}:{server.port}:*:{server.user}:{SUPERUSER_PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    check_connection(target)


@pytest.mark.parametrize("problem", ["wrong password", "unreachable host"])
def test_a_refused_login_names_the_target_file_and_never_the_password(
    postgres_database: PostgresDatabase, tmp_path: Path, problem: str
) -> None:
    overrides: dict[str, object] = (
        {"password": SUPERUSER_PASSWORD + "-wrong"}
        if problem == "wrong password"
        else {"port": _closed_port()}
    )
    path = write_target(tmp_path / "t", postgres_database.target(**overrides))
    with pytest.raises(TargetUnreachable) as failed:
        PostgresWarehouse(targets_dir=str(tmp_path / "t")).connect()
    message = str(failed.value)
    assert str(path) in message and "Cannot connect to the PostgreSQL target" in message
    assert SUPERUSER_PASSWORD not in message
    if problem == "wrong password":
        assert "password authentication failed" in message


def test_the_target_can_be_given_as_resource_config(postgres_database: PostgresDatabase) -> None:
    server = postgres_database.server
    warehouse = PostgresWarehouse(
        host=server.host,
        port=server.port,
        database=postgres_database.name,
        username=server.user,
        password=server.password,
        db_schema="snowplow",
    )
    assert warehouse.target().schema == "snowplow"
    with warehouse.connect() as connection:
        assert connection.execute("SELECT current_database()").fetchone() == (
            postgres_database.name,
        )


def test_lint_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_target(tmp_path / "good", target_document())
    assert main(["lint", "targets", "-t", str(tmp_path / "good")]) == 0
    assert "Valid storage target: PostgreSQL (postgresql://loader@db.example.com" in (
        capsys.readouterr().out
    )
    bad = write_target(tmp_path / "bad", target_document(database=""))
    assert main(["lint", "targets", "-t", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "data.database" in err and SUPERUSER_PASSWORD not in err


@pytest.mark.parametrize(
    ("skip", "resume_from", "assets"),
    [
        (
            (),
            None,
            ("raw_logs", "staged_logs", "enriched_events", "archived_logs", "loaded_events"),
        ),
        (("rdb_load",), None, ("raw_logs", "staged_logs", "enriched_events", "archived_logs")),
        ((), "rdb_load", ("loaded_events",)),
        ((), "archive_raw", ("archived_logs", "loaded_events")),
        ((), "shred", ("archived_logs", "loaded_events")),
        ((), "enrich", ("enriched_events", "archived_logs", "loaded_events")),
    ],
)
def test_rdb_load_is_loaded_events_when_a_target_is_configured(
    skip: tuple[str, ...], resume_from: str | None, assets: tuple[str, ...]
) -> None:
    plan = plan_steps(skip, resume_from, loading=True)
    assert plan.assets == assets
    assert not any("rdb_load" in note for note in plan.notes)
