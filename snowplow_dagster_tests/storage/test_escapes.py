"""Nothing outside the buckets: forged keys, symbolic links and stranded names (issue 9, items 3,
4 and 6), on both backends where the case exists on both.

Each escape is attempted against a file (or object) outside every configured location, and the
test checks that it was neither read into a batch, moved nor deleted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from snowplow_dagster.batches.claiming import (
    claim,
    claim_pass,
    describe_strays,
    find_strays,
    plan_batches,
)
from snowplow_dagster.batches.manifest import CorruptRecord, ManifestStore
from snowplow_dagster.batches.moves import BatchStateError, archive_batch, stage_batch
from snowplow_dagster.config import ConfigError, load_config
from snowplow_dagster.config.errors import ConfigIssue
from snowplow_dagster.storage import (
    LinkNotFollowed,
    LocalStorage,
    Location,
    ObjectInfo,
    UnsafeKey,
    list_tree,
)
from snowplow_dagster.storage.conflicts import LocationConflict
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.platform.helpers import write_config
from snowplow_dagster_tests.storage.helpers import md5, settings_for

SECRET = b"outside every bucket\n"
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def _outside(backend: Backend, tmp_path: Path) -> tuple[str, Callable[[], bytes | None]]:
    """A full key outside every configured location, and a reader of what is there now."""
    if backend.name == "local":
        path = tmp_path / "outside" / "secret.gz"
        path.parent.mkdir()
        path.write_bytes(SECRET)
        return str(path)[1:], lambda: path.read_bytes() if path.exists() else None
    backend.put("secret/secret.gz", SECRET)
    key = backend.location("secret/secret.gz").key
    return key, lambda: backend.objects("secret/").get("secret/secret.gz")


# ------------------------------------------------------------------------- the Location layer


@pytest.mark.parametrize("relative", ["../x.gz", "a/../../x.gz", "./x.gz", "a/./x.gz", "a/.."])
@pytest.mark.parametrize("root", ["s3://bucket/in/", "file:///data/in/"])
def test_join_refuses_dot_segments_on_both_backends(root: str, relative: str) -> None:
    with pytest.raises(UnsafeKey, match="not a plain relative path"):
        Location.parse(root).join(relative)


def test_join_refuses_absolute_paths_and_empty_segments_locally_only() -> None:
    local = Location.parse("file:///data/in/")
    for relative in ("/etc/passwd", "a//b.gz"):
        with pytest.raises(UnsafeKey):
            local.join(relative)
    # On S3 an empty segment is an ordinary key, under its prefix.
    assert Location.parse("s3://bucket/in/").join("a//b.gz").key == "in/a//b.gz"


@pytest.mark.parametrize(
    ("root", "key"),
    [
        ("s3://bucket/in/", "other/x.gz"),
        ("s3://bucket/in/", "inx/x.gz"),
        ("s3://bucket/in/", "in/../other/x.gz"),
        ("file:///data/in/", "/etc/passwd"),
        ("file:///data/in/", "etc/passwd"),
        ("file:///data/in/", "data/in/../../etc/passwd"),
    ],
)
def test_object_refuses_keys_not_under_the_location(root: str, key: str) -> None:
    with pytest.raises(UnsafeKey):
        Location.parse(root).object(key)


def test_local_storage_refuses_an_absolute_key_before_touching_it(tmp_path: Path) -> None:
    secret = tmp_path / "secret.gz"
    secret.write_bytes(SECRET)
    # ``//tmp/...``: a key with its own leading "/", which normpath would have let through.
    forged = Location("file", "", str(secret))
    storage = LocalStorage()
    with pytest.raises(UnsafeKey):
        storage.read(forged)
    with pytest.raises(UnsafeKey):
        storage.copy(forged, Location.parse(f"{tmp_path}/copy.gz"), size=len(SECRET), etag="x")
    with pytest.raises(UnsafeKey):
        storage.delete(forged)
    assert secret.read_bytes() == SECRET and not (tmp_path / "copy.gz").exists()


# -------------------------------------------------------------------- forged manifest entries


def _forge(backend: Backend, manifest_uri: str, change: Callable[[dict[str, Any]], None]) -> None:
    relative = backend.root.relative(Location.parse(manifest_uri).key)
    document = json.loads(backend.objects(relative)[relative])
    change(document)
    backend.put(relative, json.dumps(document).encode())


@pytest.mark.parametrize("attack", ["absolute", "elsewhere", "dot-dot", "staged-path"])
def test_a_forged_manifest_entry_moves_and_deletes_nothing(
    backend: Backend, tmp_path: Path, attack: str
) -> None:
    """Item 3: a manifest entry naming a file outside the in-location (an absolute path on the
    local backend, another prefix, a ``..`` climb) or staging to one is refused before any copy,
    naming the manifest file; the outside file and the batch's own objects stay as they were."""
    if attack == "absolute" and backend.name == "s3":
        pytest.skip("an S3 key has no absolute form")
    backend.put("in/a.gz", b"a\n")
    settings = settings_for(backend.root)
    [manifest] = claim(backend.storage, settings)
    key, outside = _outside(backend, tmp_path)
    in_prefix = settings.in_locations[0].key

    def change(document: dict[str, Any]) -> None:
        entry = document["entries"][0]
        if attack == "staged-path":
            entry["path"] = "../../secret/secret.gz"
            return
        entry["key"] = {
            "absolute": "/" + key,  # "/tmp/.../secret.gz": the key is an absolute path
            "elsewhere": key,
            "dot-dot": in_prefix + "../secret/secret.gz",
        }[attack]
        entry.update(size=len(SECRET), etag=md5(SECRET))

    store = ManifestStore(backend.storage, settings.manifests)
    _forge(backend, store.manifest_location(manifest.batch_id).uri, change)

    with pytest.raises(CorruptRecord) as refused:
        stage_batch(backend.storage, settings, manifest.batch_id)

    message = str(refused.value)
    assert store.manifest_location(manifest.batch_id).uri in message
    assert "entries[0]" in message and "Restore it" in message
    assert outside() == SECRET
    assert backend.objects("in/") == {"in/a.gz": b"a\n"}
    assert backend.objects("processing/") == {} and backend.objects("archive/") == {}


def test_a_forged_staged_path_cannot_make_archiving_read_outside(
    backend: Backend, tmp_path: Path
) -> None:
    backend.put("in/a.gz", b"a\n")
    settings = settings_for(backend.root)
    [manifest] = claim(backend.storage, settings)
    stage_batch(backend.storage, settings, manifest.batch_id)
    _, outside = _outside(backend, tmp_path)
    store = ManifestStore(backend.storage, settings.manifests)

    def change(document: dict[str, Any]) -> None:
        document["entries"][0].update(
            path="../../secret/secret.gz", size=len(SECRET), etag=md5(SECRET)
        )

    _forge(backend, store.manifest_location(manifest.batch_id).uri, change)
    with pytest.raises(CorruptRecord, match="entries\\[0\\]"):
        archive_batch(backend.storage, settings, manifest.batch_id)
    assert outside() == SECRET
    assert backend.objects("archive/") == {}


def test_a_manifest_from_an_unconfigured_location_is_not_staged(
    backend: Backend, tmp_path: Path
) -> None:
    backend.put("in/a.gz", b"a\n")
    settings = settings_for(backend.root)
    [manifest] = claim(backend.storage, settings)
    key, outside = _outside(backend, tmp_path)
    folder = Location(backend.root.scheme, backend.root.bucket, os.path.dirname(key) + "/")

    def change(document: dict[str, Any]) -> None:
        document["sources"] = [folder.uri]
        document["entries"][0].update(key=key, size=len(SECRET), etag=md5(SECRET))

    store = ManifestStore(backend.storage, settings.manifests)
    _forge(backend, store.manifest_location(manifest.batch_id).uri, change)
    with pytest.raises(BatchStateError, match="not a configured in-location") as refused:
        stage_batch(backend.storage, settings, manifest.batch_id)
    assert store.manifest_location(manifest.batch_id).uri in str(refused.value)
    assert outside() == SECRET
    assert backend.objects("processing/") == {}


# ----------------------------------------------------------------- symbolic links (local only)


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Backend, Path]:
    """A local root whose in-folder holds a real log, a link to an outside file, a link to an
    outside folder of logs, a file named like our temporary files and a FIFO."""
    root = tmp_path / "bucket"
    (root / "in" / "i-1").mkdir(parents=True)
    outside = tmp_path / "outside"
    (outside / "logs").mkdir(parents=True)
    (outside / "secret.gz").write_bytes(SECRET)
    (outside / "logs" / "b.gz").write_bytes(SECRET)
    (root / "in" / "i-1" / "a.gz").write_bytes(b"a\n")
    (root / "in" / "i-1" / "link.gz").symlink_to(outside / "secret.gz")
    (root / "in" / "linked-folder").symlink_to(outside / "logs")
    (root / "in" / ".snowplow-dagster-tmp-collector.gz").write_bytes(b"c\n")
    os.mkfifo(root / "in" / "pipe.gz")
    return Backend("local", LocalStorage(), Location.parse(f"{root}/")), outside


def test_links_are_never_listed_or_followed_and_are_reported(
    linked: tuple[Backend, Path],
) -> None:
    """Item 4: a link to a file outside the buckets is not claimed, copied or deleted; a link to
    a folder is not skipped silently; both are reported by name, with the other strays."""
    backend, outside = linked
    settings = settings_for(backend.root)

    done = claim_pass(backend.storage, settings)

    [manifest] = done.manifests
    assert [entry.path for entry in manifest.entries] == ["i-1/a.gz"]
    reasons = {backend.root.relative(s.location.key): s.reason for s in done.strays}
    assert reasons == {
        "in/.snowplow-dagster-tmp-collector.gz": (
            "named like snowplow-dagster's temporary files (.snowplow-dagster-tmp-*)"
        ),
        "in/i-1/link.gz": "a symbolic link: not followed",
        "in/linked-folder": "a symbolic link: not followed",
        "in/pipe.gz": "not a regular file",
    }
    stage_batch(backend.storage, settings, manifest.batch_id)
    archive_batch(backend.storage, settings, manifest.batch_id)
    assert backend.objects("archive/") == {f"archive/raw/run={manifest.batch_id}/i-1/a.gz": b"a\n"}
    assert (outside / "secret.gz").read_bytes() == SECRET
    assert (outside / "logs" / "b.gz").read_bytes() == SECRET
    assert os.path.islink("/" + backend.location("in/i-1/link.gz").key)
    # Reported again by the next pass: never silently left.
    assert len(claim_pass(backend.storage, settings).strays) == 4


def test_a_link_is_not_read_copied_or_deleted_as_an_object(
    linked: tuple[Backend, Path], tmp_path: Path
) -> None:
    backend, outside = linked
    storage = backend.storage
    link = backend.location("in/i-1/link.gz")
    through = backend.location("in/linked-folder/b.gz")
    target = backend.location("processing/x.gz")
    assert storage.head(link) is None
    with pytest.raises(LinkNotFollowed, match="symbolic link"):
        storage.read(link)
    with pytest.raises(LinkNotFollowed):
        storage.copy(link, target, size=len(SECRET), etag=md5(SECRET))
    with pytest.raises(LinkNotFollowed):
        storage.delete(link, if_match=md5(SECRET))
    for operation in (
        lambda: storage.read(through),
        lambda: storage.head(through),
        lambda: storage.copy(through, target, size=len(SECRET), etag=md5(SECRET)),
        lambda: storage.delete(through),
    ):
        with pytest.raises(UnsafeKey, match="symbolic link"):
            operation()
    assert [info.key for info in list_tree(storage, backend.location("in/"))] == [
        backend.location("in/i-1/a.gz").key
    ]
    assert (outside / "secret.gz").read_bytes() == SECRET
    assert (outside / "logs" / "b.gz").read_bytes() == SECRET
    assert not os.path.exists("/" + target.key)


def test_a_forged_entry_through_a_linked_folder_is_refused_by_the_storage(
    linked: tuple[Backend, Path],
) -> None:
    """A manifest entry under the in-location, but reached through a link to a folder: the
    Location checks pass, the storage layer refuses, and nothing moves."""
    backend, outside = linked
    settings = settings_for(backend.root)
    [manifest] = claim(backend.storage, settings)
    store = ManifestStore(backend.storage, settings.manifests)

    def change(document: dict[str, Any]) -> None:
        document["entries"][0].update(
            key=backend.location("in/linked-folder/b.gz").key,
            path="b.gz",
            size=len(SECRET),
            etag=md5(SECRET),
        )

    _forge(backend, store.manifest_location(manifest.batch_id).uri, change)
    with pytest.raises(UnsafeKey, match=r"linked-folder/b\.gz is reached through a symbolic link"):
        stage_batch(backend.storage, settings, manifest.batch_id)
    assert (outside / "logs" / "b.gz").read_bytes() == SECRET
    assert backend.objects("processing/") == {}


def test_an_in_location_given_as_a_link_to_processing_is_refused(tmp_path: Path) -> None:
    (tmp_path / "processing").mkdir()
    (tmp_path / "in").symlink_to(tmp_path / "processing")
    root = Location.parse(f"{tmp_path}/")
    with pytest.raises(LocationConflict, match="same location"):
        settings_for(root, in_locations=(Location.parse(f"{tmp_path}/in/"),))


# --------------------------------------------------------------- names that cannot be claimed


def test_names_that_cannot_be_claimed_are_reported_not_silently_left(backend: Backend) -> None:
    """Item 6: a name with a line break is reported with the count, on every pass, and the batch
    takes the rest. (moto's server cannot store a key with "\\n", which S3 can: a "\\r" stands
    for it there, the local backend has both.)"""
    names = ["bad\nname.gz", "bad\rname.gz"] if backend.name == "local" else ["bad\rname.gz"]
    backend.put("in/good.gz", b"g\n")
    for name in names:
        backend.put(f"in/{name}", b"n\n")
    settings = settings_for(backend.root)

    done = claim_pass(backend.storage, settings)

    [manifest] = done.manifests
    assert [entry.path for entry in manifest.entries] == ["good.gz"]
    stranded = [backend.root.relative(s.location.key) for s in done.strays]
    assert stranded == [f"in/{name}" for name in names]
    line = describe_strays(done.strays)
    assert line.startswith(f"{len(names)} object(s) cannot be claimed")
    assert "\n" not in line and "\r" not in line
    assert 'bad\\rname.gz" (a line break in its name)' in line
    # Nothing waits but the strays: still reported, with no batch.
    again = claim_pass(backend.storage, settings)
    assert again.manifests == [] and again.strays == done.strays
    assert set(backend.objects("in/")) == {"in/good.gz", *stranded}


def test_only_names_the_collector_pattern_wants_are_reported() -> None:
    root = Location.parse("s3://bucket/")
    settings = settings_for(root, collector_format="clj-tomcat")
    listing = [
        ObjectInfo("in/localhost_access_log\n.txt", 1, "e", LONG_AGO),
        ObjectInfo("in/notes\n.md", 1, "e", LONG_AGO),
        # S3 keys may hold ".." segments (moto's server, like many S3-like stores, resolves them
        # in the URL, so this one is only listed here): staged, they would climb out.
        ObjectInfo("in/x/../localhost_access_log.txt", 1, "e", LONG_AGO),
    ]
    strays = find_strays([listing], [[]], settings)
    assert [(s.location.key, s.reason) for s in strays] == [
        ("in/localhost_access_log\n.txt", "a line break in its name"),
        ("in/x/../localhost_access_log.txt", "a '.' or '..' segment in its name"),
    ]
    assert plan_batches([listing], set(), settings, LONG_AGO) == []


def test_config_validation_compares_real_paths_and_says_which_key_is_a_link(
    tmp_path: Path,
) -> None:
    """Item 4: ``raw.in`` given as a link to ``processing`` passed the overlap check, and every
    batch then failed; it is now refused before anything moves, naming the link."""
    root = tmp_path / "bucket"
    (root / "processing").mkdir(parents=True)
    (root / "in").symlink_to(root / "processing")
    config = write_config(tmp_path / "config.yml", Location.parse(f"{root}/"))

    with pytest.raises(ConfigError) as refused:
        load_config(config)

    b = "aws.s3.buckets"
    assert list(refused.value.issues) == [
        ConfigIssue(
            f"{b}.raw.processing",
            f"{b}.raw.in[0] (file://{root}/processing/) and {b}.raw.processing "
            f"(file://{root}/processing/) are the same location; "
            f"{b}.raw.in[0] is given as file://{root}/in/, a symbolic link",
        )
    ]
