"""Load one batch's good events into PostgreSQL, exactly once.

One transaction per batch, under an advisory lock per target schema (so two loads never interleave
their DDL or their manifest rows):

1. create the schema, ``events``, the manifest table and their indexes if absent;
2. if the manifest has the batch, delete the rows it loaded then (by its ``etl_tstamp``) from
   ``events`` and from every context table it wrote: a rerun, a resume or a backfill replaces;
3. ``COPY events FROM STDIN``, fed file by file from storage in 1 MiB blocks (S3 or local, gzip or
   plain; a batch is never held in memory), while each line's contexts, derived contexts and
   unstruct event are written to one temporary file per context table, in COPY's binary format;
4. ``COPY`` each context table from its file, creating tables met for the first time;
5. upsert the manifest row (batch id, rows per table, ``etl_tstamp``, duration); commit.

Any failure (a storage error mid-file, a malformed line, a value PostgreSQL refuses) rolls the
whole transaction back: readers never see part of a batch, and the next attempt starts clean. A
line's error names its file and line (and column, for a value the server refuses), never a count
across the batch or a row of a temporary file.

Speed: PostgreSQL's backend runs one COPY at a time per connection, so the load's floor is the
server's time for the events plus its time for the context rows. What this process does (reading,
splitting, shredding) runs while the server is busy with the events, though on a small machine
it competes with the server for CPU. So both are kept small: the context rows are sent in COPY's
binary format (the server then parses no timestamps and scans no CSV for quotes: a third less of
its time than text), and the JSON is read and written with ``orjson`` (about three times the
standard library's speed). ``bench/load_bench.py`` measures the whole against ``psql \\copy``:
as fast as psql loading the same tables from ready-made files.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import gzip
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
import psycopg
from psycopg import postgres, pq, sql
from psycopg.abc import Buffer
from psycopg.adapt import Dumper
from psycopg.copy import Copy, FileWriter

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
"""What one read from storage, and one ``COPY`` write, takes: large enough to amortise the call,
small enough to stream."""

_WIDTH = len(ENRICHED_EVENT_FIELDS)
_INDEX = {name: i for i, name in enumerate(ENRICHED_EVENT_FIELDS)}
_ETL, _COLLECTOR, _EVENT_ID = _INDEX["etl_tstamp"], _INDEX["collector_tstamp"], _INDEX["event_id"]
_CONTEXTS, _UNSTRUCT, _DERIVED = (
    _INDEX["contexts"],
    _INDEX["unstruct_event"],
    _INDEX["derived_contexts"],
)
assert _ETL < _COLLECTOR < _EVENT_ID < _CONTEXTS < _UNSTRUCT < _DERIVED  # how lines are split
_DIGITS = bytes(48 if byte in b"0123456789" else 32 for byte in range(256))
_LONG_DIGIT_RUN = b"0" * 20
"""``translate(_DIGITS)`` (each digit to ``0``, the rest to a space), then a search for twenty
zeros, finds a run of twenty digits six times faster than a regular expression: it runs for every
context of every event."""
_SHREDDED_TYPES = ("text", "timestamp", "timestamp", "text", "jsonb")
"""The binary COPY types of ``SHREDDED_COLUMNS``: ``char`` and ``varchar`` take ``text``'s form."""


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
    ``_SUCCESS``, i.e. one an enrichment is still writing or left half-written. Listed without
    ETags: on local storage they would cost a read of the whole batch before its first row."""
    infos = list(storage.list(good.folder(), etags=False))
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
    with connection.transaction(), connection.cursor() as cursor, _Spools(connection) as spools:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"snowplow-dagster:{schema}"])
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cursor.execute(create_events(schema))
        cursor.execute(create_manifest(schema))
        report.replaced_events = _delete_earlier_load(cursor, schema, batch)
        columns = sql.SQL(", ").join(sql.Identifier(name) for name, _ in EVENT_COLUMNS)
        copy_events = sql.SQL("COPY {} ({}) FROM STDIN WITH {}").format(
            sql.Identifier(schema, EVENTS_TABLE), columns, COPY_OPTIONS
        )
        etl_tstamps = _copy_events(cursor, copy_events, storage, files, spools, report)
        if len(etl_tstamps) > 1:
            raise LoadError(
                f"{good.uri}: {len(etl_tstamps)} different etl_tstamp values; "
                "a batch is one enrichment run"
            )
        report.etl_tstamp = etl_tstamps.pop().decode() if etl_tstamps else None
        _refuse_shared_etl_tstamp(cursor, schema, batch, report.etl_tstamp)
        for table, spooled in sorted(spools.finish().items()):
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


def _copy_events(
    cursor: psycopg.Cursor[Any],
    statement: sql.Composed,
    storage: Storage,
    files: list[Location],
    spools: _Spools,
    report: LoadReport,
) -> set[bytes]:
    """COPY the files' lines into ``events``, each line's contexts into ``spools``; the distinct
    ``etl_tstamp`` values seen. A block goes to the server once each of its lines has been read
    here, so a line this process refuses never reaches it; a value the server refuses is named by
    its file and line, not by the COPY's line count across the whole batch."""
    etl_tstamps: set[bytes] = set()
    starts: list[int] = []  # lines sent before each file's first; the server counts from 1
    try:
        with cursor.copy(statement) as copy:
            for location in files:
                starts.append(report.events)
                report.files += 1
                number = 0
                for chunk, lines in _chunks(storage, location):
                    for line in lines:
                        number += 1
                        if (tabs := line.count(b"\t")) != _WIDTH - 1:
                            raise LoadError(
                                f"{location.uri}, line {number}: {tabs + 1} fields, not {_WIDTH}"
                            )
                        # The fields up to the unstruct event, then the rest in one piece:
                        # half the objects of a full split, and all the loop needs but one.
                        head = line.split(b"\t", _UNSTRUCT + 1)
                        etl_tstamps.add(head[_ETL])
                        _shred(head, spools, location, number)
                        report.events += 1
                    copy.write(chunk)
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as error:
        raise _refused(error, files, starts) from None
    return etl_tstamps


_COPY_CONTEXT = re.compile(r"COPY [^,]+, line (\d+)(?:, column ([^:]+))?")


def _refused(
    error: psycopg.errors.DataError | psycopg.errors.IntegrityError,
    files: list[Location],
    starts: list[int],
) -> LoadError | psycopg.Error:
    """The server's refusal of a line, as a ``LoadError`` naming its file, line and column."""
    found = _COPY_CONTEXT.match(error.diag.context or "")
    if found is None:
        return error
    line = int(found.group(1))
    index = bisect.bisect_left(starts, line) - 1
    column = f", column {found.group(2)}" if found.group(2) else ""
    return LoadError(
        f"{files[index].uri}, line {line - starts[index]}{column}: PostgreSQL refused it: "
        f"{error.diag.message_primary}"
    )


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


def _chunks(storage: Storage, location: Location) -> Iterator[tuple[bytes, list[bytes]]]:
    """The file's lines as COPY takes them: blocks of whole lines, each ending in a newline, read
    (and for ``.gz`` decompressed) block by block from any file-like stream, an S3 body included;
    each with its lines. A block is sent as read unless it has carriage returns or empty lines,
    which are dropped."""
    with storage.open_stream(location) as raw:
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if location.key.endswith(".gz") else raw
        rest = b""
        while block := stream.read(BLOCK_BYTES):
            block = rest + block
            end = block.rfind(b"\n") + 1
            rest = block[end:]
            if end and (chunk := _whole_lines(block[:end]))[1]:
                yield chunk
        if rest and (chunk := _whole_lines(rest + b"\n"))[1]:
            yield chunk


def _whole_lines(block: bytes) -> tuple[bytes, list[bytes]]:
    """``block`` (newline-terminated) and its lines, without empty lines or the carriage returns
    that end lines.
    Empty lines are looked for among the split lines: searching the block for two newlines in a
    row took as long as the split itself."""
    lines = block[:-1].split(b"\n")
    if b"\r" not in block and all(lines):
        return block, lines
    lines = [line for line in (line.rstrip(b"\r") for line in lines) if line]
    return b"".join(line + b"\n" for line in lines), lines


class _Spools:
    """One temporary file per context table, filled with psycopg's own binary COPY formatter (a
    ``Copy`` writing to a ``FileWriter``): the rows wait there while the connection is busy with
    the events' COPY. ``finish`` ends each file's COPY data; leaving the block removes the files.

    ``copies`` holds each table's formatter, for ``copies.get(table) or open(table)``: a row is
    written without a call of ours in between (a tenth of the client's time, at two or three rows
    per event)."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self.copies: dict[str, Copy] = {}
        self.files: dict[str, IO[bytes]] = {}
        self._connection = connection
        self._stack = ExitStack()
        self._formatters = ExitStack()

    def __enter__(self) -> _Spools:
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._stack:
            self._formatters.__exit__(*exc)

    def open(self, table: str) -> Copy:
        # Closed by the stack, when the load ends.
        spooled = self._stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
        self.files[table] = spooled
        # A cursor that never executes: it only lends the formatter its adapters.
        formatting = self._formatters.enter_context(self._connection.cursor())
        formatting.adapters.register_dumper(None, _JsonbDumper)
        copy = Copy(formatting, binary=True, writer=FileWriter(spooled))
        copy.set_types(_SHREDDED_TYPES)
        self.copies[table] = self._formatters.enter_context(copy)
        return copy

    def finish(self) -> dict[str, IO[bytes]]:
        """The files by table, each with its COPY trailer written and rewound."""
        self._formatters.close()
        for spooled in self.files.values():
            spooled.seek(0)
        return self.files


def _shred(head: list[bytes], spools: _Spools, location: Location, number: int) -> None:
    """Write each self-describing entity of the event to its table's spool file. ``head`` is the
    line split up to the unstruct event, the rest of the line as its last item."""
    contexts, unstruct = head[_CONTEXTS], head[_UNSTRUCT]
    derived = head[-1].rsplit(b"\t", _WIDTH - _DERIVED)[1]
    if not (contexts or unstruct or derived):
        return
    try:
        root_id = head[_EVENT_ID].decode()
        root_tstamp = _timestamp(head[_COLLECTOR])
        etl_tstamp = _batch_timestamp(head[_ETL])
    except ValueError as error:
        raise LoadError(
            f"{location.uri}, line {number}: unreadable event_id, collector_tstamp or "
            f"etl_tstamp: {error}"
        ) from None
    copies, open_spool = spools.copies, spools.open
    try:
        for text, single in ((contexts, False), (derived, False), (unstruct, True)):
            if not text:
                continue
            document, dumps = _json(text)
            entities = document["data"]
            for entity in (entities,) if single else entities:
                table, version = shredded_table(entity["schema"])
                (copies.get(table) or open_spool(table)).write_row(
                    (root_id, root_tstamp, etl_tstamp, version, dumps(entity["data"]))
                )
    except (ValueError, KeyError, TypeError) as error:
        raise LoadError(f"{location.uri}, line {number}: unreadable context: {error}") from None


def _json(text: bytes) -> tuple[Any, Callable[[Any], bytes]]:
    """The document, and the ``dumps`` to write its parts with: ``orjson``, unless the text has
    an integer of 20 digits or more, which orjson would read as a double and so change; the
    standard library keeps every integer exact. (Fractions are doubles either way, as in most
    JSON tools.) Refuses what ``jsonb`` cannot store, so the error names the line, not a row of
    a spool file: ``NaN`` and ``Infinity``, and ``\\u0000`` in a string."""
    if b"\\u0000" in text and _holds_nul(json.loads(text, parse_constant=_no_constant)):
        raise ValueError("a string holds \\u0000, which PostgreSQL's jsonb cannot store")
    if _LONG_DIGIT_RUN not in text.translate(_DIGITS):
        try:
            return orjson.loads(text), orjson.dumps
        except orjson.JSONDecodeError:
            pass  # the standard library names the problem
    return json.loads(text, parse_constant=_no_constant), _standard_dumps


def _holds_nul(value: Any) -> bool:
    """Whether a key or string holds the character U+0000: ``\\u0000`` in the text may also be
    an escaped backslash followed by ``u0000``, which is no such character."""
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(map(_holds_nul, value))
    return False


def _standard_dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON, and PostgreSQL's jsonb refuses it")


def _timestamp(text: bytes) -> dt.datetime:
    """As PostgreSQL reads a ``timestamp`` (without time zone): a zone, if given, is ignored."""
    moment = dt.datetime.fromisoformat(text.decode())
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


@functools.lru_cache(maxsize=8)
def _batch_timestamp(text: bytes) -> dt.datetime | None:
    """``etl_tstamp``: one per batch, so read once."""
    return _timestamp(text) if text else None


class _JsonbDumper(Dumper):
    """JSON already written (by ``orjson``, or the standard library) in jsonb's binary form: a
    version byte, 1, then the text, as psycopg's own ``JsonbBinaryDumper`` sends it. That one would
    encode the value itself, at two more Python calls per row."""

    format = pq.Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: Buffer) -> bytes:
        return b"\x01" + bytes(obj)


def _copy_spool(cursor: psycopg.Cursor[Any], schema: str, table: str, spooled: IO[bytes]) -> int:
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        sql.Identifier(schema, table), sql.SQL(", ").join(map(sql.Identifier, SHREDDED_COLUMNS))
    )
    with cursor.copy(statement) as copy:
        while block := spooled.read(BLOCK_BYTES):
            copy.write(block)
    return cursor.rowcount
