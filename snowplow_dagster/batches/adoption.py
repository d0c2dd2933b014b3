"""Adopting the batches an earlier version staged: it kept no staged index, so its staged batches
are known only by their ``run=<id>/`` folders in processing.

The folders are listed once per manifest store, the first time the unfinished batches are asked
for; after that the staged index alone names them (``ManifestStore.unarchived``), so finding
unfinished work never costs a listing of processing again.
"""

from __future__ import annotations

from snowplow_dagster.batches.manifest import ManifestStore
from snowplow_dagster.storage import Location, Storage


def adopt_legacy_batches(storage: Storage, store: ManifestStore, processing: Location) -> None:
    """Put the STAGED batches among the ``run=<id>/`` folders of ``processing`` into the staged
    index (``ManifestStore.adopt_legacy``), unless the store has done so already."""
    if store.legacy_adopted():
        return
    _, folders = storage.list_children(processing)
    names = (processing.relative(folder.key).rstrip("/") for folder in folders)
    store.adopt_legacy(name.removeprefix("run=") for name in names if name.startswith("run="))
