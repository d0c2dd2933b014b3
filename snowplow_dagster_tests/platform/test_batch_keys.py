"""Failures no retry can fix are tried once, and a partition key that is no batch fails at once
and leaves no failed partition behind."""

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.partition_status_cache import AssetPartitionStatus

from snowplow_dagster.assets import batch_assets, staged_enriched, staged_logs
from snowplow_dagster.code_location import build_definitions
from snowplow_dagster.constants import BATCH_JOB
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.storage import Location
from snowplow_dagster_tests.platform.helpers import pipeline_for

NOT_A_BATCH = "added-by-hand"


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def pipeline(tmp_path: Path) -> SnowplowPipeline:
    return pipeline_for(tmp_path, Location.parse(f"{tmp_path}/data/"))


def attempts(result: dg.ExecuteInProcessResult, step: str) -> int:
    return sum(1 for e in result.all_events if e.is_step_start and e.step_key == step)


def retries(result: dg.ExecuteInProcessResult) -> int:
    return sum(1 for e in result.all_events if e.is_step_up_for_retry)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    [failure] = [e for e in result.all_events if e.is_step_failure]
    data = failure.step_failure_data
    return data.user_failure_data.description if data.user_failure_data else data.error.message


def test_a_configuration_error_in_an_asset_is_tried_once(
    instance: dg.DagsterInstance, pipeline: SnowplowPipeline
) -> None:
    """staged_enriched in batch mode (it retries moves, never a wrong mode)."""
    assert staged_enriched.op.retry_policy is not None
    batch = "2026-11-21-10-00-00"
    instance.add_dynamic_partitions(batches.name, [batch])

    result = dg.materialize(
        [staged_enriched],
        partition_key=batch,
        instance=instance,
        resources={"pipeline": pipeline},
        raise_on_error=False,
    )

    assert not result.success
    assert (attempts(result, "staged_enriched"), retries(result)) == (1, 0)
    assert "aws.s3.buckets.enriched.stream" in failure_message(result)
    [record] = instance.get_run_records()
    assert record.dagster_run.run_id == result.run_id  # one run, one attempt in its history


def test_a_key_that_is_no_batch_fails_at_once_and_its_partition_is_removed(
    instance: dg.DagsterInstance, pipeline: SnowplowPipeline
) -> None:
    instance.add_dynamic_partitions(batches.name, [NOT_A_BATCH])
    job = build_definitions(SnowplowPipeline(), stream_mode=False).resolve_job_def(BATCH_JOB)

    result = job.execute_in_process(
        partition_key=NOT_A_BATCH,
        instance=instance,
        resources={"pipeline": pipeline},
        raise_on_error=False,
    )

    assert not result.success
    assert attempts(result, "raw_logs") == 1 and retries(result) == 0
    assert not any(e.is_step_start and e.step_key != "raw_logs" for e in result.all_events)
    assert f"'{NOT_A_BATCH}' is not a batch" in failure_message(result)
    assert not instance.has_dynamic_partition(batches.name, NOT_A_BATCH)
    for asset in batch_assets:  # what the UI reads: no asset shows the key as failed
        status = instance.get_status_by_partition(asset.key, [NOT_A_BATCH], batches) or {}
        assert status.get(NOT_A_BATCH) is not AssetPartitionStatus.FAILED, asset.key


def test_a_retried_move_of_a_key_that_is_no_batch_is_tried_once(
    instance: dg.DagsterInstance, pipeline: SnowplowPipeline
) -> None:
    assert staged_logs.op.retry_policy is not None
    instance.add_dynamic_partitions(batches.name, [NOT_A_BATCH])

    result = dg.materialize(
        [staged_logs],
        partition_key=NOT_A_BATCH,
        instance=instance,
        resources={"pipeline": pipeline},
        raise_on_error=False,
    )

    assert (attempts(result, "staged_logs"), retries(result)) == (1, 0)
    assert f"'{NOT_A_BATCH}' is not a batch" in failure_message(result)
