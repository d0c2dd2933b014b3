"""The tables a batch is loaded into: ``atomic.events``, one table per context schema, the manifest.

``atomic.events`` has Snowplow's 131 columns with the types of its PostgreSQL ``atomic-def.sql``
(``geo_region`` is ``char(3)``, as later Snowplow versions widened it for ISO 3166-2 codes), and no
primary key: Snowplow's event ids are not unique across batches (duplicates are a known property
of at-least-once trackers), and Snowplow's own loaders never enforced one.

Contexts, derived contexts and unstruct events go to ``<vendor>_<name>_<major>`` (Snowplow's
shredded table names, e.g. ``com_snowplowanalytics_snowplow_web_page_1``): ``root_id`` and
``root_tstamp`` join them to ``events`` (``event_id``, ``collector_tstamp``); ``etl_tstamp`` is the
batch's, so a reload deletes exactly that batch's rows.

``etl_tstamp`` is indexed with BRIN, not a B-tree: rows arrive a batch at a time, so a batch's
rows sit in a run of pages, and a block-range index finds them (for a reload's delete, for the
loaded-rows check) at a sliver of a B-tree's size and upkeep: a B-tree holds an entry per row for a
column with one value per batch, and keeping it up was a fifth of the context tables' load time.
"""

from __future__ import annotations

import functools
import re

from psycopg import sql

from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS

_TYPES = {
    "etl_tstamp": "timestamp",
    "collector_tstamp": "timestamp not null",
    "dvce_created_tstamp": "timestamp",
    "event": "varchar(128)",
    "event_id": "char(36) not null",
    "txn_id": "integer",
    "name_tracker": "varchar(128)",
    "v_tracker": "varchar(100)",
    "v_collector": "varchar(100) not null",
    "v_etl": "varchar(100) not null",
    "user_ipaddress": "varchar(45)",
    "user_fingerprint": "varchar(50)",
    "domain_userid": "varchar(36)",
    "domain_sessionidx": "smallint",
    "network_userid": "varchar(38)",
    "geo_country": "char(2)",
    "geo_region": "char(3)",
    "geo_city": "varchar(75)",
    "geo_zipcode": "varchar(15)",
    "geo_latitude": "double precision",
    "geo_longitude": "double precision",
    "geo_region_name": "varchar(100)",
    "ip_isp": "varchar(100)",
    "ip_organization": "varchar(100)",
    "ip_domain": "varchar(100)",
    "ip_netspeed": "varchar(100)",
    "page_url": "text",
    "page_title": "varchar(2000)",
    "page_referrer": "text",
    "page_urlscheme": "varchar(16)",
    "page_urlport": "integer",
    "page_urlpath": "varchar(3000)",
    "page_urlquery": "varchar(6000)",
    "page_urlfragment": "varchar(3000)",
    "refr_urlscheme": "varchar(16)",
    "refr_urlport": "integer",
    "refr_urlpath": "varchar(6000)",
    "refr_urlquery": "varchar(6000)",
    "refr_urlfragment": "varchar(3000)",
    "refr_medium": "varchar(25)",
    "refr_source": "varchar(50)",
    "mkt_content": "varchar(500)",
    "contexts": "json",
    "se_category": "varchar(1000)",
    "se_action": "varchar(1000)",
    "se_label": "varchar(1000)",
    "se_property": "varchar(1000)",
    "se_value": "double precision",
    "unstruct_event": "json",
    "tr_total": "decimal(18,2)",
    "tr_tax": "decimal(18,2)",
    "tr_shipping": "decimal(18,2)",
    "ti_price": "decimal(18,2)",
    "ti_quantity": "integer",
    "pp_xoffset_min": "integer",
    "pp_xoffset_max": "integer",
    "pp_yoffset_min": "integer",
    "pp_yoffset_max": "integer",
    "useragent": "varchar(1000)",
    "br_name": "varchar(50)",
    "br_family": "varchar(50)",
    "br_version": "varchar(50)",
    "br_type": "varchar(50)",
    "br_renderengine": "varchar(50)",
    "br_colordepth": "varchar(12)",
    "br_viewwidth": "integer",
    "br_viewheight": "integer",
    "os_name": "varchar(50)",
    "os_family": "varchar(50)",
    "os_manufacturer": "varchar(50)",
    "dvce_type": "varchar(50)",
    "dvce_ismobile": "boolean",
    "dvce_screenwidth": "integer",
    "dvce_screenheight": "integer",
    "doc_charset": "varchar(128)",
    "doc_width": "integer",
    "doc_height": "integer",
    "tr_currency": "char(3)",
    "tr_total_base": "decimal(18,2)",
    "tr_tax_base": "decimal(18,2)",
    "tr_shipping_base": "decimal(18,2)",
    "ti_currency": "char(3)",
    "ti_price_base": "decimal(18,2)",
    "base_currency": "char(3)",
    "geo_timezone": "varchar(64)",
    "mkt_clickid": "varchar(128)",
    "mkt_network": "varchar(64)",
    "etl_tags": "varchar(500)",
    "dvce_sent_tstamp": "timestamp",
    "refr_domain_userid": "varchar(36)",
    "refr_dvce_tstamp": "timestamp",
    "derived_contexts": "json",
    "domain_sessionid": "char(36)",
    "derived_tstamp": "timestamp",
    "event_vendor": "varchar(1000)",
    "event_name": "varchar(1000)",
    "event_format": "varchar(128)",
    "event_version": "varchar(128)",
    "event_fingerprint": "varchar(128)",
    "true_tstamp": "timestamp",
}
EVENT_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (
        name,
        _TYPES.get(
            name, "boolean" if name.startswith(("br_features_", "br_cookies")) else "varchar(255)"
        ),
    )
    for name in ENRICHED_EVENT_FIELDS
)
"""(column, type) in the enriched TSV's order; unnamed ones are ``varchar(255)`` as in
``atomic-def.sql`` (app_id, user_id, mkt_*, tr_*/ti_* names, ...)."""

EVENTS_TABLE = "events"
MANIFEST_TABLE = "snowplow_dagster_loads"
"""One row per loaded batch: its id, rows per table, ``etl_tstamp`` and when it was loaded."""

COPY_OPTIONS = sql.SQL("(FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01', ESCAPE E'\\x02', NULL '')")
"""The enriched TSV as Snowplow's PostgreSQL loader copied it: CSV with quote and escape set to
bytes that never occur, so tabs split fields, an empty field is NULL and a backslash is a
backslash (COPY's text format would read ``\\n`` in a URL as a newline)."""

SHREDDED_COLUMNS = ("root_id", "root_tstamp", "etl_tstamp", "schema_version", "payload")

_IGLU_URI = re.compile(r"iglu:([^/]+)/([^/]+)/[^/]+/(\d+)-(\d+)-(\d+)")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


@functools.lru_cache(maxsize=4096)
def shredded_table(schema_uri: str) -> tuple[str, str]:
    """``(table, version)`` of an Iglu URI: ``<vendor>_<name>_<major>`` in snake case, as
    Snowplow's shredder names them, and ``M-R-A``. ``ValueError`` if it is not an Iglu URI.
    Cached: a batch has a handful of schemas and every event names some (a third of the load's
    time without the cache)."""
    match = _IGLU_URI.fullmatch(schema_uri)
    if match is None:
        raise ValueError(f"not an Iglu schema URI: {schema_uri[:200]}")
    vendor, name, major, revision, addition = match.groups()
    table = "_".join(
        re.sub(r"[^a-z0-9]+", "_", _CAMEL.sub(r"_\1", part).lower()) for part in (vendor, name)
    )
    return f"{table}_{major}", f"{major}-{revision}-{addition}"


def create_events(schema: str) -> sql.Composed:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in EVENT_COLUMNS
    )
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {table} ({columns}); "
        "CREATE INDEX IF NOT EXISTS events_etl_tstamp ON {table} USING brin (etl_tstamp)"
    ).format(table=sql.Identifier(schema, EVENTS_TABLE), columns=columns)


def create_manifest(schema: str) -> sql.Composed:
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} ("
        "batch_id text PRIMARY KEY, etl_tstamp timestamp, events bigint NOT NULL, "
        "tables jsonb NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), "
        "duration_seconds double precision NOT NULL)"
    ).format(sql.Identifier(schema, MANIFEST_TABLE))


def create_shredded(schema: str, table: str) -> sql.Composed:
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {table} ("
        "root_id char(36) NOT NULL, root_tstamp timestamp NOT NULL, etl_tstamp timestamp, "
        "schema_version varchar(128) NOT NULL, payload jsonb NOT NULL); "
        "CREATE INDEX IF NOT EXISTS {index} ON {table} USING brin (etl_tstamp)"
    ).format(table=sql.Identifier(schema, table), index=sql.Identifier(f"{table[:50]}_etl"))
