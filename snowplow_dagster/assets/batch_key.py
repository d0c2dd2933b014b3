"""Failures no retry can fix, and the check that a partition key is a batch at all.

A batch partition is added by a claim, after its manifest is written. A key added by hand in the
UI has no manifest, so every step of it would fail, and the moves would do so three times with
back-off. Each asset checks the key first: a key that is no batch fails at once with one message,
and its partition is removed, so the assets do not show it as a failed partition for ever.
"""

import dagster as dg

from snowplow_dagster.batches.manifest import Manifest, UnknownBatch
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline


def not_retried(message: str) -> dg.Failure:
    """A failure the asset's retry policy must not retry: configuration, an unknown batch. The
    run history then shows one attempt, with this message, rather than three."""
    return dg.Failure(description=message, allow_retries=False)


def require_batch(context: dg.AssetExecutionContext, pipeline: SnowplowPipeline) -> Manifest:
    """The partition's manifest; a key with none is removed from the partitions and fails."""
    key = context.partition_key
    store = pipeline.manifest_store()
    try:
        return store.load(key)
    except UnknownBatch:
        pass
    if context.instance.has_dynamic_partition(batches.name, key):
        context.instance.delete_dynamic_partition(batches.name, key)
    raise not_retried(
        f"{key!r} is not a batch: no manifest at "
        f"{store.manifest_location(key).uri}. Batches are added by the in-bucket sensor or "
        "`snowplow-dagster run` when they claim files, not by hand; the partition was removed."
    )
