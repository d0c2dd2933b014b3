"""The object-storage interface: the same cases on S3 (moto over HTTP) and on a local directory."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from snowplow_dagster.storage import (
    CopyNotVerified,
    LocalStorage,
    Location,
    ObjectMissing,
    PreconditionFailed,
    S3Storage,
    list_tree,
    storage_for,
)
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.storage.helpers import (
    HOSTILE_NAMES,
    enforce_bulk_delete_conditions,
    md5,
)


def test_storage_for_picks_the_backend_from_the_location(moto_server: str) -> None:
    assert isinstance(storage_for("s3://bucket/in/"), S3Storage)
    assert isinstance(storage_for("/tmp/in/"), LocalStorage)
    assert isinstance(storage_for(Location.parse("file:///tmp/in/")), LocalStorage)


def test_write_read_head_use_md5_etags(backend: Backend) -> None:
    obj = backend.location("manifests/a.json")
    etag = backend.storage.write(obj, b'{"a": 1}')
    assert etag == md5(b'{"a": 1}')
    assert backend.storage.read(obj) == (b'{"a": 1}', etag)
    info = backend.storage.head(obj)
    assert (info.key, info.size, info.etag) == (obj.key, 8, etag)
    assert backend.storage.head(backend.location("manifests/none.json")) is None
    with pytest.raises(ObjectMissing):
        backend.storage.read(backend.location("manifests/none.json"))


def test_listing_and_head_agree_on_an_aware_modification_time(backend: Backend) -> None:
    # S3 sends listing times in ISO 8601 (parsed by the fast path) and head times as RFC 822
    # headers (botocore's parser): both must be the same aware instant, to the second.
    obj = backend.location("in/a.gz")
    backend.storage.write(obj, b"x")
    (listed,) = backend.storage.list(backend.location("in/"))
    headed = backend.storage.head(obj)
    assert listed.last_modified.utcoffset() == headed.last_modified.utcoffset() == timedelta(0)
    to_second = [info.last_modified.replace(microsecond=0) for info in (listed, headed)]
    assert to_second[0] == to_second[1]
    assert abs(listed.last_modified - datetime.now(UTC)) < timedelta(minutes=5)


def test_a_listing_without_etags_has_every_name_and_size(backend: Backend) -> None:
    written = {"out/part-00000": b"abc", "out/sub/part-00001": b"defgh", "out/_SUCCESS": b""}
    for key, data in written.items():
        backend.storage.write(backend.location(key), data)
    folder = backend.location("out/")
    with_etags = {info.key: (info.size, info.etag) for info in backend.storage.list(folder)}
    sizes = {info.key: info.size for info in backend.storage.list(folder, etags=False)}
    assert with_etags == {backend.location(k).key: (len(d), md5(d)) for k, d in written.items()}
    assert sizes == {key: size for key, (size, _) in with_etags.items()}


def test_conditional_writes(backend: Backend) -> None:
    obj = backend.location("manifests/pending.json")
    first = backend.storage.write(obj, b"1", if_absent=True)
    with pytest.raises(PreconditionFailed):
        backend.storage.write(obj, b"2", if_absent=True)
    with pytest.raises(PreconditionFailed):
        backend.storage.write(obj, b"2", if_match=md5(b"other"))
    second = backend.storage.write(obj, b"2", if_match=first)
    with pytest.raises(PreconditionFailed):  # the version named is gone now
        backend.storage.write(obj, b"3", if_match=first)
    with pytest.raises(PreconditionFailed):
        backend.storage.write(backend.location("manifests/none.json"), b"3", if_match=second)
    assert backend.objects("manifests/") == {"manifests/pending.json": b"2"}


def test_concurrent_compare_and_swap_loses_no_update(backend: Backend) -> None:
    """Eight writers each add one line through read + conditional write, retrying on refusal."""
    obj = backend.location("counter")
    backend.storage.write(obj, b"")

    def add(line: bytes) -> None:
        while True:
            current = backend.storage.read(obj)
            try:
                backend.storage.write(obj, current.data + line, if_match=current.etag)
                return
            except PreconditionFailed:
                continue

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, [f"{n}\n".encode() for n in range(8)]))
    assert sorted(backend.objects()["counter"].split()) == [str(n).encode() for n in range(8)]


def test_list_and_delete_many_go_beyond_one_page(backend: Backend) -> None:
    """More than the 1000 keys of one ListObjectsV2 page or one DeleteObjects request."""
    names = [f"in/i-{n % 7}/log-{n:05}.gz" for n in range(1100)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: backend.put(name, name.encode()), names))
    listed = {info.key: info for info in backend.storage.list(backend.location("in/"))}
    assert sorted(listed) == sorted(backend.location(name).key for name in names)
    last = backend.location(names[-1]).key
    assert (listed[last].size, listed[last].etag) == (len(names[-1]), md5(names[-1].encode()))

    kept = backend.storage.delete_many(
        [(backend.location(name), md5(name.encode())) for name in names]
        + [(backend.location("in/never-there.gz"), None)]
    )
    assert kept == []
    assert backend.objects() == {}


def test_list_children_and_list_tree(backend: Backend) -> None:
    names = ["in/top.gz", "in/i-1/a.gz", "in/i-1/deeper/b.gz", "in/i-2/c d+e.gz", "inx/no.gz"]
    for name in names:
        backend.put(name, name.encode())
    objects, folders = backend.storage.list_children(backend.location("in/"))
    assert [backend.root.relative(info.key) for info in objects] == ["in/top.gz"]
    assert sorted(folders, key=str) == [backend.location("in/i-1/"), backend.location("in/i-2/")]

    tree = list_tree(backend.storage, backend.location("in"))
    assert sorted((backend.root.relative(i.key), i.etag) for i in tree) == sorted(
        (name, md5(name.encode())) for name in names if name.startswith("in/")
    )
    assert list_tree(backend.storage, backend.location("nothing/")) == []


def test_list_prefix_is_a_string_prefix(backend: Backend) -> None:
    for name in ["in/a.gz", "in/abc/d.gz", "inx/e.gz", "in-other/f.gz"]:
        backend.put(name, b"x")

    def keys(prefix: Location) -> list[str]:
        return sorted(backend.root.relative(info.key) for info in backend.storage.list(prefix))

    assert keys(backend.location("in/")) == ["in/a.gz", "in/abc/d.gz"]
    assert keys(backend.location("in/a")) == ["in/a.gz", "in/abc/d.gz"]
    assert keys(backend.location("in")) == ["in-other/f.gz", "in/a.gz", "in/abc/d.gz", "inx/e.gz"]
    assert keys(backend.location("nothing/")) == []


def test_copy_verifies_and_keeps_the_source(backend: Backend) -> None:
    backend.put("in/a.gz", b"hello")
    src, dst = backend.location("in/a.gz"), backend.location("processing/a.gz")
    copied = backend.storage.copy(src, dst, size=5, etag=md5(b"hello"))
    assert (copied.key, copied.size, copied.etag) == (dst.key, 5, md5(b"hello"))
    assert backend.objects() == {"in/a.gz": b"hello", "processing/a.gz": b"hello"}


def test_copy_of_a_missing_source_names_it(backend: Backend) -> None:
    src = backend.location("in/gone.gz")
    with pytest.raises(ObjectMissing, match=r"in/gone\.gz"):
        backend.storage.copy(src, backend.location("p/gone.gz"), size=1, etag=md5(b"x"))
    assert backend.objects() == {}


def test_copy_refuses_a_source_that_is_not_the_named_object(backend: Backend) -> None:
    """The claimed object was replaced by another one: nothing may be copied in its name."""
    backend.put("in/a.gz", b"new content")
    with pytest.raises((PreconditionFailed, CopyNotVerified)):
        backend.storage.copy(
            backend.location("in/a.gz"), backend.location("p/a.gz"), size=3, etag=md5(b"old")
        )
    assert backend.objects() == {"in/a.gz": b"new content"}


def test_delete_is_conditional_and_idempotent(backend: Backend) -> None:
    backend.put("in/a.gz", b"newer")
    with pytest.raises(PreconditionFailed):
        backend.storage.delete(backend.location("in/a.gz"), if_match=md5(b"older"))
    backend.storage.delete(backend.location("in/gone.gz"), if_match=md5(b"x"))
    backend.storage.delete(backend.location("in/gone.gz"))
    backend.storage.delete(backend.location("in/a.gz"), if_match=md5(b"newer"))
    assert backend.objects() == {}


def test_delete_many_keeps_what_changed(backend: Backend) -> None:
    if isinstance(backend.storage, S3Storage):
        enforce_bulk_delete_conditions(backend.storage.client)
    for name, data in {"a": b"same", "b": b"replaced", "c": b"gone"}.items():
        backend.put(name, data)
    backend.storage.delete(backend.location("c"))
    kept = backend.storage.delete_many(
        [
            (backend.location("a"), md5(b"same")),
            (backend.location("b"), md5(b"original")),
            (backend.location("c"), md5(b"gone")),
        ]
    )
    assert kept == [backend.location("b")]
    assert backend.objects() == {"b": b"replaced"}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_list_and_copy_byte_for_byte(backend: Backend, name: str) -> None:
    data = b"" if "zero-byte" in name else f"payload of {name}".encode()
    backend.put(f"in/{name}", data)
    [listed] = backend.storage.list(backend.location("in/"))
    assert (listed.key, listed.size, listed.etag) == (
        backend.location(f"in/{name}").key,
        len(data),
        md5(data),
    )
    backend.storage.copy(
        backend.location(f"in/{name}"),
        backend.location(f"out/{name}"),
        size=len(data),
        etag=md5(data),
    )
    assert backend.objects("out/") == {f"out/{name}": data}


def test_keys_differing_only_in_case_stay_apart(backend: Backend) -> None:
    for name in ["case/Log.gz", "case/log.gz", "case/LOG.gz"]:
        backend.put(name, name.encode())
    assert backend.objects("case/") == {
        name: name.encode() for name in ["case/Log.gz", "case/log.gz", "case/LOG.gz"]
    }
