"""Batch manifests: the exact raw objects that belong to a batch, written before anything moves.

Every later step works from the manifest, never from "whatever is in the folder now". EmrEtlRunner
read its progress from which folders were empty, which is why a resume could archive unprocessed
files and a rerun could duplicate data.

Layout under the manifests location (``ManifestStore``)::

    batches/<id>.json        the manifest; immutable, created only if absent (that reserves the id)
    pending.json             ids of batches claimed but not yet staged; replaced only by a
                             compare-and-swap on its ETag, the one point where claims commit
    staged.json              ids of batches staged but not yet archived (batch mode), replaced
                             the same way; ``adopted`` once an earlier version's are in it too
    staged/<id>.json         marker: every object is in processing/run=<id>/ (a summary inside)
    archived/<id>.json       marker: every object is in the raw archive's run=<id>/
    set-aside/<id>.json      why a staged batch cannot be archived by a rerun (objects lost)

A batch is PENDING while its id is in ``pending.json``, then STAGED, then ARCHIVED. "Already
claimed" is known from ``pending.json`` and the few manifests it names: once a batch is staged its
objects have left the in-locations, so no pass ever needs to list history.

The unfinished batches (``unarchived``) are the ids of the two indexes, which hold unfinished work
only. A batch enters ``staged.json`` before it leaves ``pending.json`` and leaves it only after its
archived marker is written, so from its claim to that marker it is always in one index or both,
whatever point a crash stops at (see ``mark_staged`` and ``mark_archived``). Folders cannot say
this: on S3 a ``run=<id>/`` folder stops existing with its last object, so a batch whose archiving
moved everything but died before its marker would look finished, and stay STAGED forever.
"""

from __future__ import annotations

import contextlib
import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from snowplow_dagster.storage import (
    Location,
    ObjectMissing,
    PreconditionFailed,
    Storage,
    check_relative,
)

BATCH_ID_FORMAT = "%Y-%m-%d-%H-%M-%S"
"""EmrEtlRunner's run id, in UTC: it names every ``run=<id>/`` folder, which existing Snowplow
tooling (Hive/Athena partitions, the analytics SDK's run manifests) parses."""

_FORMAT_VERSION = 1
_CAS_ATTEMPTS = 100
_PENDING = "pending.json"
_STAGED = "staged.json"
_BATCH_ID = re.compile(r"[^/\x00-\x1f\x7f]+")
_ENTRY_FIELDS = {"source": int, "key": str, "size": int, "etag": str, "path": str}
_RESTORE = "Restore it from a backup or from an earlier version of the object (S3 versioning)"
_REWRITE_INDEX = (
    "{restore}; or, with no run in progress, write it again as "
    '{{"format": 1{extra}, "{key}": [ids]}}, the ids being those of batches/<id>.json {which}'
)
_RECOVERY = {
    _PENDING: _REWRITE_INDEX.format(
        restore=_RESTORE,
        extra="",
        key="pending",
        which="with neither a staged/<id>.json nor an archived/<id>.json marker",
    ),
    _STAGED: _REWRITE_INDEX.format(
        restore=_RESTORE,
        extra=', "adopted": true',
        key="staged",
        which="with a staged/<id>.json marker and no archived/<id>.json marker",
    ),
}


class CorruptRecord(RuntimeError):
    """A file of the manifest store that is not what it must be: the message names the file, what
    is wrong with it and how to recover, rather than a traceback from deep in a JSON parser."""

    def __init__(self, location: Location, problem: str, recovery: str) -> None:
        super().__init__(f"{location.uri} is corrupt: {problem}. {recovery}")
        self.location = location


_SET_ASIDE = "set-aside"


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
        """Parse and check a manifest: a ``ValueError`` says what is wrong.

        Every entry must lie under its source and stage to a plain relative path, so a corrupt or
        forged manifest cannot make a move read, copy or delete anything else.
        """
        document = _json_object(data)
        if document.get("format") != _FORMAT_VERSION:
            raise ValueError(f"unsupported manifest format {document.get('format')!r}")
        batch, sources, entries = (document.get(k) for k in ("batch_id", "sources", "entries"))
        _check_batch_id(batch)
        if not isinstance(sources, list) or not all(isinstance(uri, str) for uri in sources):
            raise ValueError('"sources" must be a list of location URIs')
        if not isinstance(entries, list):
            raise ValueError('"entries" must be a list')
        manifest = cls(batch, tuple(Location.parse(uri) for uri in sources), ())
        checked = tuple(manifest._entry(number, entry) for number, entry in enumerate(entries))
        return cls(batch, manifest.sources, checked)

    def _entry(self, number: int, entry: Any) -> ManifestEntry:
        where = f"entries[{number}]"
        if not isinstance(entry, dict) or set(entry) != set(_ENTRY_FIELDS):
            raise ValueError(f"{where} must be an object with exactly {sorted(_ENTRY_FIELDS)}")
        for name, kind in _ENTRY_FIELDS.items():
            if not isinstance(entry[name], kind) or isinstance(entry[name], bool):
                raise ValueError(f"{where}.{name} must be a {kind.__name__}")
        checked = ManifestEntry(**entry)
        if not 0 <= checked.source < len(self.sources) or checked.size < 0:
            raise ValueError(f"{where}: source or size out of range")
        try:
            self.source_of(checked)
            check_relative(self.sources[checked.source], checked.path)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        return checked


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
        location = self.manifest_location(batch)
        try:
            data = self.storage.read(location).data
        except ObjectMissing:
            raise UnknownBatch(f"no manifest for batch {batch} under {self.location.uri}") from None
        try:
            manifest = Manifest.from_json(data)
            if manifest.batch_id != batch:
                raise ValueError(f"it names batch {manifest.batch_id}, not {batch}")
        except ValueError as error:
            recovery = (
                f"{_RESTORE}: a manifest cannot be rebuilt from folders. If the batch was never "
                f"staged (no {self._marker_location(BatchState.STAGED, batch).uri}) and its "
                f"objects are still in the in-location, delete this file and take {batch} out of "
                f"{self.location.join(_PENDING).uri}: the objects are then claimed again"
            )
            raise CorruptRecord(location, str(error), recovery) from None
        return manifest

    def discard(self, batch: str) -> None:
        """Remove a manifest whose claim did not commit (no step ever saw its id)."""
        self.storage.delete(self.manifest_location(batch))

    def pending(self) -> tuple[tuple[str, ...], str | None]:
        """Ids of pending batches, and the ETag a ``replace_pending`` must name (None: no index)."""
        document, version = self._read_index(_PENDING)
        return tuple(document.get("pending", ())), version

    def replace_pending(self, batches: tuple[str, ...], version: str | None) -> bool:
        """Compare-and-swap the pending ids; False when another writer changed them first."""
        return self._swap_index(_PENDING, {"pending": sorted(set(batches))}, version)

    def mark_staged(self, batch: str, details: Mapping[str, Any], *, final: bool = False) -> None:
        """Record that the batch is staged: into the staged index, then its marker, then out of the
        pending index. ``final``: staging is the batch's last step (Stream Enrich mode), nothing
        will archive it, so it is not put in the staged index.

        A crash after the first write leaves the batch PENDING and in both indexes: the rerun of
        staging finds its objects moved and writes the rest. After the marker it is STAGED and
        still pending, which is harmless (its objects have left the in-locations) and undone by
        the next ``stage_batch``. At no point is it in neither index: ``unarchived`` sees it.
        """
        if not final:
            self._change_ids(_STAGED, "staged", add=(batch,))
        self._write_marker(BatchState.STAGED, batch, details)
        self.release(batch)

    def mark_archived(self, batch: str, details: Mapping[str, Any]) -> None:
        """Record that the batch is archived: its marker, then out of the staged index.

        A crash before the marker (even after the last object moved) leaves the batch STAGED in
        the staged index, so ``unarchived`` names it and a rerun of archiving finishes it. A crash
        between the two writes leaves an ARCHIVED id in the index, which ``unarchived`` prunes.
        """
        self._write_marker(BatchState.ARCHIVED, batch, details)
        self._change_ids(_STAGED, "staged", remove=(batch,))

    def details(self, batch: str, state: BatchState) -> dict[str, Any]:
        """What was recorded when the batch reached ``state`` (as passed to ``mark_*``)."""
        location = self._marker_location(state, batch)
        try:
            document = _json_object(self.storage.read(location).data)
            if not isinstance(document.get("details"), dict):
                raise ValueError('no "details" object')
        except ValueError as error:
            raise CorruptRecord(location, str(error), _RESTORE) from None
        return document["details"]

    def set_aside(self, batch: str, details: Mapping[str, Any]) -> None:
        """Record why the batch cannot be finished by rerunning its steps (objects of its manifest
        are gone from processing and not in the archive), then take it out of the staged index:
        ``unarchived`` no longer names it, so no later pass retries it. It stays STAGED; archiving
        it once the objects are back still marks it ARCHIVED. The first record stands."""
        self._write_record(self.location.join(f"{_SET_ASIDE}/{batch}.json"), batch, details)
        self._change_ids(_STAGED, "staged", remove=(batch,))

    def set_aside_details(self, batch: str) -> dict[str, Any] | None:
        """What ``set_aside`` recorded for the batch; None when it was never set aside."""
        try:
            record = self.storage.read(self.location.join(f"{_SET_ASIDE}/{batch}.json"))
        except ObjectMissing:
            return None
        return json.loads(record.data)["details"]

    def release(self, batch: str) -> None:
        """Take the batch out of the pending index (idempotent)."""
        self._change_ids(_PENDING, "pending", remove=(batch,))

    def unarchived(self) -> list[str]:
        """The batches not seen to their end: the pending ones, then those of the staged index
        that are STAGED, each once. Costs the two indexes and a marker lookup or two per staged
        id: unfinished work, not history.

        The pending index is read first: a batch released from it since was already in the staged
        index (``mark_staged``), so none slips between the two reads. An id of the staged index
        found ARCHIVED (``mark_archived`` stopped between its writes, or a duplicate staging
        attempt added it late) is removed from the index; ARCHIVED is final, so this races with
        nothing. One without a marker yet is left alone and not named: it is being staged right
        now, claimed after the pending index was read here.
        """
        pending = self.pending()[0]
        staged, archived = [], []
        for batch in self._read_index(_STAGED)[0].get("staged", ()):
            if batch in pending:
                continue
            if self._has_marker(BatchState.ARCHIVED, batch):
                archived.append(batch)
            elif self._has_marker(BatchState.STAGED, batch):
                staged.append(batch)
        if archived:
            self._change_ids(_STAGED, "staged", remove=archived)
        return [*pending, *staged]

    def legacy_adopted(self) -> bool:
        """Whether the batches staged before the staged index existed have been added to it."""
        return bool(self._read_index(_STAGED)[0].get("adopted"))

    def adopt_legacy(self, batches: Iterable[str]) -> None:
        """Add to the staged index those of ``batches`` that are STAGED, and note that this was
        done, in one write: for the ``run=<id>/`` folders of processing, once per store, since an
        earlier version staged batches without indexing them (and only them)."""
        found = {batch for batch in batches if self.state(batch) is BatchState.STAGED}

        def adopt(document: dict[str, Any]) -> dict[str, Any] | None:
            if document.get("adopted"):
                return None
            staged = sorted(set(document.get("staged", ())) | found)
            return {**document, "staged": staged, "adopted": True}

        self._update_index(_STAGED, adopt)

    def state(self, batch: str) -> BatchState | None:
        """The batch's furthest state; None for an id that was never committed."""
        for state in (BatchState.ARCHIVED, BatchState.STAGED):
            if self._has_marker(state, batch):
                return state
        return BatchState.PENDING if batch in self.pending()[0] else None

    def _has_marker(self, state: BatchState, batch: str) -> bool:
        return self.storage.head(self._marker_location(state, batch)) is not None

    def _marker_location(self, state: BatchState, batch: str) -> Location:
        return self.location.join(f"{state.value}/{batch}.json")

    def _read_index(self, name: str) -> tuple[dict[str, Any], str | None]:
        """An index's document and ETag; ``({}, None)`` while it does not exist."""
        location = self.location.join(name)
        try:
            index = self.storage.read(location)
        except ObjectMissing:
            return {}, None
        try:
            document = _json_object(index.data)
            for key in ("pending", "staged"):
                ids = document.get(key, [])
                if not isinstance(ids, list):
                    raise ValueError(f'"{key}" must be a list of batch ids')
                for batch in ids:
                    _check_batch_id(batch)
        except ValueError as error:
            raise CorruptRecord(location, str(error), _RECOVERY[name]) from None
        return document, index.etag

    def _swap_index(self, name: str, document: Mapping[str, Any], version: str | None) -> bool:
        """Replace an index if its ETag is still ``version`` (None: create it if absent); False
        when another writer got there first."""
        data = json.dumps({**document, "format": _FORMAT_VERSION}).encode()
        try:
            if version is None:
                self.storage.write(self.location.join(name), data, if_absent=True)
            else:
                self.storage.write(self.location.join(name), data, if_match=version)
        except PreconditionFailed:
            return False
        return True

    def _update_index(
        self, name: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> None:
        """Read, change and compare-and-swap an index until no other writer came in between.

        ``change`` gives the new document, or None when there is nothing to write; it must be
        idempotent: a swap refused only because its own earlier attempt landed (a lost response
        retried) is retried here, and must then find nothing left to do.
        """
        for _ in range(_CAS_ATTEMPTS):
            document, version = self._read_index(name)
            changed = change(document)
            if changed is None or self._swap_index(name, changed, version):
                return
        raise RuntimeError(f"could not update {self.location.join(name).uri}: too much contention")

    def _change_ids(
        self, name: str, key: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> None:
        """Add ids to, or remove ids from, the list ``key`` of an index (idempotent)."""
        added, removed = set(add), set(remove)

        def change(document: dict[str, Any]) -> dict[str, Any] | None:
            ids = set(document.get(key, ()))
            changed = (ids | added) - removed
            return None if changed == ids else {**document, key: sorted(changed)}

        self._update_index(name, change)

    def _write_marker(self, state: BatchState, batch: str, details: Mapping[str, Any]) -> None:
        self._write_record(self._marker_location(state, batch), batch, details)

    def _write_record(self, location: Location, batch: str, details: Mapping[str, Any]) -> None:
        """The first record stands: a rerun that found everything done must not replace it."""
        document = {"batch_id": batch, "at": datetime.now(UTC).isoformat(), "details": details}
        with contextlib.suppress(PreconditionFailed):
            self.storage.write(location, json.dumps(document).encode(), if_absent=True)


def _json_object(data: bytes) -> dict[str, Any]:
    """A JSON object, or a ``ValueError`` saying in one line why the bytes are not one."""
    try:
        document = json.loads(data)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error})") from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None
    if not isinstance(document, dict):
        raise ValueError(f"a JSON object was expected, not {type(document).__name__}")
    return document


def _check_batch_id(batch: Any) -> None:
    """Ids name files and folders (``batches/<id>.json``, ``run=<id>/``): one plain name each."""
    if not isinstance(batch, str) or not _BATCH_ID.fullmatch(batch) or batch in (".", ".."):
        shown = json.dumps(batch, ensure_ascii=False)[:80]
        raise ValueError(f"{shown} is not a batch id (a name such as 2026-01-31-23-59-59)")
