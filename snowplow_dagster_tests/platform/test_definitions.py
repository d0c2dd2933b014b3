"""The code location loads with no environment, and its asset graph is the one we mean."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from snowplow_dagster.code_location import build_definitions
from snowplow_dagster.config import ConfigError
from snowplow_dagster.definitions import defs
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline, configured_stream_mode
from snowplow_dagster.storage import Location
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


BATCH_GRAPH = {key: value for key, value in EXPECTED_GRAPH.items() if key in BATCH_ASSETS}
STREAM_GRAPH = {key: EXPECTED_GRAPH[key] for key in EXPECTED_JOBS["stream_job"]}


def graph_of(definitions: dg.Definitions) -> dict[str, dict[str, object]]:
    graph = definitions.resolve_asset_graph()
    return {
        key.to_user_string(): {
            "group": node.group_name,
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "checks": sorted(check.name for check in node.check_keys),
            "pools": sorted(node.pools or ()),
        }
        for key in graph.get_all_asset_keys()
        for node in [graph.get(key)]
    }


@pytest.mark.parametrize(
    ("stream_mode", "expected", "job"),
    [(False, BATCH_GRAPH, "batch_job"), (True, STREAM_GRAPH, "stream_job")],
)
def test_each_mode_defines_its_own_assets_job_and_sensor_only(
    stream_mode: bool, expected: dict[str, object], job: str
) -> None:
    """Batch mode shows no stream asset (it could never materialise there), and the reverse."""
    definitions = build_definitions(SnowplowPipeline(), stream_mode=stream_mode)
    dg.Definitions.validate_loadable(definitions)

    assert graph_of(definitions) == expected
    graph = definitions.resolve_asset_graph()
    assert {graph.get(key).partitions_def for key in graph.get_all_asset_keys()} == {batches}
    [only] = [d for d in definitions.resolve_all_job_defs() if not d.name.startswith("__")]
    assert only.name == job
    assert sorted(k.to_user_string() for k in only.asset_layer.selected_asset_keys) == sorted(
        EXPECTED_JOBS[job]
    )
    sensor = definitions.resolve_sensor_def("in_bucket_sensor")
    assert [target.name for target in sensor.jobs] == [job]


def test_the_code_location_follows_the_configured_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SNOWPLOW_DAGSTER_CONFIG", raising=False)
    assert configured_stream_mode() is False  # the bundled sample, with no environment
    assert {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()} == (
        set(BATCH_ASSETS)
    )
    stream = write_config(tmp_path / "stream.yml", Location.parse(f"{tmp_path}/s/"), stream=True)
    monkeypatch.setenv("SNOWPLOW_DAGSTER_CONFIG", str(stream))
    assert configured_stream_mode() is True


def test_blocking_checks_and_retried_moves() -> None:
    both = [build_definitions(SnowplowPipeline(), stream_mode=mode) for mode in (False, True)]
    specs = [
        spec for d in both for check_def in d.asset_checks or () for spec in check_def.check_specs
    ]
    assert {spec.name for spec in specs if spec.blocking} == BLOCKING_CHECKS
    retried = {
        key.to_user_string()
        for d in both
        for key in d.resolve_asset_graph().get_all_asset_keys()
        if d.resolve_assets_def(key).op.retry_policy is not None
    }
    assert retried == RETRIED


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
