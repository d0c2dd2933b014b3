"""Which batches still need loading: the next ``run`` resumes them.

A batch's raw files are archived whether or not its load succeeds (archiving does not wait for
loading), so the manifest indexes that name unfinished batches no longer list it. The Dagster event
log does: a batch whose ``loaded_events`` was planned by a run after its last materialisation was
not loaded by that run. Two queries, however long the history.
"""

from __future__ import annotations

import dagster as dg

LOADED_EVENTS = dg.AssetKey("loaded_events")


def unloaded_batches(instance: dg.DagsterInstance) -> list[str]:
    """Batches whose latest planned load has not materialised, oldest first."""
    storage = instance.event_log_storage
    planned, materialised = (
        storage.get_latest_storage_id_by_partition(LOADED_EVENTS, event)
        for event in (
            dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
            dg.DagsterEventType.ASSET_MATERIALIZATION,
        )
    )
    return sorted(batch for batch, at in planned.items() if materialised.get(batch, -1) < at)
