"""``archived_logs``: the batch's raw objects moved from processing to the raw archive."""

import dagster as dg

from snowplow_dagster.assets.batch_key import require_batch
from snowplow_dagster.assets.enriched import enriched_events
from snowplow_dagster.assets.staged import MOVE_RETRY_POLICY, move_metadata
from snowplow_dagster.constants import ARCHIVED_GROUP
from snowplow_dagster.moves import archive_batch, run_folder
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources.pipeline import SnowplowPipeline


@dg.asset(
    partitions_def=batches,
    group_name=ARCHIVED_GROUP,
    deps=[enriched_events],
    retry_policy=MOVE_RETRY_POLICY,
)
def archived_logs(
    context: dg.AssetExecutionContext, pipeline: SnowplowPipeline
) -> dg.MaterializeResult:
    """Archive exactly the manifest's objects to archive/raw/run=<id>/ (idempotent).

    Runs only after enrichment's blocking checks passed, so raw data whose enrichment lost lines
    stays in processing for a rerun.
    """
    require_batch(context, pipeline)
    settings = pipeline.claim_settings()
    batch = context.partition_key
    report = archive_batch(pipeline.storage(), settings, batch)
    location = run_folder(settings.archive, batch).uri
    return dg.MaterializeResult(
        metadata={**move_metadata(report), "location": dg.MetadataValue.path(location)}
    )
