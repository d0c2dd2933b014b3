"""Manifests: the model, its JSON, and the store's states on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from snowplow_dagster.batches.manifest import (
    BatchState,
    Manifest,
    ManifestEntry,
    ManifestStore,
    UnknownBatch,
    batch_id,
    batch_time,
)
from snowplow_dagster.storage import Location
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.storage.helpers import md5


def _manifest(batch: str = "2024-05-06-07-08-09") -> Manifest:
    return Manifest(
        batch_id=batch,
        sources=(Location.parse("s3://collector/logs/"), Location.parse("s3://other/in/")),
        entries=(
            ManifestEntry(
                0, "logs/i-1/_access_log.txt1.gz", 10, md5(b"a"), "i-1/access_log.txt1.gz"
            ),
            ManifestEntry(1, "in/événement 日本.gz", 0, md5(b""), "événement 日本.gz"),
        ),
    )


def test_batch_id_is_the_utc_run_id() -> None:
    paris = timezone(timedelta(hours=2))
    at = datetime(2024, 5, 6, 9, 8, 9, 999_999, tzinfo=paris)
    assert batch_id(at) == "2024-05-06-07-08-09"
    assert batch_time("2024-05-06-07-08-09") == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_json_round_trip() -> None:
    manifest = _manifest()
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert (manifest.files, manifest.bytes) == (2, 10)
    assert manifest.source_of(manifest.entries[1]).uri == "s3://other/in/événement 日本.gz"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        Manifest.from_json(b'{"format": 99, "batch_id": "x", "sources": [], "entries": []}')


def test_store_create_reserves_the_id(backend: Backend) -> None:
    store = ManifestStore(backend.storage, backend.location("manifests/"))
    assert store.create(_manifest())
    assert not store.create(_manifest())
    assert store.load("2024-05-06-07-08-09") == _manifest()
    with pytest.raises(UnknownBatch, match="2000-01-01-00-00-00"):
        store.load("2000-01-01-00-00-00")


def test_pending_index_is_compare_and_swap(backend: Backend) -> None:
    store = ManifestStore(backend.storage, backend.location("manifests/"))
    assert store.pending() == ((), None)
    assert store.replace_pending(("b1",), None)
    assert not store.replace_pending(("b2",), None)  # created meanwhile by someone else
    ids, version = store.pending()
    assert ids == ("b1",)
    assert store.replace_pending(("b1", "b2"), version)
    assert not store.replace_pending(("b1", "b3"), version)  # stale version
    assert store.pending()[0] == ("b1", "b2")


def test_states_move_forward(backend: Backend) -> None:
    store = ManifestStore(backend.storage, backend.location("manifests/"))
    manifest = _manifest()
    store.create(manifest)
    assert store.state(manifest.batch_id) is None  # written, never committed
    store.replace_pending((manifest.batch_id,), None)
    assert store.state(manifest.batch_id) is BatchState.PENDING

    store.mark_staged(manifest.batch_id, {"files": 2})
    assert store.state(manifest.batch_id) is BatchState.STAGED
    assert store.pending()[0] == ()
    store.mark_staged(manifest.batch_id, {"files": 0})  # a rerun does not rewrite history
    assert store.details(manifest.batch_id, BatchState.STAGED) == {"files": 2}

    store.mark_archived(manifest.batch_id, {"files": 2})
    assert store.state(manifest.batch_id) is BatchState.ARCHIVED


# ------------------------------------------------- the unfinished batches: pending, then staged


def _pending(store: ManifestStore, *batches: str) -> None:
    for batch in batches:
        store.create(_manifest(batch))
    ids, version = store.pending()
    assert store.replace_pending((*ids, *batches), version)


def _staged_index(backend: Backend) -> list[str]:
    document = json.loads(backend.objects("manifests/staged.json")["manifests/staged.json"])
    return document["staged"]


def test_a_batch_is_unarchived_from_its_claim_to_its_archived_marker(backend: Backend) -> None:
    store = ManifestStore(backend.storage, backend.location("manifests/"))
    _pending(store, "b1", "b2")
    assert store.unarchived() == ["b1", "b2"]

    store.mark_staged("b1", {"files": 2})
    assert store.pending()[0] == ("b2",)
    assert _staged_index(backend) == ["b1"]
    assert store.unarchived() == ["b2", "b1"]

    store.mark_archived("b1", {"files": 2})
    assert _staged_index(backend) == []
    assert store.unarchived() == ["b2"]


def test_every_crash_point_of_staging_and_archiving_leaves_the_batch_unarchived(
    backend: Backend,
) -> None:
    """The steps of ``mark_staged`` and ``mark_archived``, stopped after each write in turn."""
    store = ManifestStore(backend.storage, backend.location("manifests/"))
    _pending(store, "b1")
    store._change_ids("staged.json", "staged", add=("b1",))  # staging stopped after its first write
    assert store.state("b1") is BatchState.PENDING
    assert store.unarchived() == ["b1"]
    store._write_marker(BatchState.STAGED, "b1", {"files": 2})  # ... after its second
    assert store.unarchived() == ["b1"]
    store.release("b1")
    assert store.unarchived() == ["b1"]
    # Archiving moved its last object, then failed (or died) before writing its marker: on S3 no
    # run=b1/ folder is left to show it, the staged index does.
    assert store.state("b1") is BatchState.STAGED
    assert store.unarchived() == ["b1"]


def test_an_archived_batch_left_in_the_staged_index_is_pruned(backend: Backend) -> None:
    store = ManifestStore(backend.storage, backend.location("manifests/"))
    _pending(store, "b1", "b2")
    store.mark_staged("b1", {})
    store.mark_staged("b2", {})
    store._write_marker(BatchState.ARCHIVED, "b1", {})  # mark_archived stopped after its marker
    assert _staged_index(backend) == ["b1", "b2"]

    assert store.unarchived() == ["b2"]
    assert _staged_index(backend) == ["b2"]


def test_a_batch_being_staged_meanwhile_is_left_in_the_staged_index(backend: Backend) -> None:
    """Claimed and staged between the two index reads of ``unarchived``: no marker yet, kept."""
    store = ManifestStore(backend.storage, backend.location("manifests/"))
    store._change_ids("staged.json", "staged", add=("b1",))
    assert store.unarchived() == []
    assert _staged_index(backend) == ["b1"]


def test_staging_that_is_the_last_step_is_not_indexed(backend: Backend) -> None:
    store = ManifestStore(backend.storage, backend.location("manifests/"))
    _pending(store, "b1")
    store.mark_staged("b1", {}, final=True)
    assert store.state("b1") is BatchState.STAGED
    assert store.unarchived() == []
    assert backend.objects("manifests/staged.json") == {}


def test_batches_staged_before_the_index_are_adopted_once(backend: Backend) -> None:
    store = ManifestStore(backend.storage, backend.location("manifests/"))
    _pending(store, "old", "done", "new")
    for batch in ("old", "done"):  # an earlier version: markers only, no staged index
        store._write_marker(BatchState.STAGED, batch, {})
        store.release(batch)
    store._write_marker(BatchState.ARCHIVED, "done", {})
    store.mark_staged("new", {})  # this version, before the first adoption
    assert not store.legacy_adopted()
    assert store.unarchived() == ["new"]

    store.adopt_legacy(["old", "done", "not-a-batch"])

    assert store.legacy_adopted()
    assert _staged_index(backend) == ["new", "old"]
    assert store.unarchived() == ["new", "old"]
    store.mark_archived("old", {})
    store.adopt_legacy(["old"])  # once only: a folder left behind is not adopted again
    assert _staged_index(backend) == ["new"]


def test_index_updates_retry_when_another_writer_came_first(backend: Backend) -> None:
    store = ManifestStore(backend.storage, backend.location("manifests/"))
    _pending(store, "b1", "b2")
    swap = store._swap_index
    raced: list[str] = []

    def racing(name: str, document: Any, version: str | None) -> bool:
        if not raced:  # another process stages b2 between this read and this write
            raced.append(name)
            store._change_ids("staged.json", "staged", add=("b2",))
        return swap(name, document, version)

    store._swap_index = racing  # type: ignore[method-assign]
    store.mark_staged("b1", {})
    assert raced == ["staged.json"]
    assert _staged_index(backend) == ["b1", "b2"]
