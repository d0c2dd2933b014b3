"""Unfinished batches come from object storage alone, whatever the Dagster instance; one whose raw
objects are gone from processing is reported once and set aside, blocking nothing."""

import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from snowplow_dagster.assets import archived_logs
from snowplow_dagster.batches.claiming import claim
from snowplow_dagster.batches.manifest import BatchState
from snowplow_dagster.cli import main
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.storage import LocalStorage
from snowplow_dagster_tests.cli.helpers import ON_S3_AND_LOCAL, LineCountingEngine, run_args
from snowplow_dagster_tests.cli.test_run import assert_batch_done_once, put_logs
from snowplow_dagster_tests.fixtures.s3 import Backend


@ON_S3_AND_LOCAL
def test_a_new_dagster_home_resumes_a_staged_batch(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    engine: LineCountingEngine,
    dagster_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = put_logs(backend, tmp_path)
    engine.failures = 1  # enrichment fails: the batch stays staged
    assert main(run_args(config)) == 1
    assert len(backend.objects("processing/")) == 3
    new_home = tmp_path / "new_dagster_home"
    new_home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(new_home))  # the old runs are out of sight

    assert main(run_args(config)) == 0

    assert_batch_done_once(backend, raw)
    assert engine.calls == 2
    assert "no unfinished batch" not in capsys.readouterr().out


def test_a_new_dagster_home_resumes_a_batch_claimed_but_never_staged(
    backend: Backend, config: Path, tmp_path: Path, engine: LineCountingEngine, dagster_home: Path
) -> None:
    """Claimed long enough ago that no pass is about to start it (the sensor's orphan grace), by
    a process whose instance this is not: nothing of it in the instance."""
    raw = put_logs(backend, tmp_path)
    long_ago = datetime.now(UTC) - timedelta(minutes=30)
    for key in raw:
        os.utime(f"/{backend.location(key).key}", (long_ago.timestamp() - 60,) * 2)
    settings = SnowplowPipeline(config_path=str(config)).claim_settings()
    [claimed] = claim(LocalStorage(), settings, now=long_ago)

    assert main(run_args(config)) == 0

    assert assert_batch_done_once(backend, raw) == claimed.batch_id


class DeletingEngine(LineCountingEngine):
    """Enriches, then ``processing/`` loses objects under the run (deleted by hand, a lifecycle
    rule): archiving cannot find them."""

    def __init__(self, backend: Backend, count: int) -> None:
        super().__init__()
        self.backend = backend
        self.count = count
        self.deleted: dict[str, bytes] = {}

    def run_steps(self, steps: Sequence, **kwargs: object) -> list:  # type: ignore[override]
        results = super().run_steps(steps, **kwargs)  # type: ignore[arg-type]
        staged = sorted(self.backend.objects("processing/").items())
        for key, data in staged[: self.count]:
            self.backend.storage.delete(self.backend.location(key))
            self.deleted[key] = data
        return results


@ON_S3_AND_LOCAL
@pytest.mark.parametrize("lost", [1, 3])
def test_a_batch_whose_processing_objects_are_gone_is_reported_once_and_set_aside(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    engine: LineCountingEngine,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lost: int,
) -> None:
    raw = put_logs(backend, tmp_path)
    deleting = DeletingEngine(backend, lost)
    monkeypatch.setattr(SnowplowPipeline, "execution_engine", lambda self: deleting)

    assert main(run_args(config)) == 1
    deleting.count = 0

    [batch] = instance.get_dynamic_partitions("batches")
    [missing] = [key.rpartition("/")[2] for key in deleting.deleted][:1]
    err = capsys.readouterr().err
    assert f"Batch {batch}: {lost} of its 3 raw objects are gone from" in err
    assert missing in err and f"{3 - lost} are archived in " in err
    assert f"materialise archived_logs for partition {batch}" in err
    assert "the next run resumes it" not in err
    [run] = instance.get_run_records()
    events = instance.all_logs(run.dagster_run.run_id)
    types = [entry.dagster_event.event_type for entry in events if entry.dagster_event]
    assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in types  # not retried
    [failure] = [
        entry.dagster_event
        for entry in events
        if entry.dagster_event and entry.dagster_event.is_step_failure
    ]
    assert failure.step_failure_data.user_failure_data.metadata["missing"].value == lost

    # Reported once: later runs neither retry it nor fail for it, and others go through.
    started = time.monotonic()
    assert main(run_args(config)) == 3
    assert time.monotonic() - started < 30
    more = put_logs(backend, tmp_path)
    assert main(run_args(config)) == 0
    assert batch not in capsys.readouterr().err
    fresh = set(instance.get_dynamic_partitions("batches")) - {batch}
    assert len(backend.objects(f"archive/raw/run={fresh.pop()}/")) == len(more)

    # Finishing it, as the message says: the objects back, then archived_logs for the batch.
    for key, data in deleting.deleted.items():
        backend.put(key, data)
    pipeline = SnowplowPipeline(config_path=str(config))
    done = dg.materialize(
        [archived_logs], partition_key=batch, instance=instance, resources={"pipeline": pipeline}
    )
    assert done.success
    assert pipeline.manifest_store().state(batch) is BatchState.ARCHIVED
    assert sorted(backend.objects(f"archive/raw/run={batch}/").values()) == sorted(raw.values())
