"""The in-bucket sensor: new objects become a batch partition and one run of the mode's job.

A tick claims (``claiming.claim``: lists the in-locations, writes manifests, commits), then asks
``decide_tick``, a pure function of what was claimed, what is pending and the cursor, which batches
to request. A tick costs one listing of each in-location plus reads of the pending manifests, and
a run-history lookup only for a pending batch the cursor does not know: never anything that grows
with the number of past batches.

Requests use the batch id as run key, so the daemon never launches two runs for one batch. A
batch claimed but never requested (the process died between committing its manifest and the tick
ending, or a pass claimed it and died) is requested again once it is older than the grace period
and has no run; the grace keeps a tick from taking over a batch a concurrent pass just claimed.
"""

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

from snowplow_dagster.batches.claiming import QuietWait, claim_pass, describe_strays, preview_claim
from snowplow_dagster.batches.manifest import batch_time
from snowplow_dagster.constants import BATCH_TAG, PARTITION_TAG
from snowplow_dagster.dagster_compat import UnresolvedAssetJobDefinition
from snowplow_dagster.jobs import batch_job, job_name_for
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.storage import ObjectInfo, Stray

INTERVAL_ENV = "SNOWPLOW_DAGSTER_SENSOR_INTERVAL_SECONDS"
DEFAULT_INTERVAL_SECONDS = 60
ORPHAN_GRACE_SECONDS = 300


@dataclass(frozen=True)
class SensorCursor:
    """What the last tick did: when, and which pending batches it knows were requested.

    Only batches still pending are kept, so the cursor stays as small as the pending index.
    """

    last_tick: str | None = None
    requested: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps({"last_tick": self.last_tick, "requested": list(self.requested)})

    @classmethod
    def from_json(cls, text: str | None) -> "SensorCursor":
        if not text:
            return cls()
        document = json.loads(text)
        return cls(document.get("last_tick"), tuple(document.get("requested", ())))


@dataclass(frozen=True)
class ClaimOutcome:
    """What a tick found: batches it just claimed, every pending batch (these included), and
    which of the pending batches already have a run in the instance."""

    new: tuple[str, ...]
    pending: tuple[str, ...]
    with_runs: frozenset[str] = frozenset()
    strays: tuple[Stray, ...] = ()
    """Objects that cannot be claimed (``claiming.find_strays``)."""
    quiet: QuietWait | None = None
    """Objects left for a later tick by the quiet period."""


@dataclass(frozen=True)
class TickSettings:
    job_name: str
    orphan_grace_seconds: float = ORPHAN_GRACE_SECONDS


@dataclass(frozen=True)
class TickDecision:
    job_name: str
    requests: tuple[str, ...]
    """Batches to request a run for; their partitions are added in the same result."""
    cursor: SensorCursor
    skip_reason: str | None = None
    orphans: tuple[str, ...] = ()
    """Of ``requests``: pending batches found without a run."""
    strays: tuple[Stray, ...] = ()
    """Objects left unclaimed because they cannot be claimed: reported on every tick."""
    quiet: QuietWait | None = None
    """Objects left for a later tick by the quiet period."""


def orphan_candidates(
    new: Iterable[str], pending: Iterable[str], cursor: SensorCursor
) -> tuple[str, ...]:
    """Pending batches neither just claimed nor known to the cursor: the only ones whose run
    history a tick looks up."""
    known = set(new) | set(cursor.requested)
    return tuple(sorted(batch for batch in pending if batch not in known))


def decide_tick(
    outcome: ClaimOutcome, cursor: SensorCursor, now: datetime, settings: TickSettings
) -> TickDecision:
    """Which batches this tick requests, and the cursor it leaves."""
    grace = now - timedelta(seconds=settings.orphan_grace_seconds)
    orphans = tuple(
        batch
        for batch in orphan_candidates(outcome.new, outcome.pending, cursor)
        if batch not in outcome.with_runs and batch_time(batch) <= grace
    )
    requests = tuple(sorted({*outcome.new, *orphans}))
    still_pending = set(outcome.pending) | set(outcome.new)
    requested = (set(cursor.requested) | set(requests) | set(outcome.with_runs)) & still_pending
    next_cursor = SensorCursor(now.isoformat(), tuple(sorted(requested)))
    skip = None
    if not requests:
        skip = f"Nothing new to claim; {len(outcome.pending)} batch(es) pending"
        if outcome.quiet is not None:
            skip += f"; {outcome.quiet.describe()}"
        if outcome.strays:
            skip += f". {describe_strays(outcome.strays)}"
    return TickDecision(
        settings.job_name, requests, next_cursor, skip, orphans, outcome.strays, outcome.quiet
    )


def batches_with_runs(instance: dg.DagsterInstance, candidates: Sequence[str]) -> frozenset[str]:
    """Of these batches, those that have a run of any job (one query per candidate: few)."""
    return frozenset(
        batch
        for batch in candidates
        if instance.get_run_records(filters=dg.RunsFilter(tags={PARTITION_TAG: batch}), limit=1)
    )


def claim_tick(
    instance: dg.DagsterInstance,
    pipeline: SnowplowPipeline,
    cursor: SensorCursor,
    now: datetime,
) -> TickDecision:
    """Claim what waits, then decide: the part of a tick that a pass (``passes.py``) shares."""
    storage = pipeline.storage()
    settings = pipeline.claim_settings()
    held: list[ObjectInfo] = []
    claimed = claim_pass(storage, settings, now=now, held=held)
    new = tuple(m.batch_id for m in claimed.manifests)
    pending, _ = pipeline.manifest_store(storage).pending()
    candidates = orphan_candidates(new, pending, cursor)
    outcome = ClaimOutcome(
        new,
        pending,
        batches_with_runs(instance, candidates),
        claimed.strays,
        QuietWait.of(held, settings),
    )
    return decide_tick(outcome, cursor, now, TickSettings(job_name_for(pipeline.config)))


def is_preview(context: dg.SensorEvaluationContext) -> bool:
    """Dagster's "Preview tick result" (GraphQL ``sensorDryRun``): the daemon names each tick's
    logs ``[repository, sensor, tick id]``, while a preview passes no log key and Dagster makes one
    from the time (``YYYYMMDD_HHMMSS``). A preview must not claim: its claim would be real while
    its run requests are only shown."""
    log_key = context.log_key
    return bool(log_key) and not str(log_key[-1]).isdigit()


def preview_tick(pipeline: SnowplowPipeline, now: datetime) -> str:
    """What a tick would claim now, with nothing written."""
    settings = pipeline.claim_settings()
    held: list[ObjectInfo] = []
    plans = preview_claim(pipeline.storage(), settings, now, held)
    files = sum(len(plan.entries) for plan in plans)
    text = f"Preview, nothing claimed: a tick now would claim {files} object(s) into "
    text += f"{len(plans)} batch(es) and request a run for each"
    if (quiet := QuietWait.of(held, settings)) is not None:
        text += f"; {quiet.describe()}"
    return text


def _evaluate(context: dg.SensorEvaluationContext, pipeline: SnowplowPipeline) -> dg.SensorResult:
    if is_preview(context):
        return dg.SensorResult(skip_reason=preview_tick(pipeline, datetime.now(UTC)))
    pipeline.check_application()  # a location we cannot write fails the tick, claiming nothing
    cursor = SensorCursor.from_json(context.cursor)
    decision = claim_tick(context.instance, pipeline, cursor, datetime.now(UTC))
    if decision.orphans:
        context.log.warning(f"Requesting runs for batches claimed without one: {decision.orphans}")
    if decision.strays:
        context.log.warning(describe_strays(decision.strays))
    if decision.skip_reason is not None:
        return dg.SensorResult(skip_reason=decision.skip_reason, cursor=decision.cursor.to_json())
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=batch,
                partition_key=batch,
                job_name=decision.job_name,
                tags={BATCH_TAG: batch},
            )
            for batch in decision.requests
        ],
        dynamic_partitions_requests=[batches.build_add_request(list(decision.requests))],
        cursor=decision.cursor.to_json(),
    )


def build_in_bucket_sensor(job: UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """The sensor for the configured mode's job (``definitions.py`` defines only that job)."""
    return dg.sensor(
        name="in_bucket_sensor",
        job=job,
        minimum_interval_seconds=int(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_SECONDS)),
        description="Claims new objects of the in-bucket(s) (or the stream location) into batches "
        "and requests one run per batch. The quiet period and batch caps come from config.yml.",
    )(_evaluate)


in_bucket_sensor = build_in_bucket_sensor(batch_job)
"""Batch mode's sensor (and the function any mode's sensor runs, for direct invocation)."""
