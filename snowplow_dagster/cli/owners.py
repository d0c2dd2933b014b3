"""Who is working on which batch: the runs of the batch jobs not yet finished, and their owners.

EmrEtlRunner guessed an ongoing run from non-empty folders (exit 4), so a crashed run blocked every
later one until someone cleaned up by hand. Here a batch is "ongoing" only when its run's owner is
alive: a queued run (the daemon will start it), or a started run whose process still exists. A run
whose process died (SIGKILL, OOM, reboot) stays STARTED in Dagster forever; ``run`` marks it failed,
frees the pool slots it held (``pools.free_ended``) and resumes its batch from the manifest.

The owner's pid is the one Dagster's executors log when they start executing steps. It is judged on
this host only when runs are stored here (SQLite, the embedded default); with a run storage shared
between hosts (PostgreSQL) a started run is taken as live, since its pid may be another machine's.

Which batches to resume is asked of the manifest store first (``open_batches``), then of Dagster
for those alone, so a ``run`` costs as much as the unfinished work, however long the history.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import dagster as dg

from snowplow_dagster import pools
from snowplow_dagster.batches.adoption import adopt_legacy_batches
from snowplow_dagster.cli.lock import pid_alive
from snowplow_dagster.constants import BATCH_JOB, PARTITION_TAG, STREAM_JOB
from snowplow_dagster.dagster_compat import SqliteRunStorage
from snowplow_dagster.resources import SnowplowPipeline

NOT_STARTED_GRACE_SECONDS = 60.0
"""A run created but without a logged pid is taken as dead only once this old: a concurrent pass
may be about to start it."""

_UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
_JOBS = (BATCH_JOB, STREAM_JOB)


@dataclass(frozen=True)
class RunOwner:
    """The facts about one unfinished run that decide whether it is still going."""

    run_id: str
    batch: str | None
    status: dg.DagsterRunStatus
    pid: int | None
    age_seconds: float


def is_live(owner: RunOwner, *, local_runs: bool, alive: Callable[[int], bool] = pid_alive) -> bool:
    if owner.status is dg.DagsterRunStatus.QUEUED:
        return True
    if owner.pid is None:
        return owner.age_seconds < NOT_STARTED_GRACE_SECONDS
    return not local_runs or alive(owner.pid)


def unfinished_runs(instance: dg.DagsterInstance) -> list[RunOwner]:
    """The batch jobs' runs that have not finished, with their owners (a few: the live ones and
    those a crash left behind)."""
    now = time.time()
    owners = []
    for job_name in _JOBS:
        for record in instance.get_run_records(
            filters=dg.RunsFilter(job_name=job_name, statuses=_UNFINISHED)
        ):
            run = record.dagster_run
            owners.append(
                RunOwner(
                    run.run_id,
                    run.tags.get(PARTITION_TAG),
                    run.status,
                    _owner_pid(instance, run.run_id),
                    now - record.create_timestamp.timestamp(),
                )
            )
    return owners


def runs_stored_here(instance: dg.DagsterInstance) -> bool:
    return isinstance(instance.run_storage, SqliteRunStorage)


def mark_failed(instance: dg.DagsterInstance, owner: RunOwner) -> None:
    run = instance.get_run_by_id(owner.run_id)
    if run is not None:
        instance.report_run_failed(
            run,
            message=f"Its process (pid {owner.pid}) is gone: marked failed by `snowplow-dagster "
            "run`, which resumes the batch from its manifest.",
        )
        # Its pool slot (the `emr` pool of dagster.yaml) would otherwise stay taken: with no
        # daemon to free it, the resumed enrichment would wait for it for ever.
        pools.free(instance, run.run_id)


def open_batches(pipeline: SnowplowPipeline) -> list[str]:
    """Batches the manifest store has not seen to their end: pending (claimed, not staged) and, in
    batch mode, staged but not archived, as its two indexes name them (``ManifestStore.unarchived``:
    unfinished work only, not history). The staged index also holds a batch whose run failed or
    died after archiving moved its last object but before the archived marker was written, which no
    folder shows on S3 (a ``run=<id>/`` folder goes with its last object).

    The ``run=<id>/`` folders of processing are listed once per store, the first time, for the
    batches an earlier version staged without indexing them (``adopt_legacy_batches``).
    """
    storage = pipeline.storage()
    store = pipeline.manifest_store(storage)
    if pipeline.config.stream_mode:  # staging is the last step: a staged batch is finished
        return list(store.pending()[0])
    adopt_legacy_batches(storage, store, pipeline.claim_settings().processing)
    return store.unarchived()


def unfinished_batches(
    instance: dg.DagsterInstance,
    candidates: Iterable[str],
    is_staged: Callable[[str], bool] = lambda batch: False,
) -> list[str]:
    """Of ``candidates`` (batches not yet finished on storage, ``open_batches``), those to resume:
    - those whose last run ended: failed, cancelled, or a partial selection (one whose run is
      still going is its owner's);
    - staged ones (``is_staged``) without any run here: staging happens inside a run, so their
      run is in another instance (a new ``DAGSTER_HOME``, a lost SQLite file), and object storage
      alone says they are unfinished. A pending one without a run is the claim's (an orphan,
      taken over after a grace period by ``sensors.claim_tick``).

    Costs one run query per candidate, so it grows with unfinished work, not with history;
    ``is_staged`` is asked only of candidates without runs."""
    resume = []
    for batch in dict.fromkeys(candidates):
        records = instance.get_run_records(
            filters=dg.RunsFilter(tags={PARTITION_TAG: batch}), limit=1
        )
        if records[0].dagster_run.is_finished if records else is_staged(batch):
            resume.append(batch)
    return resume


def _owner_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid Dagster's executor logged when it started executing the run's steps."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        data = event.engine_event_data if event is not None else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None and str(pid.value).isdigit():
            return int(pid.value)
    return None


def describe(owners: Sequence[RunOwner]) -> str:
    return "; ".join(
        f"batch {o.batch or '?'} is in run {o.run_id} ({o.status.value}"
        + (f", pid {o.pid})" if o.pid is not None else ")")
        for o in owners
    )
