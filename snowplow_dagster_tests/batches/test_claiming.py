"""Claiming: the pure batch decision, then the shell on both backends (ids, durability, races)."""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from snowplow_dagster.batches.claiming import (
    ClaimSettings,
    claim,
    plan_batches,
    source_pattern,
    staged_path,
)
from snowplow_dagster.batches.manifest import BatchState, ManifestStore
from snowplow_dagster.storage import Location, ObjectInfo, S3Storage
from snowplow_dagster.storage.conflicts import LocationConflict
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.storage.helpers import md5, sample_files, settings_for

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
ROOT = Location.parse("s3://etl/")
SETTINGS = settings_for(ROOT, quiet_period_seconds=60)


def _info(relative: str, *, size: int = 1, age: float = 3600, folder: str = "in/") -> ObjectInfo:
    key = ROOT.join(folder + relative).key
    return ObjectInfo(key, size, md5(key.encode()), NOW - timedelta(seconds=age))


def _planned(plans: list) -> list[list[str]]:
    return [[entry.path for entry in plan.entries] for plan in plans]


def test_plan_leaves_out_markers_recent_and_claimed_objects() -> None:
    listing = [
        _info("i-1/", size=0),
        _info("logs_$folder$", size=0),
        _info("i-1/old.gz"),
        _info("i-1/quiet-enough.gz", age=60),
        _info("i-1/still-written.gz", age=59),
        _info("i-1/claimed.gz"),
    ]
    claimed = {ROOT.join("in/i-1/claimed.gz")}
    plans = plan_batches([listing], claimed, SETTINGS, NOW)
    assert _planned(plans) == [["i-1/old.gz", "i-1/quiet-enough.gz"]]
    [plan] = plans
    first = plan.entries[0]
    assert (first.source, first.key, first.size, first.etag) == (
        0,
        "in/i-1/old.gz",
        1,
        md5(b"in/i-1/old.gz"),
    )


def test_clj_tomcat_takes_only_tomcat_access_logs() -> None:
    listing = [
        _info("i-1/_var_log_tomcat8_rotated_localhost_access_log.txt1502463662.gz", age=10),
        _info("i-1/var_log_tomcat8_catalina.2017-08-11.log.gz", age=9),
    ]
    settings = settings_for(ROOT, collector_format="clj-tomcat")
    assert _planned(plan_batches([listing], set(), settings, NOW)) == [
        ["i-1/var_log_tomcat8_rotated_localhost_access_log.txt1502463662.gz"]
    ]
    assert source_pattern(settings_for(ROOT)).fullmatch("E123.2024-05-06-07.abcd.gz")


def test_stream_mode_takes_only_gzipped_enriched_files() -> None:
    """EmrEtlRunner R102+ staged the S3 Loader's output with ``--srcPattern .*\\.gz``: markers,
    ``_SUCCESS`` and other side files stay in the stream location."""
    listing = [
        _info("2026/11/21/", size=0),
        _info("2026/11/21_$folder$", size=0),
        _info("2026/11/21/_SUCCESS", size=0),
        _info("2026/11/21/part-1.gz"),
        _info("2026/11/21/part-2.gz.tmp"),
        _info("2026/11/21/part-3.lzo"),
    ]
    settings = settings_for(ROOT, stream_mode=True)
    assert _planned(plan_batches([listing], set(), settings, NOW)) == [["2026/11/21/part-1.gz"]]
    assert source_pattern(settings).fullmatch("part-1.gz")
    assert not source_pattern(settings).fullmatch("_SUCCESS")


def test_batches_are_capped_by_files_and_bytes_oldest_first() -> None:
    listing = [_info(f"f{n}.gz", age=100 - n) for n in range(5)]
    by_files = plan_batches(
        [reversed(listing)], set(), settings_for(ROOT, max_files_per_batch=2), NOW
    )
    assert _planned(by_files) == [["f0.gz", "f1.gz"], ["f2.gz", "f3.gz"], ["f4.gz"]]

    sizes = [4, 4, 4, 20, 1]
    listing = [_info(f"f{n}.gz", size=size, age=100 - n) for n, size in enumerate(sizes)]
    by_bytes = plan_batches([listing], set(), settings_for(ROOT, max_bytes_per_batch=10), NOW)
    assert [[e.size for e in plan.entries] for plan in by_bytes] == [[4, 4], [4], [20], [1]]
    assert [(plan.files, plan.bytes) for plan in by_bytes][:1] == [(2, 8)]


@pytest.mark.parametrize(
    ("relative", "path"),
    [
        (
            "i-1/_var_log_tomcat8_localhost_access_log.txt1.gz",
            "i-1/var_log_tomcat8_localhost_access_log.txt1.gz",
        ),
        ("__nested/__deeper/___file.gz", "nested/deeper/file.gz"),
        ("E2ABC.2024-05-06-07.x.gz", "E2ABC.2024-05-06-07.x.gz"),
        ("i-1/___", "i-1/___"),
    ],
)
def test_staged_path_strips_leading_underscores(relative: str, path: str) -> None:
    assert staged_path(relative) == path


def test_objects_that_would_share_a_staged_path_go_to_different_passes() -> None:
    """``_a.gz`` and ``a.gz`` both stage as ``a.gz``; one overwriting the other would lose data."""
    settings = settings_for(ROOT, in_locations=(ROOT.join("in/"), ROOT.join("in2/")))
    first = [_info("i-1/_a.gz", age=30), _info("i-1/b.gz", age=20)]
    second = [_info("i-1/a.gz", age=10, folder="in2/")]
    [plan] = plan_batches([first, second], set(), settings, NOW)
    assert [(e.source, e.path) for e in plan.entries] == [(0, "i-1/a.gz"), (0, "i-1/b.gz")]
    claimed = {settings.in_locations[e.source].object(e.key) for e in plan.entries}
    [later] = plan_batches([first, second], claimed, settings, NOW)
    assert [(e.source, e.key, e.path) for e in later.entries] == [(1, "in2/i-1/a.gz", "i-1/a.gz")]


def test_settings_normalise_folders_and_refuse_nesting() -> None:
    settings = ClaimSettings(
        in_locations=(Location.parse("s3://collector/logs"),),
        processing=Location.parse("s3://etl/processing"),
        archive=Location.parse("s3://archive/raw"),
        manifests=Location.parse("s3://etl/manifests"),
    )
    assert settings.processing.uri == "s3://etl/processing/"
    with pytest.raises(LocationConflict, match=r"processing \(s3://collector/logs/p/\) is inside"):
        ClaimSettings(
            in_locations=(Location.parse("s3://collector/logs"),),
            processing=Location.parse("s3://collector/logs/p"),
            archive=Location.parse("s3://archive/raw"),
            manifests=Location.parse("s3://etl/manifests"),
        )
    with pytest.raises(ValueError, match="positive"):
        settings_for(ROOT, max_files_per_batch=0)


def test_claim_writes_a_durable_manifest(backend: Backend) -> None:
    files = sample_files(12)
    for name, data in files.items():
        backend.put(f"in/{name}", data)
    backend.put("in/logs_$folder$", b"")
    if backend.name == "s3":
        backend.put("in/i-9/", b"")  # a folder marker; a local folder is simply not a file
    settings = settings_for(backend.root)

    [manifest] = claim(backend.storage, settings)

    assert sorted((e.key, e.size, e.etag) for e in manifest.entries) == sorted(
        (backend.location(f"in/{name}").key, len(data), md5(data)) for name, data in files.items()
    )
    assert {e.path for e in manifest.entries} == {staged_path(name) for name in files}
    store = ManifestStore(backend.storage, settings.manifests)
    assert store.load(manifest.batch_id) == manifest
    assert store.state(manifest.batch_id) is BatchState.PENDING
    assert backend.objects("in/").keys() >= {f"in/{name}" for name in files}  # nothing moved yet


def test_claimed_objects_are_never_claimed_again(backend: Backend) -> None:
    settings = settings_for(backend.root)
    backend.put("in/a.gz", b"a")
    [first] = claim(backend.storage, settings)
    assert claim(backend.storage, settings) == []
    backend.put("in/b.gz", b"b")
    [second] = claim(backend.storage, settings)
    assert [e.key for e in second.entries] == [backend.location("in/b.gz").key]
    assert ManifestStore(backend.storage, settings.manifests).pending()[0] == (
        first.batch_id,
        second.batch_id,
    )


def test_batches_cut_in_the_same_second_get_distinct_ids(backend: Backend) -> None:
    settings = settings_for(backend.root, max_files_per_batch=2)
    for n in range(5):
        backend.put(f"in/{n}.gz", b"x")
    now = datetime.now(UTC) + timedelta(minutes=1)  # later than every object written below
    first = claim(backend.storage, settings, now=now)
    for n in range(5, 8):
        backend.put(f"in/{n}.gz", b"x")
    second = claim(backend.storage, settings, now=now)  # same second again

    base = now.replace(microsecond=0)
    expected = [(base + timedelta(seconds=s)).strftime("%Y-%m-%d-%H-%M-%S") for s in range(5)]
    assert [m.batch_id for m in first + second] == expected
    assert [m.files for m in first + second] == [2, 2, 1, 2, 1]


def _all_claimed(backend: Backend, settings: ClaimSettings) -> Counter[str]:
    store = ManifestStore(backend.storage, settings.manifests)
    return Counter(e.key for batch in store.pending()[0] for e in store.load(batch).entries)


def test_overlapping_claim_passes_never_claim_an_object_twice(backend: Backend) -> None:
    settings = settings_for(backend.root, max_files_per_batch=7)
    names = [f"in/i-{n % 4}/{n:03}.gz" for n in range(120)]
    for name in names:
        backend.put(name, name.encode())
    storages = [backend.storage_with() for _ in range(4)]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda storage: claim(storage, settings), storages))

    claimed = _all_claimed(backend, settings)
    assert claimed == Counter(backend.location(name).key for name in names)
    assert sum(len(batches) for batches in results) == len(
        ManifestStore(backend.storage, settings.manifests).pending()[0]
    )
    committed = {m.batch_id for batches in results for m in batches}
    on_storage = {
        info.key.rsplit("/", 1)[1]
        for info in backend.storage.list(settings.manifests.join("batches/"))
    }
    assert on_storage == {f"{batch}.json" for batch in committed}  # losers removed their drafts


def test_a_pass_that_loses_the_commit_plans_again(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pass A has planned and is writing its manifest when pass B claims everything and commits;
    A's commit must fail, and A's second look must find nothing left to claim."""
    settings = settings_for(backend.root)
    for n in range(3):
        backend.put(f"in/{n}.gz", b"x")
    other = backend.storage_with()
    interleaved: list[list] = []
    started: list[bool] = []

    def run_other_pass_once() -> None:
        if not started:
            started.append(True)
            interleaved.append(claim(other, settings))

    if backend.name == "s3":
        storage = backend.storage
        assert isinstance(storage, S3Storage)

        def hook(request: Any, **_: Any) -> None:
            if "/manifests/batches/" in request.url:
                run_other_pass_once()

        storage.client.meta.events.register("before-send.s3.PutObject", hook)
    else:
        real_link = os.link

        def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            if "/manifests/batches/" in str(dst):
                run_other_pass_once()
            real_link(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "link", link)

    assert claim(backend.storage, settings) == []
    [[winner]] = interleaved
    assert winner.files == 3
    assert _all_claimed(backend, settings) == Counter(
        backend.location(f"in/{n}.gz").key for n in range(3)
    )


def test_a_pass_lists_only_the_in_locations(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """History (archive, processing, past manifests) can be huge; a pass never lists it."""
    settings = settings_for(
        backend.root, in_locations=(backend.location("in/"), backend.location("in2/"))
    )
    for name in ["in/a.gz", "in2/i-1/b.gz", "processing/run=1/c.gz", "archive/raw/run=0/d.gz"]:
        backend.put(name, b"x")
    claim(backend.storage, settings)
    listed: list[str] = []
    if backend.name == "s3":
        storage = backend.storage
        assert isinstance(storage, S3Storage)
        storage.client.meta.events.register(
            "before-parameter-build.s3.ListObjectsV2",
            lambda params, **_: listed.append(params["Prefix"]),
        )
    else:  # os.walk lists through os.scandir too
        real_scandir = os.scandir

        def scandir(path: str) -> Any:
            listed.append(str(path)[1:])
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
    backend.put("in/e.gz", b"x")
    [manifest] = claim(backend.storage, settings)
    in_locations = (backend.location("in/").key, backend.location("in2/").key)
    assert set(in_locations) <= {key.rstrip("/") + "/" for key in listed}
    assert all(key.startswith(in_locations) for key in listed), listed
    assert manifest.files == 1


def test_quiet_period_holds_back_fresh_objects(backend: Backend) -> None:
    settings = settings_for(backend.root, quiet_period_seconds=3600)
    backend.put("in/a.gz", b"x")
    assert claim(backend.storage, settings) == []
    [manifest] = claim(backend.storage, settings, now=datetime.now(UTC) + timedelta(hours=2))
    assert manifest.files == 1
