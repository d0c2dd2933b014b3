"""``snowplow-dagster run``: exit codes 0/3/4/17, resuming by itself after a failure in any step or
a killed owner, the lock, and ``--skip``/``--resume-from`` as asset selections."""

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from snowplow_dagster.cli import main, owners
from snowplow_dagster.cli.lock import LockOwner
from snowplow_dagster.cli.selection import SelectionError, plan_steps
from snowplow_dagster.constants import PARTITION_TAG
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.storage import LocalStorage, Location
from snowplow_dagster_tests.cli.helpers import LineCountingEngine, run_args
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.platform.helpers import (
    gunzipped_lines,
    put_raw_logs,
)


def put_logs(backend: Backend, tmp_path: Path) -> dict[str, bytes]:
    put_raw_logs(backend, tmp_path, "in/", events=60, files=3)
    return backend.objects("in/")


def raw_lines(objects: dict[str, bytes]) -> list[bytes]:
    return sorted(line for data in objects.values() for line in gzip.decompress(data).splitlines())


def assert_batch_done_once(backend: Backend, raw: dict[str, bytes]) -> str:
    """Every raw object archived exactly once, byte for byte, and enriched exactly once."""
    archived = backend.objects("archive/raw/")
    [batch] = {key.split("/")[2] for key in archived}
    assert sorted(archived.values()) == sorted(raw.values())
    assert backend.objects("in/") == {} and backend.objects("processing/") == {}
    good = gunzipped_lines(backend.objects(f"enriched/good/{batch}/"))
    assert sorted(line.encode() for line in good) == raw_lines(raw)
    return batch.removeprefix("run=")


REPO = Path(__file__).parents[2]


# --------------------------------------------------------------------- the real thing, once


@pytest.mark.spark
def test_a_pass_on_local_spark_exits_0_then_3_with_nothing_left(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    instance: dg.DagsterInstance,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put_raw_logs(backend, tmp_path, "in/", events=200, files=2)
    lock = tmp_path / "etl.lock"

    assert main(run_args(config, "--lock", str(lock))) == 0

    out = capsys.readouterr().out
    assert "Completed successfully" in out and "dagster dev" in out
    assert not lock.exists()
    [batch] = instance.get_dynamic_partitions("batches")
    [record] = instance.get_run_records()
    assert record.dagster_run.status is dg.DagsterRunStatus.SUCCESS
    assert record.dagster_run.tags[PARTITION_TAG] == batch
    assert len(backend.objects(f"archive/raw/run={batch}/")) == 2
    assert f"enriched/good/run={batch}/_SUCCESS" in backend.objects("enriched/good/")

    assert main(run_args(config, "--lock", str(lock))) == 3
    assert "No logs to process: nothing to claim in" in capsys.readouterr().out
    assert not lock.exists()


# ------------------------------------------------------------ failures, and the resume after


def fail_copies_into(monkeypatch: pytest.MonkeyPatch, folder: str, name: str) -> None:
    """The destination refuses one object (a full disk, a denied write): a move half done."""
    copy = LocalStorage.copy

    def refusing(self: LocalStorage, src: Location, dst: Location, **kwargs: object) -> object:
        if f"/{folder}/" in dst.uri and dst.key.endswith(name):
            raise PermissionError(f"injected: {dst.uri} is not writable")
        return copy(self, src, dst, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalStorage, "copy", refusing)


def fail_writes_under(monkeypatch: pytest.MonkeyPatch, folder: str) -> None:
    """Writes under ``folder`` fail (a denied write, an S3 outage outlasting the retries)."""
    write = LocalStorage.write

    def refusing(self: LocalStorage, obj: Location, data: bytes, **kwargs: Any) -> str:
        if f"/{folder}/" in obj.uri:
            raise PermissionError(f"injected: {obj.uri} is not writable")
        return write(self, obj, data, **kwargs)

    monkeypatch.setattr(LocalStorage, "write", refusing)


@pytest.mark.parametrize("step", ["staging", "enrich", "archive", "archived marker"])
def test_a_failed_step_is_resumed_by_the_next_run(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    engine: LineCountingEngine,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    raw = put_logs(backend, tmp_path)
    victim = sorted(raw)[1].rpartition("/")[2]
    lock = tmp_path / "etl.lock"
    with monkeypatch.context() as broken:
        if step == "staging":
            fail_copies_into(broken, "processing", victim)
        elif step == "archive":
            fail_copies_into(broken, "raw", victim)
        elif step == "archived marker":  # every object archived, the marker never written
            fail_writes_under(broken, "manifests/archived")
        else:
            engine.failures = 1
        assert main(run_args(config, "-l", str(lock))) == 1
    [failed] = instance.get_run_records()
    assert failed.dagster_run.status is dg.DagsterRunStatus.FAILURE
    assert not lock.exists()  # released after a failure too: the next run resumes
    if step == "archived marker":
        assert len(backend.objects("archive/raw/")) == len(raw)
        [emptied] = (tmp_path / "bucket" / "processing").iterdir()  # the backend fixture's
        emptied.rmdir()  # as on S3, where a folder goes with its last object

    assert main(run_args(config, "-l", str(lock))) == 0

    batch = assert_batch_done_once(backend, raw)
    assert instance.get_dynamic_partitions("batches") == [batch]
    latest = instance.get_run_records(limit=1)[0].dagster_run
    assert latest.status is dg.DagsterRunStatus.SUCCESS and latest.tags[PARTITION_TAG] == batch
    # The resume ran only what was left: a batch enriched before its failure is not enriched again.
    assert engine.calls == (2 if step == "enrich" else 1)
    assert materialisations(instance, "enriched_events", batch) == 1
    assert main(run_args(config)) == 3


def materialisations(instance: dg.DagsterInstance, asset: str, batch: str) -> int:
    records_filter = dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[batch])
    return len(instance.fetch_materializations(records_filter, limit=100).records)


def test_only_batches_not_yet_archived_are_looked_up_for_a_resume(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    engine: LineCountingEngine,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finished batches (history) cost nothing: only pending and staged ones are asked about."""
    put_logs(backend, tmp_path)
    assert main(run_args(config)) == 0
    [finished] = instance.get_dynamic_partitions("batches")
    put_logs(backend, tmp_path)
    engine.failures = 99  # from now on enrichment fails: that batch stays staged
    assert main(run_args(config)) == 1
    raw = put_logs(backend, tmp_path)
    with monkeypatch.context() as broken:
        fail_copies_into(broken, "processing", sorted(raw)[1].rpartition("/")[2])
        assert main(run_args(config)) == 1  # failed at staging: still pending
    staged, pending = sorted(set(instance.get_dynamic_partitions("batches")) - {finished})

    candidates = owners.open_batches(SnowplowPipeline(config_path=str(config)))
    asked: list[str] = []
    get_run_records = instance.get_run_records

    def spying(*args: Any, filters: dg.RunsFilter, **kwargs: Any) -> Any:
        asked.append(filters.tags[PARTITION_TAG])
        return get_run_records(*args, filters=filters, **kwargs)

    monkeypatch.setattr(instance, "get_run_records", spying)
    monkeypatch.setattr(instance, "get_dynamic_partitions", None)  # would read all history

    assert candidates == [pending, staged]
    assert owners.unfinished_batches(instance, candidates) == [pending, staged]
    assert asked == [pending, staged]


def test_batches_staged_by_an_earlier_version_are_found_once_from_processing(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    engine: LineCountingEngine,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An earlier version kept no staged index: its staged batches are adopted from the run
    folders of processing, listed by the first ``open_batches`` only."""
    raw = put_logs(backend, tmp_path)
    engine.failures = 1  # enrichment fails: the batch stays staged
    assert main(run_args(config)) == 1
    [batch] = instance.get_dynamic_partitions("batches")
    (tmp_path / "bucket" / "manifests" / "staged.json").unlink()  # as an earlier version left it
    listed: list[str] = []
    list_children = LocalStorage.list_children

    def spying(self: LocalStorage, folder: Location) -> Any:
        listed.append(folder.uri)
        return list_children(self, folder)

    pipeline = SnowplowPipeline(config_path=str(config))
    with monkeypatch.context() as spied:
        spied.setattr(LocalStorage, "list_children", spying)
        assert owners.open_batches(pipeline) == [batch]
        assert owners.open_batches(pipeline) == [batch]
    assert [uri.rpartition("/bucket/")[2] for uri in listed] == ["processing/"]

    assert main(run_args(config)) == 0
    assert_batch_done_once(backend, raw)


def test_a_live_owner_means_4_and_a_killed_one_is_failed_and_resumed(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    engine: LineCountingEngine,
    instance: dg.DagsterInstance,
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = put_logs(backend, tmp_path)
    command = [sys.executable, "-m", "snowplow_dagster_tests.cli.hanging_pass", *run_args(config)]
    with (tmp_path / "owner.log").open("wb") as log:
        owner = subprocess.Popen(
            command, stdout=log, stderr=log, env={**os.environ, "PYTHONPATH": str(REPO)}
        )
    try:
        hung = wait_for_step(instance, "enriched_events", owner)
        assert main(run_args(config)) == 4
        out = capsys.readouterr().out
        assert "There seems to be an ongoing run of snowplow-dagster: batch" in out
        assert hung.run_id in out
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert instance.get_run_by_id(hung.run_id).status is dg.DagsterRunStatus.STARTED

    assert main(run_args(config)) == 0

    assert instance.get_run_by_id(hung.run_id).status is dg.DagsterRunStatus.FAILURE
    assert "process is gone" in capsys.readouterr().out
    assert_batch_done_once(backend, raw)


def wait_for_step(
    instance: dg.DagsterInstance, step_key: str, process: subprocess.Popen[bytes]
) -> dg.DagsterRun:
    """The child's run once it is inside ``step_key`` (the child loads Dagster: seconds)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        for record in instance.get_run_records():
            started = instance.all_logs(
                record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_START
            )
            if any(entry.step_key == step_key for entry in started):
                return record.dagster_run
        time.sleep(0.5)
    raise AssertionError(f"the child never reached {step_key} (exit code {process.poll()})")


# ------------------------------------------------------------------------------------- lock


def test_a_lock_of_a_live_process_is_held_and_one_of_a_dead_process_is_taken_over(
    config: Path, tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = tmp_path / "etl.lock"
    live = LockOwner(os.getpid(), socket.gethostname(), "2026-11-21T00:00:00+00:00")
    lock.write_text(live.to_json())
    assert main(run_args(config, "-l", str(lock))) == 17
    assert f"Lock already held at {lock}" in capsys.readouterr().err
    assert lock.read_text() == live.to_json()

    dead_process = subprocess.Popen(["true"])
    dead_process.wait()
    lock.write_text(LockOwner(dead_process.pid, socket.gethostname(), "then").to_json())
    assert main(run_args(config, "-l", str(lock))) == 3
    assert f"Taking over the lock at {lock}" in capsys.readouterr().out
    assert not lock.exists()

    lock.write_text(live.to_json())
    assert main(run_args(config, "-l", str(lock), "--ignore-lock-on-start")) == 3
    assert not lock.exists()  # EmrEtlRunner's --ignore-lock-on-start still unlocks at the end


def test_a_lock_of_another_host_is_held_whatever_its_pid(config: Path, tmp_path: Path) -> None:
    lock = tmp_path / "etl.lock"
    lock.write_text(LockOwner(2**22 + 1, "another-host", "then").to_json())
    assert main(run_args(config, "-l", str(lock))) == 17


# ------------------------------------------------------------------- --skip / --resume-from


@pytest.mark.parametrize(
    ("skip", "resume_from", "stream", "assets"),
    [
        ((), None, False, ("raw_logs", "staged_logs", "enriched_events", "archived_logs")),
        (("enrich",), None, False, ("raw_logs", "staged_logs", "archived_logs")),
        (("staging",), None, False, ("enriched_events", "archived_logs")),
        (
            ("archive_raw", "shred", "rdb_load"),
            None,
            False,
            ("raw_logs", "staged_logs", "enriched_events"),
        ),
        ((), "enrich", False, ("enriched_events", "archived_logs")),
        ((), "shred", False, ("archived_logs",)),
        ((), "archive_raw", False, ("archived_logs",)),
        ((), "rdb_load", False, ()),
        ((), None, True, ("raw_logs", "staged_enriched")),
        (("staging_stream_enrich",), None, True, ()),
        ((), "staging_stream_enrich", True, ()),
    ],
)
def test_steps_map_onto_assets_as_emretlrunner_selects_them(
    skip: tuple[str, ...], resume_from: str | None, stream: bool, assets: tuple[str, ...]
) -> None:
    plan = plan_steps(skip, resume_from, stream_mode=stream)
    assert plan.assets == assets
    foreign = [s for s in (*skip, resume_from) if s in ("shred", "rdb_load")]
    assert len(plan.notes) == len(foreign)


@pytest.mark.parametrize(
    ("skip", "resume_from", "stream"),
    [
        (("enrich",), "archive_raw", False),
        ((), "enrich", True),
        (("staging",), None, True),
        (("archive_raw",), None, True),
        ((), "archive_raw", True),
        (("staging_stream_enrich",), None, False),
    ],
)
def test_emretlrunner_s_refusals_are_kept(
    skip: tuple[str, ...], resume_from: str | None, stream: bool
) -> None:
    with pytest.raises(SelectionError):
        plan_steps(skip, resume_from, stream_mode=stream)


def test_skip_archive_leaves_the_batch_unfinished_and_the_next_run_finishes_it(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    engine: LineCountingEngine,
    instance: dg.DagsterInstance,
) -> None:
    raw = put_logs(backend, tmp_path)
    assert main(run_args(config, "-x", "archive_raw,shred")) == 0
    [batch] = instance.get_dynamic_partitions("batches")
    assert backend.objects("archive/") == {}
    assert len(backend.objects(f"processing/run={batch}/")) == 3
    assert instance.get_materialized_partitions(dg.AssetKey("enriched_events")) == {batch}

    assert main(run_args(config, "--resume-from", "archive_raw")) == 0
    assert engine.calls == 1  # only archiving ran
    assert_batch_done_once(backend, raw)
    assert main(run_args(config, "-x", "staging")) == 3


def test_a_bad_config_or_flags_exit_1_naming_the_problem(
    tmp_path: Path, dagster_home: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(run_args(config, "-x", "enrich", "-f", "archive_raw")) == 1
    assert "mutually exclusive" in capsys.readouterr().err
    assert main(run_args(config, "-x", "stagin")) == 1
    assert "stagin" in capsys.readouterr().err
    broken = tmp_path / "broken.yml"
    broken.write_text(
        config.read_text().replace("collectors: {format: cloudfront}", "collectors: {format: nope}")
    )
    assert main(run_args(broken)) == 1
    assert "collectors.format" in capsys.readouterr().err
