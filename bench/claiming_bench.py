"""Claiming benchmark: one claim pass over a busy in-bucket with a long history behind it.

10,000 collector logs wait in the in-bucket; 100,000 were claimed, staged and archived before (their
objects in the raw archive, their manifests and markers under the manifests location). A pass must
take well under 2 s and must list neither the archive nor anything else of that history.

Runs on S3 (a moto server) in two layouts, and on the local backend. The moto server runs in a child
process filled through moto's own backend before it serves (a hundred thousand PUTs over HTTP would
take minutes); the claim passes run here, over HTTP, through the normal boto3 client. Each repeat
first undoes the previous pass's claim, so every timed pass claims all waiting objects. Next to each
pass: the bare listing of the in-location, the floor no claim pass can go below.

    .venv/bin/python bench/claiming_bench.py
    .venv/bin/python bench/claiming_bench.py --waiting 2000 --archived 20000 --repeats 1
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import load_average
from staging_bench import free_port, point_aws_at, record

from snowplow_dagster.batches.claiming import ClaimSettings, claim
from snowplow_dagster.batches.manifest import Manifest, ManifestEntry, batch_id
from snowplow_dagster.storage import (
    LocalStorage,
    Location,
    ObjectMissing,
    S3Storage,
    Storage,
    list_tree,
)

S3_LAYOUTS = {
    "S3, separate buckets (EmrEtlRunner's sample layout)": {
        "in": "s3://bench-collector/logs/",
        "processing": "s3://bench-etl/processing/",
        "manifests": "s3://bench-etl/manifests/",
        "archive": "s3://bench-archive/raw/",
    },
    "S3, one bucket for everything": {
        "in": "s3://bench-all/in/",
        "processing": "s3://bench-all/processing/",
        "manifests": "s3://bench-all/manifests/",
        "archive": "s3://bench-all/archive/raw/",
    },
}
ARCHIVED_BATCH = 10_000
HEADER = (
    "| backend, layout | pass, median s | pass, worst s | server CPU s | our CPU s "
    "| listing floor s | idle pass s | listings made |\n|---|---|---|---|---|---|---|---|"
)


def settings(layout: dict[str, str]) -> ClaimSettings:
    return ClaimSettings(
        in_locations=(Location.parse(layout["in"]),),
        processing=Location.parse(layout["processing"]),
        archive=Location.parse(layout["archive"]),
        manifests=Location.parse(layout["manifests"]),
        collector_format="clj-tomcat",
        quiet_period_seconds=0,
    )


def log_name(number: int) -> str:
    return f"i-{number % 16:08x}/_var_log_tomcat8_rotated_localhost_access_log.txt{number}.gz"


def fill(
    put: Callable[[Location, bytes], None], layout: dict[str, str], waiting: int, archived: int
) -> None:
    """Waiting logs in the in-location; archived batches with their objects, manifests, markers."""
    claim_settings = settings(layout)
    source = claim_settings.in_locations[0]
    for number in range(waiting):
        put(source.join(log_name(number)), f"waiting {number}".encode())
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for first in range(0, archived, ARCHIVED_BATCH):
        batch = batch_id(start + timedelta(hours=first // ARCHIVED_BATCH))
        archive = claim_settings.archive.join(f"run={batch}/")
        entries = []
        for number in range(first, min(first + ARCHIVED_BATCH, archived)):
            data = f"archived {number}".encode()
            path = log_name(1_000_000 + number).replace("/_", "/")
            put(archive.join(path), data)
            key = source.join(log_name(1_000_000 + number)).key
            entries.append(ManifestEntry(0, key, len(data), md5(data), path))
        manifests = claim_settings.manifests
        put(
            manifests.join(f"batches/{batch}.json"),
            Manifest(batch, (source,), tuple(entries)).to_json(),
        )
        for state in ("staged", "archived"):
            put(manifests.join(f"{state}/{batch}.json"), b'{"details": {}}')


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def serve(port: int, waiting: int, archived: int) -> None:
    """Child: fill moto's backend directly, then serve it over HTTP until stdin closes."""
    import logging

    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.server import ThreadedMotoServer

    s3 = get_backend("s3")[DEFAULT_ACCOUNT_ID]["aws"]
    for bucket in {
        Location.parse(uri).bucket for layout in S3_LAYOUTS.values() for uri in layout.values()
    }:
        s3.create_bucket(bucket, "us-east-1")
    for layout in S3_LAYOUTS.values():
        fill(
            lambda location, data: s3.put_object(location.bucket, location.key, data),
            layout,
            waiting,
            archived,
        )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("ready", flush=True)
    sys.stdin.read()
    server.stop()


@contextlib.contextmanager
def moto_server(waiting: int, archived: int) -> Iterator[psutil.Process]:
    port = free_port()
    command = [sys.executable, __file__, "--serve", str(port), str(waiting), str(archived)]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdin is not None and server.stdout is not None
    if server.stdout.readline().strip() != "ready":
        raise SystemExit("the moto server did not start")
    point_aws_at(f"http://127.0.0.1:{port}")
    try:
        yield psutil.Process(server.pid)
    finally:
        server.stdin.close()
        server.wait()


@contextlib.contextmanager
def listings(storage: Storage) -> Iterator[list[str]]:
    """Every listing the storage makes meanwhile, as a URI prefix (S3 requests, or directories
    scanned)."""
    listed: list[str] = []
    lock = threading.Lock()
    if isinstance(storage, S3Storage):

        def note(params: dict[str, Any], **_: Any) -> None:
            with lock:
                listed.append(f"s3://{params['Bucket']}/{params.get('Prefix', '')}")

        storage.client.meta.events.register("before-parameter-build.s3.ListObjectsV2", note)
        yield listed
        storage.client.meta.events.unregister("before-parameter-build.s3.ListObjectsV2", note)
        return
    real_scandir = os.scandir  # os.walk lists through it too

    def scandir(path: str) -> Any:
        with lock:
            listed.append(f"file://{path}")
        return real_scandir(path)

    os.scandir = scandir  # type: ignore[assignment]
    try:
        yield listed
    finally:
        os.scandir = real_scandir


def measure(
    name: str,
    new_storage: Callable[[], Storage],
    layout: dict[str, str],
    waiting: int,
    repeats: int,
    server: psutil.Process | None = None,
) -> tuple[str, ...]:
    """Timed passes, each from a fresh client and claiming everything again; then an idle pass
    (nothing new, the last claim still pending) and the bare listing of the in-location.

    Next to each pass's wall clock: the CPU the S3 server spent meanwhile (moto renders every
    listed key through its generic serialiser) and the CPU this process spent (the pass itself),
    which together show whose time a pass is."""
    claim_settings = settings(layout)
    failures: list[str] = []
    listed_by_pass: list[list[str]] = []
    cpu: list[tuple[float, float]] = []

    def one_pass(expected: int) -> float:
        storage = new_storage()
        with listings(storage) as listed:
            server_before = _cpu_seconds(server)
            ours_before = time.process_time()
            started = time.perf_counter()
            manifests = claim(storage, claim_settings)
            seconds = time.perf_counter() - started
            cpu.append((_cpu_seconds(server) - server_before, time.process_time() - ours_before))
        if (claimed := sum(m.files for m in manifests)) != expected:
            failures.append(f"{name}: claimed {claimed}, not {expected}")
        if touched := [uri for uri in listed if not uri.startswith(layout["in"])]:
            failures.append(f"{name}: listed outside the in-location: {touched}")
        listed_by_pass.append(listed)
        return seconds

    timings = []
    for _ in range(repeats):
        forget(new_storage(), claim_settings)
        timings.append(one_pass(waiting))
    idle = one_pass(0)
    storage = new_storage()
    started = time.perf_counter()
    list_tree(storage, claim_settings.in_locations[0])
    floor = time.perf_counter() - started
    forget(storage, claim_settings)
    where = "all under" if not failures else "NOT all under"
    server_cpu = f"{statistics.median(c[0] for c in cpu[:-1]):.2f}" if server else "-"
    row = (
        f"| {name} | {statistics.median(timings):.2f} | {max(timings):.2f} | {server_cpu} "
        f"| {statistics.median(c[1] for c in cpu[:-1]):.2f} | {floor:.2f} "
        f"| {idle:.2f} | {len(listed_by_pass[0])}, {where} {layout['in']} |"
    )
    print(row, flush=True)
    verdict = "under 2 s" if max(timings) < 2 else "NOT under 2 s"
    return row, f"{name}: {verdict}", *failures


def _cpu_seconds(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return times.user + times.system


def forget(storage: Storage, claim_settings: ClaimSettings) -> None:
    """Undo the claims of earlier passes (their manifests and the pending index)."""
    pending = claim_settings.manifests.join("pending.json")
    try:
        batches = json.loads(storage.read(pending).data)["pending"]
    except ObjectMissing:
        return
    for batch in batches:
        storage.delete(claim_settings.manifests.join(f"batches/{batch}.json"))
    storage.delete(pending)


def local_put(location: Location, data: bytes) -> None:
    path = Path("/" + location.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--archived", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(*args.serve)
        return 0

    print(HEADER)
    load_before = load_average()
    results = []
    with moto_server(args.waiting, args.archived) as server:
        for name, layout in S3_LAYOUTS.items():
            results.append(measure(name, S3Storage, layout, args.waiting, args.repeats, server))
    with tempfile.TemporaryDirectory() as work:
        layout = {
            "in": f"{work}/collector/logs/",
            "processing": f"{work}/etl/processing/",
            "manifests": f"{work}/etl/manifests/",
            "archive": f"{work}/archive/raw/",
        }
        layout = {role: Location.parse(path).uri for role, path in layout.items()}
        fill(local_put, layout, args.waiting, args.archived)
        results.append(measure("local directory", LocalStorage, layout, args.waiting, args.repeats))

    table = "\n".join(row for row, *_ in results)
    verdicts = "; ".join(verdict for _, verdict, *_ in results)
    failures = [failure for _, _, *rest in results for failure in rest]
    body = f"""`bench/claiming_bench.py --waiting {args.waiting} --archived {args.archived}
--repeats {args.repeats}`: one claim pass with {args.waiting:,} collector logs waiting and
{args.archived:,} archived before ({args.archived // ARCHIVED_BATCH} archived batches with their
objects, manifests and markers). Each timed pass starts a fresh client and claims every waiting
object into one manifest; the idle pass finds nothing new while that batch is pending. The listing
floor is the in-location's bare listing (``list_tree``, as a pass lists), which no pass can beat.
Server CPU is what the moto server process spent during a pass, our CPU what the claiming process
spent (medians over the timed passes): on S3 the pass waits on the server for whatever their
difference from the wall clock leaves.
Load average (1, 5, 15 min) before and after: {load_before}, {load_average()}.

{HEADER}
{table}

Worst pass: {verdicts}. Checks (every pass claimed what it should, none listed the archive,
processing or manifests): {"all passed" if not failures else "; ".join(failures)}.
"""
    print(body)
    print(f"written to {record('Claiming', body)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
