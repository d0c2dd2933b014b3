"""``staged_enriched`` (Stream Enrich mode): enriched files from the S3 Loader, staged as a batch.

EmrEtlRunner R102+'s ``staging_stream_enrich``: the claimed ``.gz`` files of the stream location
move into ``enriched/good/run=<id>/``; there is nothing to enrich and no raw archive. An empty
``_SUCCESS`` is written once they are all there, as batch mode's last step does, so a consumer
reads a run folder in either mode the same way.
"""

import dagster as dg

from snowplow_dagster.assets.batch_key import not_retried, require_batch
from snowplow_dagster.assets.raw import raw_logs
from snowplow_dagster.assets.staged import MOVE_RETRY_POLICY, move_metadata
from snowplow_dagster.batches.moves import run_folder, stage_batch
from snowplow_dagster.constants import STREAM_GROUP
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline


@dg.asset(
    partitions_def=batches,
    group_name=STREAM_GROUP,
    deps=[raw_logs],
    retry_policy=MOVE_RETRY_POLICY,
)
def staged_enriched(
    context: dg.AssetExecutionContext, pipeline: SnowplowPipeline
) -> dg.MaterializeResult:
    """Move the batch's enriched files into enriched/good/run=<id>/ (verified, idempotent)."""
    if not pipeline.config.stream_mode:
        raise not_retried("batch mode: staged_enriched needs aws.s3.buckets.enriched.stream")
    require_batch(context, pipeline)
    settings = pipeline.claim_settings()  # in stream mode, "processing" is enriched.good
    batch = context.partition_key
    storage = pipeline.storage()
    report = stage_batch(storage, settings, batch)
    folder = run_folder(settings.processing, batch)
    storage.write(folder.join("_SUCCESS"), b"")
    location = folder.uri
    return dg.MaterializeResult(
        metadata={**move_metadata(report), "location": dg.MetadataValue.path(location)}
    )
