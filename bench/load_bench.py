"""Loading into PostgreSQL: ``load_batch`` (our COPY, streamed from storage, contexts included) vs
``psql \\copy`` of the same files into ``atomic.events``, rows/s side by side.

    .venv/bin/python bench/load_bench.py                   # 1,000,000 events (the reference size)
    .venv/bin/python bench/load_bench.py --events 100000   # quicker

A temporary PostgreSQL cluster is started as the tests start theirs (Debian's binaries, a non-root
user when run as root) and removed at the end. The corpus: enriched events from the Python
enrichment core with the bundled enrichments (so events carry contexts, the ua-parser derived
context and unstruct events), a base set repeated with fresh event ids up to ``--events``, written
as plain ``part-*`` files of 100,000 lines (what the local engine writes with
``--output-compression none``). Not timed.

Each side runs ``--repeats`` times on emptied tables; the best time counts, and every run is
listed, with the ratio of the medians, so the spread shows. ``psql`` runs every ``\\copy`` in
one transaction (``-1``), as ``load_batch`` does. ``load_batch`` does more than
``psql``: it also splits every event's contexts into their tables and COPYs those, and writes the
manifest row; the ratio is the whole of that against the bare COPY. Target: within 1.5x. A third
line has psql load the same context tables too, from their rows exported once as text: the floor
for any loader of the same tables, so its ratio is what the shredding itself costs.

Writes ``bench/results/load-<YYYY-MM-DD>.md`` only when the machine was quiet (1-minute load
average under ``--max-load``, default 1.5, before and after), since other work skews every figure;
otherwise prints the table and says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test fixtures' server
from machine import describe, load_average  # bench/ is this script's folder

from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS
from snowplow_dagster.loading.postgres import load_batch
from snowplow_dagster.storage import LocalStorage, Location
from snowplow_dagster_tests.fixtures.postgres import PostgresServer, running_server
from snowplow_dagster_tests.loading.helpers import enriched_lines

RESULTS = Path(__file__).parent / "results"
LINES_PER_FILE = 100_000
BASE_EVENTS = 20_000
_EVENT_ID = ENRICHED_EVENT_FIELDS.index("event_id")
_COPY = (
    "\\copy atomic.events FROM '{path}' WITH (FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01', "
    "ESCAPE E'\\x02', NULL '')"
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-load", type=float, default=1.5)
    return parser.parse_args()


def write_corpus(good: Path, events: int) -> tuple[int, int]:
    """(events, files) written."""
    base = [line.split("\t") for line in enriched_lines(BASE_EVENTS, seed=1, etl_tstamp_ms=1)]
    good.mkdir(parents=True)
    written = 0
    while written < events:
        count = min(LINES_PER_FILE, events - written)
        with open(good / f"part-{written // LINES_PER_FILE:05d}", "w") as file:
            for index in range(written, written + count):
                fields = base[index % len(base)]
                fields[_EVENT_ID] = str(uuid.UUID(int=index))
                file.write("\t".join(fields) + "\n")
        written += count
    (good / "_SUCCESS").write_text("")
    return written, len(list(good.glob("part-*")))


def empty(server: PostgresServer, database: str) -> None:
    with server.connect(database) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'atomic'"
        ).fetchall()
        for (table,) in tables:
            connection.execute(f'TRUNCATE atomic."{table}"')
        connection.execute("VACUUM")


def time_ours(server: PostgresServer, database: str, good: Path) -> float:
    with psycopg.connect(server.conninfo(database)) as connection:
        started = time.perf_counter()
        load_batch(connection, "atomic", "bench", LocalStorage(), Location.parse(f"{good}/"))
        return time.perf_counter() - started


def psql(server: PostgresServer, database: str, script: Path) -> float:
    """Seconds for ``psql -1 -f script``: every command in one transaction, as ``load_batch``."""
    env = {**os.environ, "PGPASSWORD": server.password}
    command = [
        str(server.bin_dir / "psql"),
        "-X",
        "-q",
        "-1",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        server.host,
        "-p",
        str(server.port),
        "-U",
        server.user,
        "-d",
        database,
        "-f",
        str(script),
    ]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True)
    return time.perf_counter() - started


def events_script(good: Path) -> Path:
    """One ``\\copy`` per line of a script file: psql -c takes a single backslash command."""
    script = good.parent / "events.psql"
    script.write_text(
        "".join(_COPY.format(path=path) + "\n" for path in sorted(good.glob("part-*")))
    )
    return script


def same_tables_script(server: PostgresServer, database: str, good: Path) -> Path:
    """The events' ``\\copy`` lines, then one per context table from the rows ``load_batch`` wrote
    there (exported once, as text): psql loading every table ``load_batch`` loads, which is the
    floor for any loader of the same tables, shredding aside."""
    shredded = good.parent / "shredded"
    shredded.mkdir(exist_ok=True)
    with server.connect(database) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'atomic' "
                "AND table_name NOT IN ('events', 'snowplow_dagster_loads') ORDER BY 1"
            )
        ]
    export = good.parent / "export.psql"
    export.write_text(
        "".join(f"\\copy atomic.{table} TO '{shredded / table}'\n" for table in tables)
    )
    psql(server, database, export)
    script = good.parent / "same-tables.psql"
    script.write_text(
        events_script(good).read_text()
        + "".join(f"\\copy atomic.{table} FROM '{shredded / table}'\n" for table in tables)
    )
    return script


def main() -> int:
    args = parse_args()
    before = load_average()
    with tempfile.TemporaryDirectory(prefix="load-bench-") as work, running_server() as server:
        os.chmod(work, 0o755)  # psql reads the files as this user; the server never does
        good = Path(work) / "good"
        events, files = write_corpus(good, args.events)
        with server.connect() as connection:
            connection.execute("CREATE DATABASE bench")
        ours, theirs, same = [], [], []
        time_ours(server, "bench", good)  # creates the tables; not counted
        events_only = events_script(good)
        all_tables = same_tables_script(server, "bench", good)
        for _ in range(args.repeats):
            empty(server, "bench")
            theirs.append(psql(server, "bench", events_only))
            empty(server, "bench")
            same.append(psql(server, "bench", all_tables))
            empty(server, "bench")
            ours.append(time_ours(server, "bench", good))
        with server.connect("bench") as connection:
            loaded = connection.execute("SELECT count(*) FROM atomic.events").fetchone()
        assert loaded == (events,), loaded
    after = load_average()
    best_ours, best_psql, best_same = min(ours), min(theirs), min(same)
    rows = [
        ("load_batch (events + contexts, one transaction)", ours),
        ("psql \\copy (events only, one transaction)", theirs),
        ("psql \\copy (events + the same context tables, pre-shredded)", same),
    ]
    report = "\n".join(
        [
            f"# Load into PostgreSQL, {dt.date.today().isoformat()}",
            "",
            *(f"- {name}: {value}" for name, value in describe().items()),
            f"- load average before / after: {before} / {after}",
            f"- events: {events:,} in {files} files of up to {LINES_PER_FILE:,} lines; "
            f"best of {args.repeats}",
            "",
            "| path | best s | events/s | every run, s |",
            "|---|---|---|---|",
            *(
                f"| {name} | {min(runs):.2f} | {events / min(runs):,.0f} | "
                f"{', '.join(f'{run:.2f}' for run in runs)} |"
                for name, runs in rows
            ),
            "",
            f"Ratio load_batch / psql events only: {best_ours / best_psql:.2f}x "
            "(target: within 1.5x); of the medians: "
            f"{statistics.median(ours) / statistics.median(theirs):.2f}x",
            f"Ratio load_batch / psql of the same tables: {best_ours / best_same:.2f}x",
        ]
    )
    print(report)
    quiet = max(float(before.split(",")[0]), float(after.split(",")[0])) < args.max_load
    if quiet:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"load-{dt.date.today().isoformat()}.md").write_text(report + "\n")
    else:
        print(f"\nNot recorded: the machine was busy (1-minute load >= {args.max_load}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
