"""One pass, for a cron ``run`` and the demo: claim what waits, then run each batch's job here.

The same claim and decision as a sensor tick (``sensors.claim_tick``), with the runs executed in
this process against the given instance, so they show in the UI as the sensor's runs do.

Each run's pool slots are taken before it starts and whatever it holds is freed once it ended
(``pools.py``), so a run never waits for a slot inside Dagster's executor, and no ended run keeps
one.

A resumed batch runs only what it still needs (``still_to_run``): a batch that failed at archiving
is archived, not enriched again. Rerunning more would be correct too (staging and archiving are
idempotent, enrichment replaces its output), but would redo a Spark job for nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from snowplow_dagster import pools
from snowplow_dagster.assets import all_assets, asset_checks, loading_assets, loading_checks
from snowplow_dagster.batches.claiming import QuietWait
from snowplow_dagster.code_location import build_definitions
from snowplow_dagster.constants import BATCH_TAG
from snowplow_dagster.dagster_compat import AssetCheckExecutionRecordStatus, PartitionKeyFilter
from snowplow_dagster.jobs import job_name_for
from snowplow_dagster.loading.warehouse import PostgresWarehouse
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.sensors import SensorCursor, claim_tick
from snowplow_dagster.storage import Stray

_BLOCKING_CHECKS = [
    spec
    for checks in [*asset_checks, *loading_checks]
    for spec in checks.check_specs
    if spec.blocking
]
"""Checks that must pass before downstream assets run: an asset whose blocking check failed is not
done, so a resume reruns it rather than going past the check."""


@dataclass(frozen=True)
class PassResult:
    job_name: str
    batches: tuple[str, ...]
    """Run, in order: the batches claimed by this pass, then any found claimed without a run,
    then the resumed ones that had anything left to run."""
    results: tuple[dg.ExecuteInProcessResult, ...]
    strays: tuple[Stray, ...] = ()
    """Objects the claim left where they are because they cannot be claimed."""
    quiet: QuietWait | None = None
    """Objects the claim left for a later pass (the quiet period)."""

    @property
    def success(self) -> bool:
        return all(result.success for result in self.results)


def run_pass(
    instance: dg.DagsterInstance,
    pipeline: SnowplowPipeline,
    *,
    resume: Sequence[str] = (),
    assets: Sequence[str] | None = None,
    claim_new: bool = True,
    now: datetime | None = None,
    warehouse: PostgresWarehouse | None = None,
    waiting: Callable[[str, list[str]], None] = lambda pool, holders: None,
    checkpoint: Callable[[], None] = lambda: None,
) -> PassResult:
    """Claim (unless ``claim_new`` is False), then run the mode's job, or only its ``assets``, for
    every new batch, every batch claimed without a run, and ``resume`` (batches whose earlier run
    ended unfinished); each run stops at its first failure.

    A resumed batch runs only the selected assets it still needs (``still_to_run``), and is left
    out when that is none of them. ``PassResult.batches`` empty means there was nothing to do
    (EmrEtlRunner's exit 3). With a ``warehouse``, the batch job loads too (``loaded_events``).

    ``waiting(pool, holders)``: a run has to wait for a slot of ``pool``. ``checkpoint()`` is
    called after each run: an exception from it (a signal that came during the run) ends the pass.
    """
    job_name = job_name_for(pipeline.config)
    job = build_definitions(
        pipeline, stream_mode=pipeline.config.stream_mode, warehouse=warehouse
    ).resolve_job_def(job_name)
    selection = (
        [dg.AssetKey(asset) for asset in assets]
        if assets is not None
        else sorted(job.asset_layer.executable_asset_keys)
    )
    tick = (
        claim_tick(instance, pipeline, SensorCursor(), now or datetime.now(UTC))
        if claim_new
        else None
    )
    plans = dict.fromkeys(tick.requests if tick else (), selection)
    for batch in resume:
        if batch not in plans and (left := still_to_run(instance, batch, selection)):
            plans[batch] = left
    todo = tuple(plans)
    instance.add_dynamic_partitions(batches.name, [b for b in todo if not _known(instance, b)])
    results = []
    for batch in todo:
        run_id = str(uuid.uuid4())
        try:
            pools.claim(
                instance,
                run_id,
                pools.pooled_steps([*all_assets, *loading_assets], plans[batch]),
                waiting=waiting,
            )
            results.append(
                job.execute_in_process(
                    instance=instance,
                    partition_key=batch,
                    tags={BATCH_TAG: batch},
                    asset_selection=plans[batch],
                    raise_on_error=False,
                    run_id=run_id,
                )
            )
        finally:
            _end(instance, run_id)
        checkpoint()
    return PassResult(
        job_name, todo, tuple(results), tick.strays if tick else (), tick.quiet if tick else None
    )


def _end(instance: dg.DagsterInstance, run_id: str) -> None:
    """Leave the run ended and holding nothing, however it stopped: a signal can stop a pass
    after Dagster created the run but before it started executing it."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, message="Stopped before it could run its steps")
    pools.free(instance, run_id)


def still_to_run(
    instance: dg.DagsterInstance, batch: str, selection: Sequence[dg.AssetKey]
) -> list[dg.AssetKey]:
    """Of ``selection``, the assets the batch still needs: those not done for it (``_done``) and
    everything downstream of one, since an asset's output is only as good as its inputs."""
    undone = [key for key in selection if not _done(instance, key, batch)]
    rerun = dg.AssetSelection.assets(*undone).downstream().resolve([*all_assets, *loading_assets])
    return [key for key in selection if key in rerun]


def _done(instance: dg.DagsterInstance, key: dg.AssetKey, batch: str) -> bool:
    """The last run that planned the asset for this batch materialised it, and its blocking
    checks' latest evaluations for the batch passed.

    Comparing with the latest plan, not just asking "ever materialised", matters: a later attempt
    that failed or died halfway may have replaced part of an earlier output (enrichment does).
    """
    storage = instance.event_log_storage
    materialised, planned = (
        storage.get_latest_storage_id_by_partition(key, event, partitions={batch}).get(batch, -1)
        for event in (
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
        )
    )
    if materialised <= planned:
        return False
    checks = [spec.key for spec in _BLOCKING_CHECKS if spec.asset_key == key]
    latest = storage.get_latest_asset_check_execution_by_key(
        checks, partition_filter=PartitionKeyFilter(key=batch)
    )
    return all(
        check in latest and latest[check].status is AssetCheckExecutionRecordStatus.SUCCEEDED
        for check in checks
    )


def _known(instance: dg.DagsterInstance, batch: str) -> bool:
    return instance.has_dynamic_partition(batches.name, batch)
