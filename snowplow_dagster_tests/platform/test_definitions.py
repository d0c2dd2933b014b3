"""The code location loads with no environment, and its asset graph is the one we mean."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from snowplow_dagster.config import ConfigError
from snowplow_dagster.definitions import defs
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources.pipeline import SnowplowPipeline
from snowplow_dagster.resources.storage import Location
from snowplow_dagster_tests.platform.helpers import write_config

BATCH_ASSETS = ["archived_logs", "enriched_events", "raw_logs", "staged_logs"]

EXPECTED_GRAPH = {
    "raw_logs": {"group": "raw", "deps": [], "checks": [], "pools": []},
    "staged_logs": {"group": "staged", "deps": ["raw_logs"], "checks": [], "pools": []},
    "enriched_events": {
        "group": "enriched",
        "deps": ["staged_logs"],
        "checks": ["bad_row_ratio", "line_conservation", "output_schema"],
        "pools": ["emr"],
    },
    "archived_logs": {
        "group": "archived",
        "deps": ["enriched_events"],
        "checks": ["archive_completeness"],
        "pools": [],
    },
    "staged_enriched": {"group": "stream", "deps": ["raw_logs"], "checks": [], "pools": []},
}
EXPECTED_JOBS = {"batch_job": BATCH_ASSETS, "stream_job": ["raw_logs", "staged_enriched"]}
BLOCKING_CHECKS = {"line_conservation", "archive_completeness"}
RETRIED = {"staged_logs", "archived_logs", "staged_enriched"}


def test_the_code_location_loads_without_any_environment() -> None:
    """As ``dagster dev`` would load it: a fresh interpreter, no SNOWPLOW_DAGSTER_* variables."""
    code = "import dagster as dg; from snowplow_dagster.definitions import defs; "
    code += "dg.Definitions.validate_loadable(defs)"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)


def test_the_asset_graph() -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()

    snapshot = {
        key.to_user_string(): {
            "group": node.group_name,
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "checks": sorted(check.name for check in node.check_keys),
            "pools": sorted(node.pools or ()),
        }
        for key in graph.get_all_asset_keys()
        for node in [graph.get(key)]
    }
    assert snapshot == EXPECTED_GRAPH
    assert {graph.get(key).partitions_def for key in graph.get_all_asset_keys()} == {batches}

    jobs = {
        name: sorted(
            key.to_user_string()
            for key in defs.resolve_job_def(name).asset_layer.selected_asset_keys
        )
        for name in EXPECTED_JOBS
    }
    assert jobs == EXPECTED_JOBS


def test_blocking_checks_and_retried_moves() -> None:
    specs = [spec for check_def in defs.asset_checks or () for spec in check_def.check_specs]
    assert {spec.name for spec in specs if spec.blocking} == BLOCKING_CHECKS
    retried = {
        key.to_user_string()
        for key in defs.resolve_asset_graph().get_all_asset_keys()
        if defs.resolve_assets_def(key).op.retry_policy is not None
    }
    assert retried == RETRIED


def test_the_sensor_targets_both_jobs() -> None:
    sensor = defs.resolve_sensor_def("in_bucket_sensor")
    assert sorted(job.name for job in sensor.jobs) == ["batch_job", "stream_job"]


def test_a_bad_config_fails_naming_the_key_before_anything_moves(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.yml", Location.parse(f"{tmp_path}/data/"))
    config.write_text(config.read_text().replace("max_files_per_batch: 10000", "max_files: 1"))

    with pytest.raises(ConfigError, match=r"snowplow_dagster\.max_files: unknown key"):
        SnowplowPipeline(config_path=str(config)).load()
    assert not (tmp_path / "data").exists()


def test_the_bundled_sample_needs_its_home_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNOWPLOW_DAGSTER_HOME", raising=False)
    monkeypatch.delenv("SNOWPLOW_DAGSTER_CONFIG", raising=False)

    with pytest.raises(ConfigError, match="SNOWPLOW_DAGSTER_HOME is not set"):
        SnowplowPipeline().load()


def test_the_bundled_sample_loads_with_its_home_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SNOWPLOW_DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv("SNOWPLOW_DAGSTER_CONFIG", raising=False)

    pipeline = SnowplowPipeline()

    assert pipeline.load().engine == "local"
    assert pipeline.claim_settings().in_locations == (Location.parse(f"{tmp_path}/raw/in/"),)
