"""Batch manifests: the exact raw objects that belong to a batch, written before anything moves.

Every later step works from the manifest, never from "whatever is in the folder now". EmrEtlRunner
read its progress from which folders were empty, which is why a resume could archive unprocessed
files and a rerun could duplicate data.

Layout under the manifests location (``ManifestStore``)::

    batches/<id>.json        the manifest; immutable, created only if absent (that reserves the id)
    pending.json             ids of batches claimed but not yet staged; replaced only by a
                             compare-and-swap on its ETag, the one point where claims commit
    staged/<id>.json         marker: every object is in processing/run=<id>/ (a summary inside)
    archived/<id>.json       marker: every object is in the raw archive's run=<id>/
    moves/<id>/<name>.json   the frozen listing of a folder being moved (enriched output)

A batch is PENDING while its id is in ``pending.json``, then STAGED, then ARCHIVED. "Already
claimed" is known from ``pending.json`` and the few manifests it names: once a batch is staged its
objects have left the in-locations, so no pass ever needs to list history.
"""

from __future__ import annotations

import contextlib
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from snowplow_dagster.resources.storage import Location, ObjectMissing, PreconditionFailed, Storage

BATCH_ID_FORMAT = "%Y-%m-%d-%H-%M-%S"
"""EmrEtlRunner's run id, in UTC: it names every ``run=<id>/`` folder, which existing Snowplow
tooling (Hive/Athena partitions, the analytics SDK's run manifests) parses."""

_FORMAT_VERSION = 1
_CAS_ATTEMPTS = 100


def batch_id(at: datetime) -> str:
    return at.astimezone(UTC).strftime(BATCH_ID_FORMAT)


def batch_time(batch: str) -> datetime:
    return datetime.strptime(batch, BATCH_ID_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    source: int
    """Index into ``Manifest.sources``: the in-location the object was claimed from."""
    key: str
    """The object's full key in its bucket."""
    size: int
    etag: str
    path: str
    """Where the object lives under ``run=<id>/`` once staged, fixed at claim time."""


class EntryTotals:
    """File and byte totals of a set of manifest entries: a batch plan's and its manifest's."""

    __slots__ = ()
    entries: tuple[ManifestEntry, ...]

    @property
    def files(self) -> int:
        return len(self.entries)

    @property
    def bytes(self) -> int:
        return sum(entry.size for entry in self.entries)


@dataclass(frozen=True, slots=True)
class Manifest(EntryTotals):
    batch_id: str
    sources: tuple[Location, ...]
    entries: tuple[ManifestEntry, ...]

    def source_of(self, entry: ManifestEntry) -> Location:
        return self.sources[entry.source].object(entry.key)

    def to_json(self) -> bytes:
        document = {
            "format": _FORMAT_VERSION,
            "batch_id": self.batch_id,
            "sources": [source.uri for source in self.sources],
            "entries": [
                {"source": e.source, "key": e.key, "size": e.size, "etag": e.etag, "path": e.path}
                for e in self.entries
            ],
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        document = json.loads(data)
        if document.get("format") != _FORMAT_VERSION:
            raise ValueError(f"unsupported manifest format {document.get('format')!r}")
        return cls(
            batch_id=document["batch_id"],
            sources=tuple(Location.parse(uri) for uri in document["sources"]),
            entries=tuple(ManifestEntry(**entry) for entry in document["entries"]),
        )


class BatchState(enum.Enum):
    PENDING = "pending"
    STAGED = "staged"
    ARCHIVED = "archived"


class UnknownBatch(LookupError):
    pass


class ManifestStore:
    """Manifests and batch states under one location, on any storage backend."""

    def __init__(self, storage: Storage, location: Location) -> None:
        self.storage = storage
        self.location = location.folder()

    def manifest_location(self, batch: str) -> Location:
        return self.location.join(f"batches/{batch}.json")

    def create(self, manifest: Manifest) -> bool:
        """Write a new manifest; False when its id is already taken."""
        try:
            self.storage.write(
                self.manifest_location(manifest.batch_id), manifest.to_json(), if_absent=True
            )
        except PreconditionFailed:
            return False
        return True

    def load(self, batch: str) -> Manifest:
        try:
            return Manifest.from_json(self.storage.read(self.manifest_location(batch)).data)
        except ObjectMissing:
            raise UnknownBatch(f"no manifest for batch {batch} under {self.location.uri}") from None

    def freeze(self, batch: str, name: str, folder: Location) -> Manifest:
        """The listing of ``folder`` as it was the first time this was asked, kept as a manifest.

        A folder move (enriched output to its archive) works from this, not from a new listing, so
        that an object gone from both ends after a crash is noticed rather than silently skipped.
        """
        record = self.location.join(f"moves/{batch}/{name}.json")
        try:
            return Manifest.from_json(self.storage.read(record).data)
        except ObjectMissing:
            pass
        folder = folder.folder()
        entries = tuple(
            ManifestEntry(0, info.key, info.size, info.etag, folder.relative(info.key))
            for info in self.storage.list(folder)
        )
        manifest = Manifest(batch, (folder,), entries)
        try:
            self.storage.write(record, manifest.to_json(), if_absent=True)
        except PreconditionFailed:  # a concurrent attempt froze it first: theirs is the one
            return Manifest.from_json(self.storage.read(record).data)
        return manifest

    def discard(self, batch: str) -> None:
        """Remove a manifest whose claim did not commit (no step ever saw its id)."""
        self.storage.delete(self.manifest_location(batch))

    def pending(self) -> tuple[tuple[str, ...], str | None]:
        """Ids of pending batches, and the ETag a ``replace_pending`` must name (None: no index)."""
        try:
            index = self.storage.read(self._pending_location())
        except ObjectMissing:
            return (), None
        return tuple(json.loads(index.data)["pending"]), index.etag

    def replace_pending(self, batches: tuple[str, ...], version: str | None) -> bool:
        """Compare-and-swap the pending ids; False when another writer changed them first."""
        document = {"format": _FORMAT_VERSION, "pending": sorted(set(batches))}
        data = json.dumps(document).encode()
        try:
            if version is None:
                self.storage.write(self._pending_location(), data, if_absent=True)
            else:
                self.storage.write(self._pending_location(), data, if_match=version)
        except PreconditionFailed:
            return False
        return True

    def mark_staged(self, batch: str, details: Mapping[str, Any]) -> None:
        """Record that the batch is staged, then release its objects from the claimed set (in this
        order: a crash in between leaves it claimed, which is harmless as its objects are gone)."""
        self._write_marker(BatchState.STAGED, batch, details)
        self.release(batch)

    def mark_archived(self, batch: str, details: Mapping[str, Any]) -> None:
        self._write_marker(BatchState.ARCHIVED, batch, details)

    def details(self, batch: str, state: BatchState) -> dict[str, Any]:
        """What was recorded when the batch reached ``state`` (as passed to ``mark_*``)."""
        document = json.loads(self.storage.read(self._marker_location(state, batch)).data)
        return document["details"]

    def release(self, batch: str) -> None:
        """Take the batch out of the pending index (idempotent)."""
        for _ in range(_CAS_ATTEMPTS):
            batches, version = self.pending()
            if batch not in batches:
                return
            if self.replace_pending(tuple(b for b in batches if b != batch), version):
                return
        raise RuntimeError(f"could not update {self._pending_location().uri}: too much contention")

    def state(self, batch: str) -> BatchState | None:
        """The batch's furthest state; None for an id that was never committed."""
        for state in (BatchState.ARCHIVED, BatchState.STAGED):
            if self.storage.head(self._marker_location(state, batch)) is not None:
                return state
        return BatchState.PENDING if batch in self.pending()[0] else None

    def _pending_location(self) -> Location:
        return self.location.join("pending.json")

    def _marker_location(self, state: BatchState, batch: str) -> Location:
        return self.location.join(f"{state.value}/{batch}.json")

    def _write_marker(self, state: BatchState, batch: str, details: Mapping[str, Any]) -> None:
        """The first record stands: a rerun that found everything done must not replace it."""
        document = {"batch_id": batch, "at": datetime.now(UTC).isoformat(), "details": details}
        with contextlib.suppress(PreconditionFailed):
            self.storage.write(
                self._marker_location(state, batch), json.dumps(document).encode(), if_absent=True
            )
