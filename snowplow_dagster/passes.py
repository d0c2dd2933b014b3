"""One pass, for a cron ``run`` and the demo: claim what waits, then run each batch's job here.

The same claim and decision as a sensor tick (``sensors.claim_tick``), with the runs executed in
this process against the given instance, so they show in the UI as the sensor's runs do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from snowplow_dagster.assets import all_assets, asset_checks
from snowplow_dagster.constants import BATCH_TAG
from snowplow_dagster.jobs import jobs
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources.pipeline import SnowplowPipeline
from snowplow_dagster.sensors import SensorCursor, claim_tick


@dataclass(frozen=True)
class PassResult:
    job_name: str
    batches: tuple[str, ...]
    """Run, in order: the batches claimed by this pass, then any found claimed without a run."""
    results: tuple[dg.ExecuteInProcessResult, ...]

    @property
    def success(self) -> bool:
        return all(result.success for result in self.results)


def run_pass(
    instance: dg.DagsterInstance,
    pipeline: SnowplowPipeline,
    *,
    resume: Sequence[str] = (),
    now: datetime | None = None,
) -> PassResult:
    """Claim, then run the mode's job for every new batch, every batch claimed without a run,
    and ``resume`` (batches whose earlier run died); each run stops at its first failure.

    ``PassResult.batches`` empty means there was nothing to do (EmrEtlRunner's exit 3).
    """
    decision = claim_tick(instance, pipeline, SensorCursor(), now or datetime.now(UTC))
    todo = tuple(dict.fromkeys([*decision.requests, *resume]))
    instance.add_dynamic_partitions(batches.name, [b for b in todo if not _known(instance, b)])
    job = dg.Definitions(
        assets=all_assets, asset_checks=asset_checks, jobs=jobs, resources={"pipeline": pipeline}
    ).resolve_job_def(decision.job_name)
    results = tuple(
        job.execute_in_process(
            instance=instance, partition_key=batch, tags={BATCH_TAG: batch}, raise_on_error=False
        )
        for batch in todo
    )
    return PassResult(decision.job_name, todo, results)


def _known(instance: dg.DagsterInstance, batch: str) -> bool:
    return instance.has_dynamic_partition(batches.name, batch)
