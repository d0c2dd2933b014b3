"""Staging and archiving on both backends: exactly the manifest's objects, once, byte for byte."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from snowplow_dagster.batches.claiming import ClaimSettings, claim, staged_path
from snowplow_dagster.batches.manifest import BatchState, Manifest, ManifestStore
from snowplow_dagster.batches.moves import (
    BatchStateError,
    Move,
    MoveError,
    MoveReport,
    archive_batch,
    plan_moves,
    stage_batch,
)
from snowplow_dagster.storage import Location, ObjectInfo, S3Settings, S3Storage
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.storage.helpers import (
    HOSTILE_NAMES,
    S3Faults,
    enforce_bulk_delete_conditions,
    fail_local,
    md5,
    sample_files,
    settings_for,
)

MiB = 1024 * 1024


def _claim(backend: Backend, files: dict[str, bytes]) -> tuple[ClaimSettings, Manifest]:
    for name, data in files.items():
        backend.put(f"in/{name}", data)
    settings = settings_for(backend.root)
    [manifest] = claim(backend.storage, settings)
    return settings, manifest


def _expected(folder: str, batch: str, files: dict[str, bytes]) -> dict[str, bytes]:
    return {f"{folder}run={batch}/{staged_path(name)}": data for name, data in files.items()}


def _state(backend: Backend, settings: ClaimSettings, batch: str) -> BatchState | None:
    return ManifestStore(backend.storage, settings.manifests).state(batch)


def test_stage_then_archive_moves_exactly_the_manifest(backend: Backend) -> None:
    files = sample_files(30)
    settings, manifest = _claim(backend, files)
    batch = manifest.batch_id
    backend.put("in/late.gz", b"arrived after the claim")
    backend.put("processing/elsewhere/stray.gz", b"not this batch's")

    staged = stage_batch(backend.storage, settings, batch)

    assert staged == MoveReport(30, sum(map(len, files.values())), 30, 0, ())
    assert backend.objects("in/") == {"in/late.gz": b"arrived after the claim"}
    assert backend.objects("processing/") == {
        **_expected("processing/", batch, files),
        "processing/elsewhere/stray.gz": b"not this batch's",
    }
    assert _state(backend, settings, batch) is BatchState.STAGED
    store = ManifestStore(backend.storage, settings.manifests)
    assert store.pending()[0] == ()
    assert store.unarchived() == [batch]

    archived = archive_batch(backend.storage, settings, batch)

    assert archived.copied == 30
    assert backend.objects("processing/") == {"processing/elsewhere/stray.gz": b"not this batch's"}
    assert backend.objects("archive/") == _expected("archive/raw/", batch, files)
    assert _state(backend, settings, batch) is BatchState.ARCHIVED
    assert store.unarchived() == []

    # Reruns of finished steps change nothing and report what was done.
    assert stage_batch(backend.storage, settings, batch) == staged
    assert archive_batch(backend.storage, settings, batch) == archived
    assert backend.objects("archive/") == _expected("archive/raw/", batch, files)


def test_archiving_that_failed_after_its_last_move_is_still_unarchived(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every object moved, then the archived marker could not be written: on S3 nothing is left
    of ``processing/run=<id>/``, and the batch is still named as unfinished, then finished."""
    settings, manifest = _claim(backend, sample_files(6))
    batch = manifest.batch_id
    stage_batch(backend.storage, settings, batch)
    if backend.name == "s3":
        storage = backend.storage
        assert isinstance(storage, S3Storage)
        S3Faults(storage.client).fail("PutObject", "403")  # the marker is archiving's only write
    else:
        fail_local(monkeypatch, "link", settings.manifests.join("archived/"), after=0)

    with pytest.raises((ClientError, OSError)):
        archive_batch(backend.storage, settings, batch)

    monkeypatch.undo()
    backend.storage = backend.storage_with()
    assert backend.objects("processing/") == {}
    assert len(backend.objects("archive/")) == 6
    store = ManifestStore(backend.storage, settings.manifests)
    assert store.state(batch) is BatchState.STAGED
    assert store.unarchived() == [batch]

    assert archive_batch(backend.storage, settings, batch).already_there == 6
    assert store.state(batch) is BatchState.ARCHIVED
    assert store.unarchived() == []


def test_stream_mode_staging_is_the_end(backend: Backend) -> None:
    """Stream Enrich mode, where nothing archives a staged batch."""
    backend.put("in/part-1.gz", b"enriched")
    settings = settings_for(backend.root, stream_mode=True)
    [manifest] = claim(backend.storage, settings)
    store = ManifestStore(backend.storage, settings.manifests)
    assert store.unarchived() == [manifest.batch_id]

    stage_batch(backend.storage, settings, manifest.batch_id)

    assert store.state(manifest.batch_id) is BatchState.STAGED
    assert store.unarchived() == []
    assert backend.objects("manifests/staged.json") == {}


def test_rerun_of_staging_indexes_a_batch_staged_without_the_index(backend: Backend) -> None:
    """Staged by an earlier version, which stopped between its marker and its release."""
    settings, manifest = _claim(backend, {"a.gz": b"a"})
    batch = manifest.batch_id
    stage_batch(backend.storage, settings, batch)
    store = ManifestStore(backend.storage, settings.manifests)
    backend.storage.delete(settings.manifests.join("staged.json"))
    assert store.replace_pending((batch,), store.pending()[1])
    assert store.unarchived() == [batch]  # pending, so named

    stage_batch(backend.storage, settings, batch)

    assert store.pending()[0] == ()
    assert store.unarchived() == [batch]  # staged, and now in the staged index


def test_steps_refuse_batches_in_the_wrong_state(backend: Backend) -> None:
    settings, manifest = _claim(backend, {"a.gz": b"a"})
    with pytest.raises(BatchStateError, match="not staged yet"):
        archive_batch(backend.storage, settings, manifest.batch_id)
    with pytest.raises(BatchStateError, match="never claimed"):
        stage_batch(backend.storage, settings, "1999-01-01-00-00-00")


def test_staging_resumes_where_copies_already_landed(backend: Backend) -> None:
    """A crash after some copies and before their sources were deleted: both ends hold them."""
    files = sample_files(10)
    settings, manifest = _claim(backend, files)
    already = dict(list(files.items())[:4])
    for path, data in _expected("processing/", manifest.batch_id, already).items():
        backend.put(path, data)

    report = stage_batch(backend.storage, settings, manifest.batch_id)

    assert (report.copied, report.already_there) == (6, 4)
    assert backend.objects("in/") == {}
    assert backend.objects("processing/") == _expected("processing/", manifest.batch_id, files)


def test_an_object_missing_at_both_ends_is_named_never_skipped(backend: Backend) -> None:
    files = sample_files(5)
    settings, manifest = _claim(backend, files)
    lost = next(iter(files))
    backend.storage.delete(backend.location(f"in/{lost}"))

    for _attempt in range(2):  # the rerun says the same: nothing is quietly dropped
        with pytest.raises(MoveError, match="missing at both ends") as raised:
            stage_batch(backend.storage, settings, manifest.batch_id)
        assert [m.src for m in raised.value.missing] == [backend.location(f"in/{lost}")]
        assert backend.location(f"in/{lost}").uri in str(raised.value)

    rest = {name: data for name, data in files.items() if name != lost}
    assert backend.objects("in/") == {}
    assert backend.objects("processing/") == _expected("processing/", manifest.batch_id, rest)
    assert _state(backend, settings, manifest.batch_id) is BatchState.PENDING


def test_a_source_replaced_after_the_claim_is_not_moved_in_its_name(backend: Backend) -> None:
    settings, manifest = _claim(backend, {"a.gz": b"claimed", "b.gz": b"b"})
    backend.put("in/a.gz", b"a newer object at the same key")

    with pytest.raises(MoveError, match=r"in/a\.gz") as raised:
        stage_batch(backend.storage, settings, manifest.batch_id)

    assert [m.src.key for m, _ in raised.value.changed] == [backend.location("in/a.gz").key]
    assert backend.objects("in/") == {"in/a.gz": b"a newer object at the same key"}
    assert backend.objects("processing/") == {f"processing/run={manifest.batch_id}/b.gz": b"b"}


def test_a_new_object_at_a_staged_key_is_a_new_batch(backend: Backend) -> None:
    settings, first = _claim(backend, {"a.gz": b"first"})
    stage_batch(backend.storage, settings, first.batch_id)
    backend.put("in/a.gz", b"second")
    [second] = claim(backend.storage, settings, now=datetime.now(UTC))
    assert [(e.key, e.etag) for e in second.entries] == [
        (backend.location("in/a.gz").key, md5(b"second"))
    ]


def _inject_copy_failures(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, destination: Location, after: int
) -> Callable[[], None]:
    """Fail every copy into ``destination`` after the first ``after``; returns the undo."""
    if backend.name == "s3":
        storage = backend.storage
        assert isinstance(storage, S3Storage)
        S3Faults(storage.client).fail("CopyObject", "403", after=after)
        return lambda: setattr(backend, "storage", backend.storage_with())
    fail_local(monkeypatch, "replace", destination, after=after)
    return monkeypatch.undo


@pytest.mark.parametrize("step", ["stage", "archive"])
def test_failure_after_k_of_n_copies_then_rerun(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    files = sample_files(12)
    settings, manifest = _claim(backend, files)
    batch = manifest.batch_id
    if step == "archive":
        stage_batch(backend.storage, settings, batch)
    run = stage_batch if step == "stage" else archive_batch
    source, target = ("in/", "processing/") if step == "stage" else ("processing/", "archive/")
    destination = settings.processing if step == "stage" else settings.archive
    undo = _inject_copy_failures(backend, monkeypatch, destination, after=5)

    with pytest.raises((ClientError, OSError)):
        run(backend.storage, settings, batch, workers=4)
    assert len(backend.objects(target)) == 5
    assert len(backend.objects(source)) == 12  # nothing deleted before its copy was verified

    undo()
    report = run(backend.storage, settings, batch)

    assert (report.copied, report.already_there) == (7, 5)
    assert backend.objects(source) == {}
    folder = "processing/" if step == "stage" else "archive/raw/"
    assert backend.objects(target) == _expected(folder, batch, files)


def test_hostile_names_survive_staging_and_archiving(backend: Backend) -> None:
    files = {name: (b"" if "zero" in name else name.encode() * 3) for name in HOSTILE_NAMES}
    settings, manifest = _claim(backend, files)
    stage_batch(backend.storage, settings, manifest.batch_id)
    assert backend.objects("processing/") == _expected("processing/", manifest.batch_id, files)
    archive_batch(backend.storage, settings, manifest.batch_id)
    assert backend.objects("archive/") == _expected("archive/raw/", manifest.batch_id, files)
    assert backend.objects("in/") == backend.objects("processing/") == {}


def test_s3_multipart_objects_stage_and_resume_without_recopying(s3_bucket: str) -> None:
    """Copies above the threshold carry the source ETag; a rerun recognises them by it."""
    storage = S3Storage(S3Settings(multipart_threshold=5 * MiB, multipart_part_size=5 * MiB))
    enforce_bulk_delete_conditions(storage.client)  # as S3 does: the stamped copies must pass
    root = Location("s3", s3_bucket, "")
    big, small = os.urandom(11 * MiB), b"small"
    storage.client.put_object(Bucket=s3_bucket, Key="in/big.gz", Body=big)
    storage.client.put_object(Bucket=s3_bucket, Key="in/small.gz", Body=small)
    settings = settings_for(root)
    [manifest] = claim(storage, settings)
    entry = next(e for e in manifest.entries if e.key == "in/big.gz")
    destination = root.join(f"processing/run={manifest.batch_id}/big.gz")
    storage.copy(root.join("in/big.gz"), destination, size=entry.size, etag=entry.etag)
    parts: list[str] = []
    storage.client.meta.events.register(
        "before-send.s3.UploadPartCopy", lambda request, **_: parts.append(request.url)
    )

    report = stage_batch(storage, settings, manifest.batch_id)

    assert (report.copied, report.already_there, parts) == (1, 1, [])
    body = storage.client.get_object(Bucket=s3_bucket, Key=destination.key)["Body"].read()
    assert body == big
    assert archive_batch(storage, settings, manifest.batch_id).kept_sources == ()
    assert len(parts) == 3
    archived = storage.client.get_object(
        Bucket=s3_bucket, Key=f"archive/raw/run={manifest.batch_id}/big.gz"
    )
    assert archived["Body"].read() == big
    assert [info.key for info in storage.list(root.join("in/"))] == []
    assert [info.key for info in storage.list(root.join("processing/"))] == []


def test_plan_sorts_moves_by_what_the_destination_shows() -> None:
    root = Location.parse("s3://etl/")

    def move(name: str, data: bytes) -> Move:
        return Move(root.join(f"in/{name}"), root.join(f"p/{name}"), len(data), md5(data))

    def listed(name: str, data: bytes, etag: str | None = None) -> tuple[str, ObjectInfo]:
        key = root.join(f"p/{name}").key
        return key, ObjectInfo(key, len(data), etag or md5(data), datetime.now(UTC))

    moves = [move("new", b"1"), move("done", b"2"), move("other", b"3"), move("parts", b"4")]
    destination = dict(
        [listed("done", b"2"), listed("other", b"33"), listed("parts", b"4", "abc-2")]
    )
    plan = plan_moves(moves, destination)
    assert [m.dst.key for m in plan.copy] == ["p/new", "p/other"]
    assert [m.dst.key for m in plan.check] == ["p/parts"]
    assert [m.dst.key for m in plan.done] == ["p/done"]
    with pytest.raises(ValueError, match="would both move to s3://etl/p/new"):
        plan_moves([*moves, Move(root.join("in2/new"), root.join("p/new"), 1, md5(b"1"))], {})
