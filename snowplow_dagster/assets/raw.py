"""``raw_logs``: a batch's claimed manifest, the exact objects every later step works from."""

import dagster as dg

from snowplow_dagster.assets.batch_key import require_batch
from snowplow_dagster.constants import RAW_GROUP
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline


@dg.asset(partitions_def=batches, group_name=RAW_GROUP)
def raw_logs(context: dg.AssetExecutionContext, pipeline: SnowplowPipeline) -> dg.MaterializeResult:
    """The objects claimed into this batch, as its manifest lists them.

    Claiming (the sensor, or a pass) writes the manifest before the partition exists; this records
    what it holds, so the UI shows each batch's files and bytes before anything moves.
    """
    store = pipeline.manifest_store()
    manifest = require_batch(context, pipeline)
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.int(manifest.files),
            "bytes": dg.MetadataValue.int(manifest.bytes),
            "sources": dg.MetadataValue.json([source.uri for source in manifest.sources]),
            "manifest": dg.MetadataValue.path(store.manifest_location(manifest.batch_id).uri),
        }
    )
