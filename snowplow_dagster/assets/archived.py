"""``archived_logs``: the batch's raw objects moved from processing to the raw archive.

Objects of the manifest found neither in processing nor in the archive (``processing/`` deleted
under a run, say) cannot come back by retrying: the batch is set aside (``ManifestStore.set_aside``)
and fails once, with a message naming what is missing, where the rest is, and how to finish it.
Later passes do not resume it, so it blocks nothing.
"""

import dagster as dg

from snowplow_dagster.assets.batch_key import require_batch
from snowplow_dagster.assets.enriched import enriched_events
from snowplow_dagster.assets.staged import MOVE_RETRY_POLICY, move_metadata
from snowplow_dagster.batches.claiming import ClaimSettings
from snowplow_dagster.batches.manifest import ManifestStore
from snowplow_dagster.batches.moves import MoveError, archive_batch, run_folder
from snowplow_dagster.constants import ARCHIVED_GROUP
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.storage import Storage

_SHOWN = 10


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
    storage = pipeline.storage()
    try:
        report = archive_batch(storage, settings, batch)
    except MoveError as error:
        if not error.missing:
            raise
        store = pipeline.manifest_store(storage)
        raise set_aside(storage, store, settings, batch, error) from error
    location = run_folder(settings.archive, batch).uri
    return dg.MaterializeResult(
        metadata={**move_metadata(report), "location": dg.MetadataValue.path(location)}
    )


def set_aside(
    storage: Storage,
    store: ManifestStore,
    settings: ClaimSettings,
    batch: str,
    error: MoveError,
) -> dg.Failure:
    """Set the batch aside and say so: a failure that is not retried, naming the missing objects,
    where the archived ones are, any still in their in-location, and what finishes the batch."""
    processing, archive = (
        run_folder(settings.processing, batch),
        run_folder(settings.archive, batch),
    )
    manifest = store.load(batch)
    lost = {processing.relative(move.src.key) for move in error.missing}
    in_place = [
        manifest.source_of(entry).uri
        for entry in manifest.entries
        if entry.path in lost and storage.head(manifest.source_of(entry)) is not None
    ]
    paths = sorted(lost)
    archived = manifest.files - len(paths) - len(error.changed)
    more = f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
    message = (
        f"Batch {batch}: {len(paths)} of its {manifest.files} raw objects are gone from "
        f"{processing.uri} and are not in the archive ({', '.join(paths[:_SHOWN])}{more}). "
        f"{archived} are archived in {archive.uri}. "
        + (f"Still in their in-location: {', '.join(in_place[:_SHOWN])}. " if in_place else "")
        + "The batch is set aside: neither retried nor resumed by later runs. To finish it, put "
        f"the missing objects back in {processing.uri} under the same names and materialise "
        f"archived_logs for partition {batch}; if they are lost for good, nothing more is needed."
    )
    store.set_aside(batch, {"message": message, "missing": paths, "in_place": in_place})
    return dg.Failure(
        description=message,
        metadata={
            "missing": dg.MetadataValue.int(len(paths)),
            "missing_objects": dg.MetadataValue.json(paths[:100]),
            "archived": dg.MetadataValue.int(archived),
            "archive": dg.MetadataValue.path(archive.uri),
            "still_in_place": dg.MetadataValue.json(in_place[:100]),
        },
        allow_retries=False,
    )
