"""Pool slots (``emr``) for the runs a pass executes in this process, and for runs that ended.

Dagster's in-process executor waits for a step's pool slot in a loop that neither sleeps (its next
check is always due: ``InstanceConcurrencyContext.interval_to_next_pending_claim_check`` returns at
most 0) nor checks for SIGTERM/SIGINT, which it only records until a step's code runs. A slot
never freed therefore left a ``run`` spinning at full CPU, deaf to every signal but SIGKILL. And a
slot is never freed when its holder dies: only Dagster's daemon frees slots of ended runs (run
monitoring's ``free_slots_after_run_end_seconds``), and a cron ``run`` has no daemon.

So a pass:
- frees the slots of runs that ended, or that a killed pass left before its run was created
  (``free_ended``), after dead owners were marked failed;
- takes the slots of a run's pooled steps before the run starts (``claim``), sleeping between
  checks in its own code, where a signal stops it; Dagster's claim for the step then finds the
  slot taken by its run and goes on at once. The slot is held from the run's start to the end of
  its pooled step, which Dagster frees;
- frees whatever the run still holds once it has ended (``free``), whatever ended it.

Slots are claimed and freed through the event log storage, as Dagster's executors and the UI's
"free concurrency slots" action do (the instance has no public equivalent in Dagster 1.13).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

import dagster as dg

from snowplow_dagster.dagster_compat import EventLogStorage, PoolGranularity, PoolLimit

ORPHAN_GRACE_SECONDS = 60.0
"""A slot claimed for a run id that has no run is freed only once this old: a concurrent pass
claims its slot a moment before it creates the run."""

FIRST_WAIT_SECONDS = 1.0
MAX_WAIT_SECONDS = 15.0


def pooled_steps(
    assets: Iterable[dg.AssetsDefinition], selection: Iterable[dg.AssetKey]
) -> dict[str, str]:
    """The steps of an asset selection that are in a pool, with their pool: ``{step: pool}``."""
    wanted = set(selection)
    return {
        asset.op.name: asset.op.pool
        for asset in assets
        if asset.op.pool is not None and wanted & set(asset.keys)
    }


def claim(
    instance: dg.DagsterInstance,
    run_id: str,
    steps: Mapping[str, str],
    *,
    waiting: Callable[[str, list[str]], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Take a slot for each of ``steps`` (``{step: pool}``) for ``run_id``, waiting as long as the
    pool is full; ``waiting(pool, holders)`` is told once per pool that has to be waited for.

    An exception while waiting (a signal) frees what was claimed or queued."""
    storage = instance.event_log_storage
    try:
        for step, pool in steps.items():
            if not _limited(instance, pool):
                continue
            delay = FIRST_WAIT_SECONDS
            told = False
            while not storage.claim_concurrency_slot(pool, run_id, step).is_claimed:
                if not told:
                    info = storage.get_concurrency_info(pool)
                    waiting(pool, sorted(info.active_run_ids - {run_id}))
                    told = True
                sleep(delay)
                delay = min(delay * 2, MAX_WAIT_SECONDS)
    except BaseException:
        free(instance, run_id)
        raise


def free(instance: dg.DagsterInstance, run_id: str) -> None:
    """Free every slot ``run_id`` holds or waits for (none is fine)."""
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def free_ended(instance: dg.DagsterInstance, now: datetime | None = None) -> list[str]:
    """Free the slots of runs that have ended, and of run ids without a run claimed longer ago
    than ``ORPHAN_GRACE_SECONDS`` (a pass killed between claiming and starting its run); the run
    ids freed. A run whose owner died must be marked failed first (``cli/owners.py``)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    claimed: dict[str, datetime] = {}
    for info in storage.get_concurrency_infos(sorted(storage.get_concurrency_keys())).values():
        for step in info.pending_steps:
            first = claimed.get(step.run_id, step.enqueued_timestamp)
            claimed[step.run_id] = min(first, step.enqueued_timestamp)
        for slot in info.claimed_slots:
            claimed.setdefault(slot.run_id, datetime.min.replace(tzinfo=UTC))
    now = now or datetime.now(UTC)
    freed = []
    for run_id, since in sorted(claimed.items()):
        run = instance.get_run_by_id(run_id)
        orphan = run is None and (now - since).total_seconds() > ORPHAN_GRACE_SECONDS
        if orphan or (run is not None and run.is_finished):
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
    return freed


def _limited(instance: dg.DagsterInstance, pool: str) -> bool:
    """Whether steps of ``pool`` need a slot, as Dagster's executors decide it
    (``InstanceConcurrencyContext.claim``): a pool with a limit, set or from the instance's
    default, unless pools are enforced per run rather than per step."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return False
    config = storage.get_pool_config()
    if config.pool_granularity is PoolGranularity.RUN:
        return False
    default = config.default_pool_limit
    info = _pool_limits(storage).get(pool)
    if (info is None and default is not None) or (
        info is not None and info.from_default and info.limit != default
    ):
        storage.initialize_concurrency_limit_to_default(pool)
        info = _pool_limits(storage).get(pool)
    return info is not None


def _pool_limits(storage: EventLogStorage) -> dict[str, PoolLimit]:
    return {limit.name: limit for limit in storage.get_pool_limits()}
