"""``loaded_events`` and its blocking check in Dagster, and its place in the Definitions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from snowplow_dagster.assets.loaded import loaded_events, loaded_rows
from snowplow_dagster.engines.steps import counts_location
from snowplow_dagster.loading.warehouse import PostgresWarehouse
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.storage import Location
from snowplow_dagster_tests.fixtures.postgres import PostgresDatabase
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.loading.helpers import counts, enriched_lines, write_good_folder
from snowplow_dagster_tests.platform.helpers import write_config

BATCH = "2026-11-21-10-00-00"


def _materialise(
    tmp_path: Path, backend: Backend, database: PostgresDatabase, counted: int
) -> tuple[dg.ExecuteInProcessResult, int]:
    pipeline = SnowplowPipeline(config_path=str(write_config(tmp_path / "c.yml", backend.root)))
    lines = enriched_lines(80, seed=11, etl_tstamp_ms=1_790_000_000_000)
    write_good_folder(backend.location(f"enriched/good/run={BATCH}/"), lines)
    storage = pipeline.storage()
    storage.write(Location.parse(counts_location(pipeline.config, BATCH)), counts(counted))
    server = database.server
    warehouse = PostgresWarehouse(
        host=server.host,
        port=server.port,
        database=database.name,
        username=server.user,
        password=server.password,
    )
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(batches.name, [BATCH])
    result = dg.materialize(
        [loaded_events, loaded_rows],
        partition_key=BATCH,
        resources={"pipeline": pipeline, "warehouse": warehouse},
        instance=instance,
        raise_on_error=False,
    )
    return result, len(lines)


def test_the_check_passes_when_the_database_holds_what_enrichment_counted(
    tmp_path: Path, backend: Backend, postgres_database: PostgresDatabase
) -> None:
    result, events = _materialise(tmp_path, backend, postgres_database, counted=80)
    assert events == 80
    assert result.success
    [materialisation] = result.asset_materializations_for_node("loaded_events")
    metadata = materialisation.metadata
    assert metadata["events"].value == events
    rows = {row.data["table"]: row.data["rows"] for row in metadata["rows_by_table"].value.records}
    assert rows["atomic.events"] == events
    assert rows["atomic.com_snowplowanalytics_snowplow_ua_parser_context_1"] == events
    assert metadata["duration_seconds"].value >= 0
    assert postgres_database.server.password not in str(metadata)
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed


def test_the_blocking_check_fails_when_counts_and_rows_differ(
    tmp_path: Path, backend: Backend, postgres_database: PostgresDatabase
) -> None:
    result, events = _materialise(tmp_path, backend, postgres_database, counted=81)
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["loaded_rows"].value == events
    assert evaluation.metadata["good_events"].value == 81


@pytest.mark.parametrize(("targets", "present"), [(None, False), ("/etc/snowplow/targets", True)])
def test_loaded_events_is_in_the_definitions_only_with_a_target(
    targets: str | None, present: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SNOWPLOW_DAGSTER_TARGETS"}
    if targets:
        env["SNOWPLOW_DAGSTER_TARGETS"] = targets
    script = (
        "from snowplow_dagster.definitions import defs; import dagster as dg;"
        "job = defs.resolve_job_def('batch_job');"
        "print(dg.AssetKey('loaded_events') in job.asset_layer.executable_asset_keys)"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == str(present)
