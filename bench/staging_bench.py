"""Staging benchmark: our claim + staging against ``aws s3 mv --recursive`` on one moto S3 server.

Each round fills two fresh buckets with the same N small Clojure-collector logs, then moves them
from ``in/`` to ``processing/run=<id>/`` twice: once with our code (claim, then stage: manifest,
verified copies, conditional bulk deletes) and once with the AWS CLI. Both run as child processes
timed by wall clock, start-up included, against the same moto server (a process of its own, so
neither client shares an interpreter with it). The order alternates between rounds; medians are
reported.

    .venv/bin/python bench/staging_bench.py               # 2,000 files, 3 rounds
    .venv/bin/python bench/staging_bench.py --files 500 --rounds 1
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import boto3
from machine import describe, load_average  # bench/ is this script's folder

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = REPOSITORY / "bench" / "results"
AWS = Path(sys.executable).with_name("aws")


def point_aws_at(endpoint: str) -> None:
    """Fake credentials and the endpoint, for this process and every child it starts."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server in its own process; yields its endpoint with the environment pointing at it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    point_aws_at(endpoint)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield endpoint
    finally:
        server.terminate()
        server.wait()


def collector_logs(count: int, seed: int = 1) -> dict[str, bytes]:
    """Gzipped Tomcat access logs as the Clojure collector rotates them, in instance folders."""
    rng = random.Random(seed)
    files = {}
    for number in range(count):
        lines = [
            f"2024-05-06\t07:{rng.randrange(60):02}:00\t-\t-\t10.0.{rng.randrange(256)}.1\tGET\t"
            f"10.0.0.1\t/i\t200\thttps://example.com/p{rng.randrange(999)}\tMozilla/5.0\t"
            f"e=pv&page=Home&tv=js-2.17.0&p=web&uid={uuid.UUID(int=rng.getrandbits(128))}\t-\t-\t-"
            for _ in range(rng.randrange(5, 60))
        ]
        rotated = 1_714_000_000 + number
        name = f"i-{number % 8:08x}/_var_log_tomcat8_rotated_localhost_access_log.txt{rotated}.gz"
        files[name] = gzip.compress("\n".join(lines).encode(), mtime=0)
    return files


def fill(bucket: str, files: dict[str, bytes]) -> None:
    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda item: client.put_object(Bucket=bucket, Key=f"in/{item[0]}", Body=item[1]),
                files.items(),
            )
        )


def count(bucket: str, prefix: str) -> int:
    pages = (
        boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return sum(page.get("KeyCount", 0) for page in pages)


def child_ours(bucket: str) -> None:
    """Runs in the timed child: claim then stage, reporting each part's own time."""
    from snowplow_dagster.batches.claiming import ClaimSettings, claim
    from snowplow_dagster.batches.moves import stage_batch
    from snowplow_dagster.storage import Location, S3Storage

    started = time.perf_counter()
    storage = S3Storage()
    root = Location("s3", bucket, "")
    settings = ClaimSettings(
        in_locations=(root.join("in/"),),
        processing=root.join("processing/"),
        archive=root.join("archive/raw/"),
        manifests=root.join("manifests/"),
        collector_format="clj-tomcat",
        quiet_period_seconds=0,
    )
    [manifest] = claim(storage, settings)
    claimed = time.perf_counter()
    report = stage_batch(storage, settings, manifest.batch_id)
    done = time.perf_counter()
    print(json.dumps({"claim": claimed - started, "stage": done - claimed, "files": report.copied}))


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPOSITORY)
    return time.perf_counter() - started, result.stdout


def run_ours(bucket: str) -> dict[str, float]:
    seconds, output = timed([sys.executable, __file__, "--child", bucket])
    return {"wall": seconds, **json.loads(output.strip().splitlines()[-1])}


def run_awscli(endpoint: str, bucket: str) -> dict[str, float]:
    destination = f"s3://{bucket}/processing/run={datetime.now(UTC):%Y-%m-%d-%H-%M-%S}/"
    command = [str(AWS), "s3", "mv", f"s3://{bucket}/in/", destination, "--recursive"]
    seconds, _ = timed([*command, "--endpoint-url", endpoint, "--only-show-errors"])
    nothing = [str(AWS), "s3", "mv", f"s3://{bucket}/nothing/", destination, "--recursive"]
    fixed, _ = timed([*nothing, "--endpoint-url", endpoint])
    return {"wall": seconds, "startup": fixed}


def machine() -> dict[str, str]:
    import moto  # here, not at the top: the timed child must not pay for importing it

    aws = subprocess.run([str(AWS), "--version"], capture_output=True, text=True, check=False)
    return describe(
        **{
            "boto3 / botocore": f"{boto3.__version__} / {boto3.session.botocore.__version__}",
            "moto": moto.__version__,
            "AWS CLI": (aws.stdout or aws.stderr).strip(),
        }
    )


def record(title: str, body: str) -> Path:
    """Write (or replace) one section of today's results file, which both storage benches share."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"staging-{datetime.now(UTC):%Y-%m-%d}.md"
    sections = {}
    if path.exists():
        for chunk in re.split(r"^(?=## )", path.read_text(), flags=re.MULTILINE)[1:]:
            heading, _, rest = chunk.partition("\n")
            if heading != "## Machine":
                sections[heading] = rest.strip()
    sections[f"## {title}"] = body.strip()
    head = "\n".join(f"| {key} | {value} |" for key, value in machine().items())
    text = f"# Staging and claiming benchmarks\n\n## Machine\n\n| | |\n|---|---|\n{head}\n"
    for heading in sorted(sections):
        text += f"\n{heading}\n\n{sections[heading]}\n"
    path.write_text(text)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", metavar="BUCKET", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_ours(args.child)
        return 0

    load_before = load_average()
    files = collector_logs(args.files)
    megabytes = sum(map(len, files.values())) / 1e6
    ours, awscli = [], []
    with moto_server() as endpoint:
        for round_number in range(args.rounds):
            buckets = {
                "ours": f"ours-{uuid.uuid4().hex[:12]}",
                "awscli": f"cli-{uuid.uuid4().hex[:12]}",
            }
            for bucket in buckets.values():
                fill(bucket, files)
            order = ["ours", "awscli"] if round_number % 2 == 0 else ["awscli", "ours"]
            for tool in order:
                if tool == "ours":
                    ours.append(run_ours(buckets["ours"]))
                else:
                    awscli.append(run_awscli(endpoint, buckets["awscli"]))
                moved = count(buckets[tool], "processing/")
                left = count(buckets[tool], "in/")
                if (moved, left) != (args.files, 0):
                    raise SystemExit(f"{tool} left {left} files in in/ and moved {moved}")
            ours_seconds, cli_seconds = ours[-1]["wall"], awscli[-1]["wall"]
            print(
                f"round {round_number + 1}: ours {ours_seconds:.2f} s, awscli {cli_seconds:.2f} s"
            )

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    ours_wall, cli_wall = median(ours, "wall"), median(awscli, "wall")
    cli_startup = median(awscli, "startup")
    rows = [
        ("ours: claim + stage, wall clock (child process)", ours_wall),
        ("ours: claim only (inside the child)", median(ours, "claim")),
        ("ours: stage only (inside the child)", median(ours, "stage")),
        ("awscli: `aws s3 mv --recursive`, wall clock", cli_wall),
        ("awscli: fixed cost (the same `mv` of an empty prefix)", cli_startup),
    ]
    table = "\n".join(
        f"| {name} | {seconds:.2f} | {args.files / seconds:,.0f} |" for name, seconds in rows
    )
    body = f"""`bench/staging_bench.py --files {args.files} --rounds {args.rounds}`: {args.files:,}
gzipped collector logs ({megabytes:.1f} MB) moved from `in/` to `processing/run=<id>/` on one moto
server (its own process); medians of {args.rounds} rounds, order alternating.
Load average (1, 5, 15 min) before and after: {load_before}, {load_average()}.

| what | seconds | files/s |
|---|---|---|
{table}

**Ratio, ours / awscli (files/s, wall clock both, start-up included): {cli_wall / ours_wall:.2f}×**
(without either side's start-up: stage only vs. awscli minus its start-up:
{(cli_wall - cli_startup) / median(ours, "stage"):.2f}×). Target ≥ 1×, goal 2×.
"""
    print(body)
    print(f"written to {record('Staging', body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
