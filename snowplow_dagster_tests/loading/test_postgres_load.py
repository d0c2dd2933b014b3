"""``load_batch`` against a real PostgreSQL server: loaded once, replaced on reload, nothing partial
after a failure mid-COPY, contexts and unstruct events in their own tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO

import pytest

from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS
from snowplow_dagster.loading.postgres import LoadError, count_loaded, load_batch
from snowplow_dagster.loading.tables import shredded_table
from snowplow_dagster.storage import LocalStorage, Location
from snowplow_dagster_tests.fixtures.postgres import PostgresDatabase
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.loading.helpers import enriched_lines, write_good_folder

BATCH = "2026-11-21-10-00-00"
OTHER = "2026-11-21-11-00-00"
ETL_MS = 1_790_000_000_000
_EVENT_ID = ENRICHED_EVENT_FIELDS.index("event_id")


def good_folder(tmp_path: Path, batch: str, lines: list[str]) -> Location:
    good = Location.parse(f"{tmp_path}/enriched/good/run={batch}/")
    write_good_folder(good, lines)
    return good


def scalar(database: PostgresDatabase, query: str, *args: object) -> object:
    with database.connect() as connection:
        row = connection.execute(query, args).fetchone()
    assert row is not None
    return row[0]


def tables(database: PostgresDatabase) -> set[str]:
    with database.connect() as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'atomic'"
        ).fetchall()
    return {row[0] for row in rows}


def test_a_batch_is_loaded_with_its_contexts_joining_on_root_id(
    postgres_database: PostgresDatabase, backend: Backend
) -> None:
    """From S3 (moto over HTTP, streamed) and from local folders alike."""
    lines = enriched_lines(300, seed=1, etl_tstamp_ms=ETL_MS)
    good = backend.location(f"enriched/good/run={BATCH}/")
    write_good_folder(good, lines, storage=backend.storage)

    with postgres_database.connect() as connection:
        report = load_batch(connection, "atomic", BATCH, backend.storage, good)

    assert report.events == len(lines) and report.files == 2
    with postgres_database.connect() as connection:
        ids = [row[0] for row in connection.execute("SELECT event_id FROM atomic.events")]
        assert sorted(ids) == sorted(line.split("\t")[_EVENT_ID] for line in lines)
        assert count_loaded(connection, "atomic", BATCH) == len(lines)
        manifest = connection.execute(
            "SELECT events, tables, etl_tstamp FROM atomic.snowplow_dagster_loads "
            "WHERE batch_id = %s",
            [BATCH],
        ).fetchone()
    assert manifest is not None and manifest[0] == len(lines) and manifest[1] == report.tables
    # Every entity of every line is in its table, and joins back to its event.
    expected: dict[str, int] = {}
    for line in lines:
        fields = dict(zip(ENRICHED_EVENT_FIELDS, line.split("\t"), strict=True))
        entities = [
            entity
            for name in ("contexts", "derived_contexts")
            if fields[name]
            for entity in json.loads(fields[name])["data"]
        ]
        if fields["unstruct_event"]:
            entities.append(json.loads(fields["unstruct_event"])["data"])
        for entity in entities:
            table = shredded_table(entity["schema"])[0]
            expected[table] = expected.get(table, 0) + 1
    assert report.tables == expected
    assert "com_snowplowanalytics_snowplow_ua_parser_context_1" in expected
    assert len(expected) >= 3  # contexts, the derived context and unstruct events all there
    for table, rows in expected.items():
        joined = scalar(
            postgres_database,
            f"SELECT count(*) FROM atomic.{table} t JOIN atomic.events e "
            "ON t.root_id = e.event_id AND t.root_tstamp = e.collector_tstamp",
        )
        assert joined == rows
    # The payload is queryable JSON.
    family = scalar(
        postgres_database,
        "SELECT count(*) FROM atomic.com_snowplowanalytics_snowplow_ua_parser_context_1 "
        "WHERE payload ? 'useragentFamily' AND schema_version = '1-0-0'",
    )
    assert family == expected["com_snowplowanalytics_snowplow_ua_parser_context_1"]


class _Breaking:
    """A storage whose streams fail after ``after`` bytes of the second file (a dropped S3
    connection mid-object)."""

    def __init__(self, after: int) -> None:
        self.inner = LocalStorage()
        self.after = after
        self.opened = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def open_stream(self, obj: Location) -> BinaryIO:
        self.opened += 1
        stream = self.inner.open_stream(obj)
        if self.opened < 2:
            return stream
        after = self.after

        class Broken:
            def __enter__(self) -> Broken:
                return self

            def __exit__(self, *exc: object) -> None:
                stream.close()

            def read(self, size: int = -1) -> bytes:
                nonlocal after
                if after <= 0:
                    raise ConnectionResetError("injected: connection reset mid-object")
                data = stream.read(min(size, after) if size > 0 else after)
                after -= len(data)
                return data

        return Broken()  # type: ignore[return-value]


def test_a_failure_mid_copy_leaves_nothing_and_the_reload_has_no_duplicates(
    postgres_database: PostgresDatabase, tmp_path: Path
) -> None:
    lines = enriched_lines(200, seed=2, etl_tstamp_ms=ETL_MS)
    good = good_folder(tmp_path, BATCH, lines)
    with postgres_database.connect() as connection:
        load_batch(connection, "atomic", OTHER, LocalStorage(), good_folder(tmp_path, OTHER, []))

    with (
        postgres_database.connect() as connection,
        pytest.raises(ConnectionResetError, match="injected"),
    ):
        load_batch(connection, "atomic", BATCH, _Breaking(after=5000), good)  # type: ignore[arg-type]

    assert scalar(postgres_database, "SELECT count(*) FROM atomic.events") == 0
    assert tables(postgres_database) == {"events", "snowplow_dagster_loads"}
    with postgres_database.connect() as connection:
        assert count_loaded(connection, "atomic", BATCH) is None
        load_batch(connection, "atomic", BATCH, LocalStorage(), good)
        load_batch(connection, "atomic", BATCH, LocalStorage(), good)  # a rerun: replaced
    assert scalar(postgres_database, "SELECT count(*) FROM atomic.events") == len(lines)
    assert scalar(postgres_database, "SELECT count(DISTINCT event_id) FROM atomic.events") == len(
        set(line.split("\t")[_EVENT_ID] for line in lines)
    )


def test_a_backfill_replaces_the_batch_s_rows_and_only_them(
    postgres_database: PostgresDatabase, tmp_path: Path
) -> None:
    first = enriched_lines(150, seed=3, etl_tstamp_ms=ETL_MS)
    other = enriched_lines(50, seed=4, etl_tstamp_ms=ETL_MS + 3_600_000)
    with postgres_database.connect() as connection:
        load_batch(connection, "atomic", BATCH, LocalStorage(), good_folder(tmp_path, BATCH, first))
        load_batch(connection, "atomic", OTHER, LocalStorage(), good_folder(tmp_path, OTHER, other))
    # Re-enriched later (a new etl_tstamp), with fewer events.
    again = enriched_lines(100, seed=5, etl_tstamp_ms=ETL_MS + 86_400_000)
    with postgres_database.connect() as connection:
        report = load_batch(
            connection, "atomic", BATCH, LocalStorage(), good_folder(tmp_path / "2", BATCH, again)
        )
        assert count_loaded(connection, "atomic", BATCH) == len(again)
        assert count_loaded(connection, "atomic", OTHER) == len(other)

    assert report.replaced_events == len(first)
    assert scalar(postgres_database, "SELECT count(*) FROM atomic.events") == len(again) + len(
        other
    )
    ua = "atomic.com_snowplowanalytics_snowplow_ua_parser_context_1"
    orphans = scalar(
        postgres_database,
        f"SELECT count(*) FROM {ua} t LEFT JOIN atomic.events e ON t.root_id = e.event_id "
        "WHERE e.event_id IS NULL",
    )
    assert orphans == 0
    assert scalar(postgres_database, f"SELECT count(*) FROM {ua}") == len(again) + len(other)


def test_a_malformed_line_fails_the_load_naming_file_and_line(
    postgres_database: PostgresDatabase, tmp_path: Path
) -> None:
    lines = enriched_lines(20, seed=6, etl_tstamp_ms=ETL_MS)
    good = good_folder(tmp_path, BATCH, [*lines[:5], "not\tan\tevent", *lines[5:]])
    with postgres_database.connect() as connection, pytest.raises(LoadError) as failed:
        load_batch(connection, "atomic", BATCH, LocalStorage(), good)
    assert "part-00000.gz, line 6: 3 fields, not 131" in str(failed.value)
    assert tables(postgres_database) == set()  # the DDL of the failed load is rolled back too


def test_an_unfinished_good_folder_is_refused(
    postgres_database: PostgresDatabase, tmp_path: Path
) -> None:
    good = good_folder(tmp_path, BATCH, enriched_lines(5, seed=7, etl_tstamp_ms=ETL_MS))
    LocalStorage().delete(good.join("_SUCCESS"))
    with postgres_database.connect() as connection, pytest.raises(LoadError, match="_SUCCESS"):
        load_batch(connection, "atomic", BATCH, LocalStorage(), good)


@pytest.mark.parametrize(
    ("uri", "table", "version"),
    [
        (
            "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0",
            "com_snowplowanalytics_snowplow_ua_parser_context_1",
            "1-0-0",
        ),
        ("iglu:com.acme-corp/linkClick/jsonschema/2-1-3", "com_acme_corp_link_click_2", "2-1-3"),
    ],
)
def test_context_tables_are_named_as_snowplow_s_shredder_names_them(
    uri: str, table: str, version: str
) -> None:
    assert shredded_table(uri) == (table, version)


def test_lines_split_across_reads_crlf_and_blank_lines_all_load(
    postgres_database: PostgresDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads of a few hundred bytes cut every line somewhere; Windows line ends, blank lines and
    a missing final newline are what a hand-made file may have."""
    monkeypatch.setattr("snowplow_dagster.loading.postgres.BLOCK_BYTES", 300)
    lines = enriched_lines(40, seed=8, etl_tstamp_ms=ETL_MS)
    good = Location.parse(f"{tmp_path}/good/")
    storage = LocalStorage()
    text = "\r\n".join(lines[:20]) + "\r\n\r\n\n" + "\n".join(lines[20:])  # no final newline
    storage.write(good.join("part-00000"), text.encode())
    storage.write(good.join("_SUCCESS"), b"")
    with postgres_database.connect() as connection:
        report = load_batch(connection, "atomic", BATCH, storage, good)
    assert report.events == 40
    ids = {line.split("\t")[_EVENT_ID] for line in lines}
    with postgres_database.connect() as connection:
        loaded = {row[0] for row in connection.execute("SELECT event_id FROM atomic.events")}
        page_views = connection.execute(
            "SELECT count(*) FROM atomic.com_snowplowanalytics_snowplow_ua_parser_context_1"
        ).fetchone()
    assert loaded == ids
    assert page_views == (40,)  # every event has its derived ua_parser context


def _with_context(line: str, data_json: str, collector_tstamp: str | None = None) -> str:
    fields = line.split("\t")
    fields[ENRICHED_EVENT_FIELDS.index("contexts")] = (
        '{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":['
        '{"schema":"iglu:com.acme/big/jsonschema/1-0-0","data":' + data_json + "}]}"
    )
    if collector_tstamp is not None:
        fields[ENRICHED_EVENT_FIELDS.index("collector_tstamp")] = collector_tstamp
    return "\t".join(fields)


def test_context_values_reach_jsonb_exactly_and_a_zone_is_ignored_as_postgres_does(
    postgres_database: PostgresDatabase, tmp_path: Path
) -> None:
    """An integer beyond 64 bits (which orjson refuses) still loads, digit for digit, and so does
    a backslash followed by ``u0000`` (not the character jsonb refuses); a collector_tstamp with
    a zone joins its event as PostgreSQL's ``timestamp`` reads it."""
    line = enriched_lines(1, seed=9, etl_tstamp_ms=ETL_MS)[0]
    event = _with_context(
        line,
        '{"n":123456789012345678901234567890,"s":"é\\u00e9\\t","b":"\\\\u0000"}',
        "2026-11-21 10:00:01.5Z",
    )
    good = good_folder(tmp_path, BATCH, [event])
    with postgres_database.connect() as connection:
        load_batch(connection, "atomic", BATCH, LocalStorage(), good)
    row = scalar(
        postgres_database,
        "SELECT c.payload FROM atomic.com_acme_big_1 c JOIN atomic.events e "
        "ON c.root_id = e.event_id AND c.root_tstamp = e.collector_tstamp",
    )
    assert row == {"n": 123456789012345678901234567890, "s": "éé\t", "b": "\\u0000"}


@pytest.mark.parametrize(
    ("data_json", "reason"),
    [
        ('{"x":NaN}', "NaN is not JSON"),
        ('{"x":"a\\u0000b"}', "a string holds \\u0000"),
        ('{"\\\\":1,"x\\u0000":1}', "a string holds \\u0000"),
    ],
)
def test_a_context_postgres_cannot_store_fails_naming_file_and_line(
    postgres_database: PostgresDatabase, tmp_path: Path, data_json: str, reason: str
) -> None:
    lines = enriched_lines(3, seed=10, etl_tstamp_ms=ETL_MS)
    good = good_folder(tmp_path, BATCH, [lines[0], _with_context(lines[1], data_json), lines[2]])
    with postgres_database.connect() as connection, pytest.raises(LoadError) as failed:
        load_batch(connection, "atomic", BATCH, LocalStorage(), good)
    assert f"part-00000.gz, line 2: unreadable context: {reason}" in str(failed.value)
    assert tables(postgres_database) == set()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("txn_id", "abc", ", column txn_id: PostgreSQL refused it: invalid input syntax for type"),
        ("v_etl", "", ': PostgreSQL refused it: null value in column "v_etl"'),
    ],
)
def test_a_value_postgres_refuses_fails_naming_file_line_and_column(
    postgres_database: PostgresDatabase, tmp_path: Path, field: str, value: str, reason: str
) -> None:
    """The server counts lines across the batch's whole COPY; the error counts them per file."""
    lines = enriched_lines(6, seed=12, etl_tstamp_ms=ETL_MS)
    fields = lines[4].split("\t")  # the second line of the second file
    fields[ENRICHED_EVENT_FIELDS.index(field)] = value
    lines[4] = "\t".join(fields)
    good = good_folder(tmp_path, BATCH, lines)
    with postgres_database.connect() as connection, pytest.raises(LoadError) as failed:
        load_batch(connection, "atomic", BATCH, LocalStorage(), good)
    assert f"part-00001, line 2{reason}" in str(failed.value)
    assert tables(postgres_database) == set()


def test_an_unreadable_collector_tstamp_fails_naming_the_field_file_and_line(
    postgres_database: PostgresDatabase, tmp_path: Path
) -> None:
    lines = enriched_lines(3, seed=11, etl_tstamp_ms=ETL_MS)
    fields = lines[1].split("\t")
    fields[ENRICHED_EVENT_FIELDS.index("collector_tstamp")] = "yesterday"
    good = good_folder(tmp_path, BATCH, [lines[0], "\t".join(fields), lines[2]])
    with postgres_database.connect() as connection, pytest.raises(LoadError) as failed:
        load_batch(connection, "atomic", BATCH, LocalStorage(), good)
    assert "part-00000.gz, line 2: unreadable event_id, collector_tstamp or etl_tstamp" in str(
        failed.value
    )
    assert "'yesterday'" in str(failed.value)
    assert tables(postgres_database) == set()
