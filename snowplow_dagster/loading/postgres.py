"""Load one batch's good events into PostgreSQL, exactly once.

One transaction per batch, under an advisory lock per target schema (so two loads never interleave
their DDL or their manifest rows):

1. create the schema, ``events``, the manifest table and their indexes if absent;
2. if the manifest has the batch, delete the rows it loaded then (by its ``etl_tstamp``) from
   ``events`` and from every context table it wrote: a rerun, a resume or a backfill replaces;
3. ``COPY events FROM STDIN``, fed file by file from storage in 1 MiB blocks (S3 or local, gzip or
   plain; a batch is never held in memory), while each line's contexts, derived contexts and
   unstruct event are written to one temporary file per context table;
4. ``COPY`` each context table from its file, creating tables met for the first time;
5. upsert the manifest row (batch id, rows per table, ``etl_tstamp``, duration); commit.

Any failure (a storage error mid-file, a malformed line, a value PostgreSQL refuses) rolls the
whole transaction back: readers never see part of a batch, and the next attempt starts clean.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import IO, Any

import psycopg
from psycopg import sql

from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS
from snowplow_dagster.loading.tables import (
    COPY_OPTIONS,
    EVENT_COLUMNS,
    EVENTS_TABLE,
    MANIFEST_TABLE,
    SHREDDED_COLUMNS,
    create_events,
    create_manifest,
    create_shredded,
    shredded_table,
)
from snowplow_dagster.storage import Location, Storage

BLOCK_BYTES = 1 << 20
"""What one ``COPY`` write sends: large enough to amortise the call, small enough to stream."""

_WIDTH = len(ENRICHED_EVENT_FIELDS)
_INDEX = {name: i for i, name in enumerate(ENRICHED_EVENT_FIELDS)}
_ETL, _COLLECTOR, _EVENT_ID = _INDEX["etl_tstamp"], _INDEX["collector_tstamp"], _INDEX["event_id"]
_CONTEXT_FIELDS = (_INDEX["contexts"], _INDEX["derived_contexts"])
_UNSTRUCT = _INDEX["unstruct_event"]


class LoadError(Exception):
    """A batch that cannot be loaded as it is; the message names the file and line."""


@dataclass
class LoadReport:
    batch: str
    events: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    """Rows per context table."""
    etl_tstamp: str | None = None
    replaced_events: int = 0
    """Rows of an earlier load of the same batch, deleted first."""
    files: int = 0
    seconds: float = 0.0


def data_files(storage: Storage, good: Location) -> list[Location]:
    """The good folder's data files (``part-*``), in name order; refuses a folder without
    ``_SUCCESS``, i.e. one an enrichment is still writing or left half-written."""
    infos = list(storage.list(good.folder()))
    names = {good.relative(info.key) for info in infos}
    if "_SUCCESS" not in names:
        raise LoadError(f"{good.uri} has no _SUCCESS: its enrichment is unfinished")
    return [
        good.object(key)
        for key in sorted(info.key for info in infos)
        if not good.relative(key).rpartition("/")[2].startswith(("_", "."))
    ]


def load_batch(
    connection: psycopg.Connection, schema: str, batch: str, storage: Storage, good: Location
) -> LoadReport:
    """Replace the batch's rows with those of ``good``'s files, in one transaction."""
    started = time.monotonic()
    report = LoadReport(batch)
    files = data_files(storage, good)
    with connection.transaction(), connection.cursor() as cursor, ExitStack() as spools:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"snowplow-dagster:{schema}"])
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cursor.execute(create_events(schema))
        cursor.execute(create_manifest(schema))
        report.replaced_events = _delete_earlier_load(cursor, schema, batch)
        shredded: dict[str, IO[bytes]] = {}

        def spool(table: str) -> IO[bytes]:
            if table not in shredded:
                shredded[table] = spools.enter_context(tempfile.TemporaryFile())
            return shredded[table]

        columns = sql.SQL(", ").join(sql.Identifier(name) for name, _ in EVENT_COLUMNS)
        copy_events = sql.SQL("COPY {} ({}) FROM STDIN WITH {}").format(
            sql.Identifier(schema, EVENTS_TABLE), columns, COPY_OPTIONS
        )
        etl_tstamps: set[bytes] = set()
        with cursor.copy(copy_events) as copy:
            for location in files:
                report.files += 1
                block = bytearray()
                for number, line in enumerate(_lines(storage, location), 1):
                    fields = line.split(b"\t")
                    if len(fields) != _WIDTH:
                        raise LoadError(
                            f"{location.uri}, line {number}: {len(fields)} fields, not {_WIDTH}"
                        )
                    etl_tstamps.add(fields[_ETL])
                    _shred(fields, spool, location, number)
                    block += line
                    block += b"\n"
                    report.events += 1
                    if len(block) >= BLOCK_BYTES:
                        copy.write(block)
                        block = bytearray()
                if block:
                    copy.write(block)
        if len(etl_tstamps) > 1:
            raise LoadError(
                f"{good.uri}: {len(etl_tstamps)} different etl_tstamp values; "
                "a batch is one enrichment run"
            )
        report.etl_tstamp = etl_tstamps.pop().decode() if etl_tstamps else None
        _refuse_shared_etl_tstamp(cursor, schema, batch, report.etl_tstamp)
        for table, spooled in sorted(shredded.items()):
            cursor.execute(create_shredded(schema, table))
            report.tables[table] = _copy_spool(cursor, schema, table, spooled)
        report.seconds = time.monotonic() - started
        cursor.execute(
            sql.SQL(
                "INSERT INTO {} (batch_id, etl_tstamp, events, tables, loaded_at, "
                "duration_seconds) VALUES (%s, %s, %s, %s, now(), %s) ON CONFLICT (batch_id) DO "
                "UPDATE SET etl_tstamp = EXCLUDED.etl_tstamp, events = EXCLUDED.events, "
                "tables = EXCLUDED.tables, loaded_at = EXCLUDED.loaded_at, "
                "duration_seconds = EXCLUDED.duration_seconds"
            ).format(sql.Identifier(schema, MANIFEST_TABLE)),
            [
                batch,
                report.etl_tstamp,
                report.events,
                json.dumps(report.tables),
                report.seconds,
            ],
        )
    return report


def count_loaded(connection: psycopg.Connection, schema: str, batch: str) -> int | None:
    """Rows in ``events`` for the batch as its manifest row names it; None if never loaded."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass(%s)", [sql.Identifier(schema, MANIFEST_TABLE).as_string(cursor)]
        )
        if cursor.fetchone() == (None,):
            return None
        cursor.execute(
            sql.SQL("SELECT etl_tstamp FROM {} WHERE batch_id = %s").format(
                sql.Identifier(schema, MANIFEST_TABLE)
            ),
            [batch],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        if row[0] is None:
            return 0
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE etl_tstamp = %s").format(
                sql.Identifier(schema, EVENTS_TABLE)
            ),
            [row[0]],
        )
        counted = cursor.fetchone()
        assert counted is not None
        return int(counted[0])


def _delete_earlier_load(cursor: psycopg.Cursor[Any], schema: str, batch: str) -> int:
    cursor.execute(
        sql.SQL("SELECT etl_tstamp, tables FROM {} WHERE batch_id = %s FOR UPDATE").format(
            sql.Identifier(schema, MANIFEST_TABLE)
        ),
        [batch],
    )
    row = cursor.fetchone()
    if row is None or row[0] is None:
        return 0
    etl_tstamp, tables = row
    for table in tables:
        cursor.execute(
            sql.SQL("DELETE FROM {} WHERE etl_tstamp = %s").format(sql.Identifier(schema, table)),
            [etl_tstamp],
        )
    cursor.execute(
        sql.SQL("DELETE FROM {} WHERE etl_tstamp = %s").format(
            sql.Identifier(schema, EVENTS_TABLE)
        ),
        [etl_tstamp],
    )
    return cursor.rowcount


def _refuse_shared_etl_tstamp(
    cursor: psycopg.Cursor[Any], schema: str, batch: str, etl_tstamp: str | None
) -> None:
    """Rows are replaced by ``etl_tstamp``, so two batches must never share one."""
    if etl_tstamp is None:
        return
    cursor.execute(
        sql.SQL("SELECT batch_id FROM {} WHERE etl_tstamp = %s AND batch_id <> %s").format(
            sql.Identifier(schema, MANIFEST_TABLE)
        ),
        [etl_tstamp, batch],
    )
    other = cursor.fetchone()
    if other is not None:
        raise LoadError(
            f"batch {batch} has etl_tstamp {etl_tstamp}, as the loaded batch {other[0]} does"
        )


def _lines(storage: Storage, location: Location) -> Iterator[bytes]:
    """The file's lines without their newline, read (and for ``.gz`` decompressed) block by
    block: any file-like stream will do, an S3 body included."""
    with storage.open_stream(location) as raw:
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if location.key.endswith(".gz") else raw
        rest = b""
        while block := stream.read(BLOCK_BYTES):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line := line.rstrip(b"\r"):
                    yield line
        if rest := rest.rstrip(b"\r"):
            yield rest


def _shred(fields: list[bytes], spool: Any, location: Location, number: int) -> None:
    """Write each self-describing entity of the event to its table's spool file."""
    entities: list[Any] = []
    try:
        for index in _CONTEXT_FIELDS:
            if fields[index]:
                entities.extend(json.loads(fields[index])["data"])
        if fields[_UNSTRUCT]:
            entities.append(json.loads(fields[_UNSTRUCT])["data"])
        prefix = b"\t".join((fields[_EVENT_ID], fields[_COLLECTOR], fields[_ETL])) + b"\t"
        for entity in entities:
            table, version = shredded_table(entity["schema"])
            payload = json.dumps(entity["data"], separators=(",", ":"))
            spool(table).write(prefix + f"{version}\t{payload}\n".encode())
    except (ValueError, KeyError, TypeError) as error:
        raise LoadError(f"{location.uri}, line {number}: unreadable context: {error}") from None


def _copy_spool(cursor: psycopg.Cursor[Any], schema: str, table: str, spooled: IO[bytes]) -> int:
    spooled.seek(0)
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH {}").format(
        sql.Identifier(schema, table),
        sql.SQL(", ").join(map(sql.Identifier, SHREDDED_COLUMNS)),
        COPY_OPTIONS,
    )
    with cursor.copy(statement) as copy:
        while block := spooled.read(BLOCK_BYTES):
            copy.write(block)
    return cursor.rowcount
