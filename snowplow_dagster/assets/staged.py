"""``staged_logs``: the batch's objects moved from the in-locations to ``processing/run=<id>/``."""

import dagster as dg

from snowplow_dagster.assets.batch_key import not_retried, require_batch
from snowplow_dagster.assets.raw import raw_logs
from snowplow_dagster.batches.manifest import BatchState
from snowplow_dagster.batches.moves import MoveReport, run_folder, stage_batch
from snowplow_dagster.constants import STAGED_GROUP
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline

MOVE_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""Moves are idempotent and resumable from the manifest, so a retry finishes what a throttled or
interrupted attempt started, and never moves an object twice."""


def move_metadata(report: MoveReport) -> dict[str, dg.MetadataValue]:
    """The same numeric keys for every partition, so the UI plots them across batches."""
    return {
        "files": dg.MetadataValue.int(report.files),
        "bytes": dg.MetadataValue.int(report.bytes),
        "copied": dg.MetadataValue.int(report.copied),
        "already_there": dg.MetadataValue.int(report.already_there),
        "kept_sources": dg.MetadataValue.int(len(report.kept_sources)),
    }


@dg.asset(
    partitions_def=batches,
    group_name=STAGED_GROUP,
    deps=[raw_logs],
    retry_policy=MOVE_RETRY_POLICY,
)
def staged_logs(
    context: dg.AssetExecutionContext, pipeline: SnowplowPipeline
) -> dg.MaterializeResult:
    """Stage the batch (verified moves of exactly its manifest).

    On a batch already archived (a backfill) nothing moves: staging is a no-op that records where
    the raw data is now, which is where a re-enrichment reads it from.
    """
    if pipeline.config.stream_mode:
        raise not_retried("Stream Enrich mode: materialise staged_enriched, not staged_logs")
    require_batch(context, pipeline)
    storage = pipeline.storage()
    settings = pipeline.claim_settings()
    batch = context.partition_key
    report = stage_batch(storage, settings, batch)
    archived = pipeline.manifest_store(storage).state(batch) is BatchState.ARCHIVED
    where = run_folder(settings.archive if archived else settings.processing, batch)
    for uri in report.kept_sources:
        context.log.warning(f"{uri} was replaced after it was claimed: kept in place")
    return dg.MaterializeResult(
        metadata={**move_metadata(report), "location": dg.MetadataValue.path(where.uri)}
    )
