"""The in-bucket sensor: the pure decision table-driven, then real ticks on local storage with a
real Dagster instance."""

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from snowplow_dagster.batches.claiming import claim
from snowplow_dagster.batches.manifest import batch_id
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.sensors import (
    ClaimOutcome,
    SensorCursor,
    TickSettings,
    decide_tick,
    in_bucket_sensor,
)
from snowplow_dagster.storage import Location, Stray
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.platform.helpers import pipeline_for

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
OLD = "2026-11-21-11-00-00"  # an hour before NOW: past the grace period
YOUNG = "2026-11-21-11-59-30"  # thirty seconds before NOW: a concurrent pass may own it
NEW = "2026-11-21-12-00-00"
SETTINGS = TickSettings("batch_job")


@pytest.mark.parametrize(
    ("outcome", "cursor", "requests", "remembered"),
    [
        pytest.param(ClaimOutcome((), ()), SensorCursor(), (), (), id="nothing-waiting"),
        pytest.param(ClaimOutcome((NEW,), (NEW,)), SensorCursor(), (NEW,), (NEW,), id="new-batch"),
        pytest.param(
            ClaimOutcome((NEW,), (OLD, NEW)),
            SensorCursor(requested=(OLD,)),
            (NEW,),
            (OLD, NEW),
            id="pending-batch-already-requested",
        ),
        pytest.param(
            ClaimOutcome((), (OLD,)), SensorCursor(), (OLD,), (OLD,), id="claimed-but-never-run"
        ),
        pytest.param(
            ClaimOutcome((), (YOUNG,)), SensorCursor(), (), (), id="just-claimed-by-a-pass"
        ),
        pytest.param(
            ClaimOutcome((), (OLD,), with_runs=frozenset({OLD})),
            SensorCursor(),
            (),
            (OLD,),
            id="pending-batch-with-a-run",
        ),
        pytest.param(
            ClaimOutcome((), ()),
            SensorCursor(requested=(OLD,)),
            (),
            (),
            id="staged-batches-leave-the-cursor",
        ),
    ],
)
def test_decide_tick(
    outcome: ClaimOutcome,
    cursor: SensorCursor,
    requests: tuple[str, ...],
    remembered: tuple[str, ...],
) -> None:
    decision = decide_tick(outcome, cursor, NOW, SETTINGS)

    assert decision.requests == requests
    assert decision.cursor == SensorCursor(NOW.isoformat(), remembered)
    assert (decision.skip_reason is None) == bool(requests)


def test_the_cursor_round_trips_through_json() -> None:
    cursor = SensorCursor(NOW.isoformat(), (OLD, NEW))
    assert SensorCursor.from_json(cursor.to_json()) == cursor
    assert SensorCursor.from_json(None) == SensorCursor()


# ---------------------------------------------------------------------------- real ticks


def tick(
    instance: dg.DagsterInstance, pipeline: SnowplowPipeline, cursor: str | None = None
) -> dg.SensorResult:
    # A context manager: the pipeline's nested engine resource makes it one.
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"pipeline": pipeline}
    ) as context:
        return in_bucket_sensor(context)


def requested(result: dg.SensorResult) -> list[tuple[str, str | None, str | None]]:
    return [(r.partition_key, r.run_key, r.job_name) for r in result.run_requests or ()]


def manifest_keys(backend: Backend, batch: str) -> list[str]:
    manifest = json.loads(backend.objects(f"manifests/batches/{batch}.json").popitem()[1])
    return [entry["key"] for entry in manifest["entries"]]


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_an_empty_bucket_skips(
    backend: Backend, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    result = tick(instance, pipeline_for(tmp_path, backend.root))

    assert not result.run_requests and result.skip_reason is not None
    assert json.loads(result.cursor or "")["requested"] == []


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_new_files_become_one_batch_and_one_run(
    backend: Backend, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    backend.put("in/a.gz", b"a")
    backend.put("in/b.gz", b"b")
    pipeline = pipeline_for(tmp_path, backend.root)

    result = tick(instance, pipeline)

    [(batch, run_key, job_name)] = requested(result)
    assert (run_key, job_name) == (batch, "batch_job")
    [add] = result.dynamic_partitions_requests or []
    assert (add.partitions_def_name, list(add.partition_keys)) == ("batches", [batch])
    assert sorted(manifest_keys(backend, batch)) == [
        backend.location("in/a.gz").key,
        backend.location("in/b.gz").key,
    ]
    assert json.loads(result.cursor or "")["requested"] == [batch]
    # The next tick has nothing new, and does not request the pending batch again.
    assert not tick(instance, pipeline, result.cursor).run_requests


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_files_still_being_written_wait_for_the_quiet_period(
    backend: Backend, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    backend.put("in/old.gz", b"old")
    backend.put("in/fresh.gz", b"fresh")
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime("/" + backend.location("in/old.gz").key, (hour_ago, hour_ago))

    result = tick(instance, pipeline_for(tmp_path, backend.root, quiet_period_seconds=600))

    [(batch, _, _)] = requested(result)
    assert manifest_keys(backend, batch) == [backend.location("in/old.gz").key]


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_backlog_is_split_into_several_batches(
    backend: Backend, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    for name in "abcde":
        backend.put(f"in/{name}.gz", name.encode())

    result = tick(instance, pipeline_for(tmp_path, backend.root, max_files_per_batch=2))

    ids = [batch for batch, _, _ in requested(result)]
    assert len(ids) == 3 == len(set(ids))
    assert sorted(len(manifest_keys(backend, batch)) for batch in ids) == [1, 2, 2]


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_overlapping_ticks_never_claim_an_object_twice(
    backend: Backend, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    for index in range(20):
        backend.put(f"in/{index:02}.gz", b"x" * index)
    pipeline = pipeline_for(tmp_path, backend.root, max_files_per_batch=3)
    results: list[dg.SensorResult] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait()
        results.append(tick(instance, pipeline))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ids = [batch for result in results for batch, _, _ in requested(result)]
    keys = [key for batch in ids for key in manifest_keys(backend, batch)]
    assert len(ids) == len(set(ids))
    assert sorted(keys) == sorted(backend.location(f"in/{i:02}.gz").key for i in range(20))


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_every_in_bucket_is_watched(
    backend: Backend, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    backend.put("in-a/a.gz", b"a")
    backend.put("in-b/b.gz", b"b")

    result = tick(instance, pipeline_for(tmp_path, backend.root, in_folders=("in-a/", "in-b/")))

    [(batch, _, _)] = requested(result)
    assert sorted(manifest_keys(backend, batch)) == [
        backend.location("in-a/a.gz").key,
        backend.location("in-b/b.gz").key,
    ]


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_stream_mode_watches_the_stream_location(
    backend: Backend, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    backend.put("stream/part-1.gz", b"enriched")

    result = tick(instance, pipeline_for(tmp_path, backend.root, stream=True))

    [(batch, _, job_name)] = requested(result)
    assert job_name == "stream_job"
    assert manifest_keys(backend, batch) == [backend.location("stream/part-1.gz").key]


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_batch_claimed_by_a_process_that_died_is_requested(
    backend: Backend, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    backend.put("in/a.gz", b"a")
    pipeline = pipeline_for(tmp_path, backend.root)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    os.utime("/" + backend.location("in/a.gz").key, (an_hour_ago.timestamp(),) * 2)
    # A pass claimed the file an hour ago, then died before requesting its run.
    [manifest] = claim(pipeline.storage(), pipeline.claim_settings(), now=an_hour_ago)

    result = tick(instance, pipeline)

    assert requested(result) == [(manifest.batch_id, manifest.batch_id, "batch_job")]
    assert manifest.batch_id == batch_id(an_hour_ago)


# --------------------------------------------------------- objects that cannot be claimed


def test_the_skip_reason_names_and_counts_what_cannot_be_claimed() -> None:
    strays = tuple(
        Stray(Location.parse(f"s3://b/in/{name}"), "a line break in its name")
        for name in ("a\nb.gz", "c\rd.gz")
    )
    decision = decide_tick(ClaimOutcome((), (), strays=strays), SensorCursor(), NOW, SETTINGS)
    assert decision.skip_reason is not None and "\n" not in decision.skip_reason
    assert decision.skip_reason.startswith("Nothing new to claim; 0 batch(es) pending. ")
    assert "2 object(s) cannot be claimed" in decision.skip_reason
    assert '"s3://b/in/a\\nb.gz" (a line break in its name)' in decision.skip_reason
    with_new = decide_tick(
        ClaimOutcome((NEW,), (NEW,), strays=strays), SensorCursor(), NOW, SETTINGS
    )
    assert with_new.requests == (NEW,) and with_new.strays == strays


@pytest.mark.parametrize("backend", ["s3", "local"], indirect=True)
def test_a_tick_reports_names_it_cannot_claim(
    backend: Backend, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """Item 6: a name with a line break never became a batch, and every tick said only "nothing
    new to claim"; now the skip reason names it. (moto's server cannot store "\\n": "\\r" there.)"""
    name = "in/bad\nname.gz" if backend.name == "local" else "in/bad\rname.gz"
    backend.put(name, b"n\n")
    pipeline = pipeline_for(tmp_path, backend.root)

    result = tick(instance, pipeline)

    assert not result.run_requests and result.skip_reason is not None
    reason = result.skip_reason.skip_message or ""
    assert "1 object(s) cannot be claimed" in reason
    assert json.dumps(backend.location(name).uri, ensure_ascii=False) in reason
    assert backend.objects("in/") == {name: b"n\n"}
