"""``enriched_events``: the batch's raw lines enriched into ``enriched/good|bad/run=<id>/``.

The work is EmrEtlRunner's enrich step list (``enrich_steps``), run on the configured engine: EMR,
or the local engine that runs the same list here.

Input: ``processing/run=<id>/`` while the batch is staged; once it is archived (a re-enrichment
backfill), the raw archive's ``run=<id>/``. Either way the folder is first checked to hold every
object of the manifest, so an archive interrupted half-way is never enriched as if it were the
whole batch.

Output replacement: delete, then write, with ``_SUCCESS`` last. Before the steps run, whatever an
earlier attempt left in the batch's good and bad folders (and its counts file) is deleted; the
steps then write the folders afresh and ``_SUCCESS`` lands in a step of its own, after every data
file. So a rerun or a backfill replaces a batch's events and bad rows instead of adding to them
(sp#2593), and a reader that waits for ``_SUCCESS``, as Snowplow's loaders do, never sees a partial
folder. We do not write to a temporary folder and move it into place: the steps write to the run
folders themselves (EmrEtlRunner's layout, which S3DistCp on EMR writes directly), a move on S3 is a
copy of every byte, and it would still not be atomic.

Metadata: the job's counts, from its counts file (the job tallies as it enriches, so nothing is
read again). Good events by type are ``events_<type>`` ints, present for every standard type even
at 0, so the UI plots each type across batches; unstruct events by ``vendor/name`` (the most
frequent few, the rest as ``other``) are the ``unstruct_events`` table.
"""

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from snowplow_dagster.assets.batch_key import not_retried, require_batch
from snowplow_dagster.assets.staged import staged_logs
from snowplow_dagster.batches.claiming import ClaimSettings
from snowplow_dagster.batches.manifest import BatchState, ManifestStore
from snowplow_dagster.batches.moves import run_folder
from snowplow_dagster.config import PipelineConfig
from snowplow_dagster.constants import EMR_POOL, ENRICHED_GROUP
from snowplow_dagster.engines.contract import StepError, StepResult
from snowplow_dagster.engines.emr.runner import EmrClusterEnded
from snowplow_dagster.engines.steps import counts_location, enrich_steps
from snowplow_dagster.enrich.counts import JobCounts
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.storage import Location, ObjectMissing, Storage

CLUSTER_LOST_RETRIES = 2
CLUSTER_LOST_WAIT_SECONDS = 300
"""A cluster that ended under the steps (spot loss, capacity) is worth another go, later; a step
that failed on the data or the configuration is not, and fails the run at once."""

_SHOWN_MISSING = 10

_UNSTRUCT_EVENTS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("event", "string", description="event_vendor/event_name, or other"),
        dg.TableColumn("events", "int"),
    ]
)


def output_folders(config: PipelineConfig, batch: str) -> tuple[Location, Location]:
    """The batch's good and bad run folders."""
    assert config.locations.enriched_bad is not None  # batch mode requires it
    return (
        run_folder(Location.parse(config.locations.enriched_good), batch),
        run_folder(Location.parse(config.locations.enriched_bad), batch),
    )


def read_counts(storage: Storage, config: PipelineConfig, batch: str) -> JobCounts:
    """The enrich job's counts for the batch, from its counts file."""
    location = Location.parse(counts_location(config, batch))
    try:
        data = storage.read(location).data
    except ObjectMissing:
        raise dg.Failure(
            f"No enrich counts at {location.uri}: materialise enriched_events for batch {batch}"
        ) from None
    try:
        return JobCounts.from_json(data)
    except ValueError as error:
        raise dg.Failure(f"Unreadable enrich counts at {location.uri}: {error}") from None


def input_base(
    storage: Storage, store: ManifestStore, settings: ClaimSettings, batch: str
) -> Location:
    """Whose ``run=<id>/`` holds the batch's raw objects, all of them: processing, or the raw
    archive once the batch is archived."""
    state = store.state(batch)
    if state is None or state is BatchState.PENDING:
        raise dg.Failure(f"Batch {batch} is not staged: materialise staged_logs first")
    base = settings.archive if state is BatchState.ARCHIVED else settings.processing
    folder = run_folder(base, batch)
    found = {info.key: info.size for info in storage.list(folder, etags=False)}
    manifest = store.load(batch)
    missing = [e.path for e in manifest.entries if found.get(folder.join(e.path).key) != e.size]
    if missing:
        shown = ", ".join(missing[:_SHOWN_MISSING])
        more = f" and {len(missing) - _SHOWN_MISSING} more" if len(missing) > _SHOWN_MISSING else ""
        raise dg.Failure(
            f"{len(missing)} of batch {batch}'s {manifest.files} objects are not in {folder.uri} "
            f"({shown}{more}). If archiving was interrupted, materialise archived_logs to finish "
            "it, then enrich again (from the archive)."
        )
    return base


def _clear(storage: Storage, folder: Location) -> int:
    stale = [(folder.object(info.key), None) for info in storage.list(folder, etags=False)]
    storage.delete_many(stale)
    return len(stale)


def _event_metadata(counts: JobCounts) -> dict[str, dg.MetadataValue]:
    """Good events by type and unstruct events by name, from the counts.

    A counts file written by a job that predates these counts has none: they are left out rather
    than shown as zeros the UI would plot as real.
    """
    if not counts.by_type:
        return {}
    return {
        **{
            f"events_{kind}": dg.MetadataValue.int(events)
            for kind, events in counts.event_types.items()
        },
        "unstruct_events": dg.MetadataValue.table(
            records=[
                dg.TableRecord({"event": name, "events": events})
                for name, events in counts.unstruct_events.items()
            ],
            schema=_UNSTRUCT_EVENTS_SCHEMA,
        ),
    }


def step_metadata(results: Sequence[StepResult]) -> dict[str, dg.MetadataValue]:
    """What ran where: step states, ids and durations; EMR cluster and console link if on EMR."""
    metadata: dict[str, dg.MetadataValue] = {
        "steps": dg.MetadataValue.json(
            [
                {
                    "name": r.name,
                    "state": r.state,
                    "step_id": r.step_id,
                    "seconds": r.duration_seconds,
                    **({"message": r.message} if r.message else {}),
                }
                for r in results
            ]
        )
    }
    engine_facts: dict[str, Any] = {}
    for result in results:
        engine_facts.update(result.metadata)
    if "emr_cluster_id" in engine_facts:
        metadata["emr_cluster_id"] = dg.MetadataValue.text(engine_facts["emr_cluster_id"])
        metadata["emr_console"] = dg.MetadataValue.url(engine_facts["emr_console_url"])
    return metadata


@dg.asset(partitions_def=batches, group_name=ENRICHED_GROUP, deps=[staged_logs], pool=EMR_POOL)
def enriched_events(
    context: dg.AssetExecutionContext, pipeline: SnowplowPipeline
) -> dg.MaterializeResult:
    """Enrich the batch with Spark Enrich's step list on the configured engine (EMR or local
    Spark). A rerun or backfill replaces the batch's good events and bad rows, never appends."""
    config = pipeline.config
    if config.stream_mode:
        raise not_retried("Stream Enrich mode has nothing to enrich: use staged_enriched")
    require_batch(context, pipeline)
    batch = context.partition_key
    storage = pipeline.storage()
    store = pipeline.manifest_store(storage)
    base = input_base(storage, store, pipeline.claim_settings(), batch)
    good, bad = output_folders(config, batch)

    replaced = _clear(storage, good) + _clear(storage, bad)
    storage.delete(Location.parse(counts_location(config, batch)))
    if replaced:
        context.log.info(f"Deleted {replaced} objects of an earlier enrichment of batch {batch}")

    app_uri, py_files_uri = pipeline.application_uris()
    steps = enrich_steps(
        config,
        batch_id=batch,
        input_folder=run_folder(base, batch).uri,
        enrichments_b64=pipeline.enrichments_b64(),
        resolver_b64=pipeline.resolver_b64(),
        etl_tstamp_ms=int(datetime.now(UTC).timestamp() * 1000),
        app_uri=app_uri,
        py_files_uri=py_files_uri,
    )
    started = time.monotonic()
    try:
        results = pipeline.execution_engine().run_steps(steps, log=context.log)
    except EmrClusterEnded as error:
        raise dg.RetryRequested(
            max_retries=CLUSTER_LOST_RETRIES, seconds_to_wait=CLUSTER_LOST_WAIT_SECONDS
        ) from error
    except StepError as error:
        raise dg.Failure(
            description=str(error), metadata=step_metadata(error.results), allow_retries=False
        ) from error
    duration = time.monotonic() - started

    counts = read_counts(storage, config, batch)
    return dg.MaterializeResult(
        metadata={
            "events": dg.MetadataValue.int(counts.good_events),
            "bad_rows": dg.MetadataValue.int(counts.bad_rows),
            "input_lines": dg.MetadataValue.int(counts.input_lines),
            "skipped_lines": dg.MetadataValue.int(counts.skipped_lines),
            "lines_with_output": dg.MetadataValue.int(counts.lines_with_output),
            **_event_metadata(counts),
            "replaced_objects": dg.MetadataValue.int(replaced),
            "duration_seconds": dg.MetadataValue.float(round(duration, 1)),
            "input": dg.MetadataValue.path(run_folder(base, batch).uri),
            "good": dg.MetadataValue.path(good.uri),
            "bad": dg.MetadataValue.path(bad.uri),
            **step_metadata(results),
        }
    )
