"""One raw event to one enriched event: Scala Common Enrich's ``EnrichmentManager.enrichEvent``.

The steps run in Snowplow's order, because later steps read what earlier ones wrote (IP lookups
see the IP before anonymisation, the referer parser sees the page host, PII hashing comes last).
Failures do not stop the run: every step's messages are kept and raised together as one
``ProcessingError``, in Snowplow's three groups plus PII, so a bad row lists everything wrong
with the event at once.

Page and referer URLs are parsed as ``java.net.URI`` does (``uri``).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from typing import TYPE_CHECKING, Any

from snowplow_dagster.enrich.conversions import (
    FieldError,
    format_timestamp,
    is_redshift_compatible,
    java_split,
    parse_java_long,
)
from snowplow_dagster.enrich.enrichments.tsv import tsv_safe
from snowplow_dagster.enrich.event import EnrichedEvent
from snowplow_dagster.enrich.iglu import SchemaKey, SchemaValidator, check_self_describing
from snowplow_dagster.enrich.jackson import compact_json
from snowplow_dagster.enrich.payload import ProcessingError, RawEvent
from snowplow_dagster.enrich.querystring import decode_string, parse_querystring
from snowplow_dagster.enrich.transform import extract_timestamp, first_ip, transform_parameters
from snowplow_dagster.enrich.uri import JavaUri, UriSyntaxError, string_to_uri

if TYPE_CHECKING:
    from snowplow_dagster.enrich.enrichments.registry import EnrichmentRegistry

__version__ = importlib.metadata.version("snowplow-dagster")
ETL_VERSION = f"pyspark-{__version__}-common-{__version__}"
"""``v_etl``: Snowplow's ``<host ETL>-common-<common enrich>`` shape, naming this project."""

DERIVED_CONTEXTS_SCHEMA = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
_CONTEXTS = ("com.snowplowanalytics.snowplow", "contexts", "jsonschema", 1)
_UNSTRUCT = ("com.snowplowanalytics.snowplow", "unstruct_event", "jsonschema", 1)
_EVENT_SCHEMAS = {
    "page_view": ("com.snowplowanalytics.snowplow", "page_view", "jsonschema", "1-0-0"),
    "page_ping": ("com.snowplowanalytics.snowplow", "page_ping", "jsonschema", "1-0-0"),
    "transaction": ("com.snowplowanalytics.snowplow", "transaction", "jsonschema", "1-0-0"),
    "transaction_item": (
        "com.snowplowanalytics.snowplow",
        "transaction_item",
        "jsonschema",
        "1-0-0",
    ),
    "struct": ("com.google.analytics", "event", "jsonschema", "1-0-0"),
}


def enrich_event(
    raw: RawEvent,
    registry: EnrichmentRegistry,
    etl_tstamp: str,
    etl_version: str,
    validator: SchemaValidator | None = None,
    derived_validator: DerivedContextValidator | None = None,
) -> EnrichedEvent:
    """The enriched event, or ``ProcessingError`` carrying every message of every failed step.

    ``etl_tstamp`` is already formatted (``format_timestamp``): it is the same for a whole job.
    ``validator`` checks each context's and the unstruct event's data against its Iglu schema;
    without one only the self-describing envelopes are checked. ``derived_validator`` checks the
    derived contexts the enrichments add; without one (the default) they are trusted, as we
    produce them.
    """
    payload = raw.payload
    parameters = raw.parameters
    event = EnrichedEvent()
    columns = vars(event)

    # Values that cannot fail; parameters may override them below.
    columns["v_collector"] = payload.source_name
    columns["v_etl"] = etl_version
    columns["etl_tstamp"] = etl_tstamp
    if payload.network_user_id is not None:
        columns["network_userid"] = payload.network_user_id
    if payload.ip_address is not None:
        columns["user_ipaddress"] = first_ip(payload.ip_address)

    collector_error = _set_collector_tstamp(event, payload.timestamp_ms)
    useragent_error = _set_useragent(event, payload.useragent, payload.encoding)
    transformed = transform_parameters(event, parameters)
    if "event_id" not in columns:  # no valid ``eid``: a random one, as Snowplow starts with
        columns["event_id"] = _random_uuid()
    version_error = None if event.v_collector else "Collector version not set"

    page_uri, page_error = _page_uri(event, payload.referer)
    geo_errors = []
    if event.user_ipaddress is not None:  # looked up before it is anonymised
        geo_errors = _call(registry.ip_lookups, "enrich", event, event.user_ipaddress)
    _set_derived_tstamp(event, parameters, payload.timestamp_ms)
    if registry.anon_ip is not None and event.user_ipaddress is not None:
        columns["user_ipaddress"] = registry.anon_ip.anonymise(event.user_ipaddress)

    useragent = event.useragent
    client_errors: list[str] = []
    ua_context, ua_parser_errors = None, []
    if useragent is not None:
        client_errors = _call(registry.user_agent_utils, "enrich", event, useragent)
        if registry.ua_parser is not None:
            try:
                ua_context = registry.ua_parser.context(useragent)
            except ProcessingError as error:
                ua_parser_errors = error.messages

    referer_errors = _set_referer(event, registry)

    cross_domain_error = None
    campaign_errors: list[str] = []
    if page_uri is not None:
        page_query = parse_querystring(page_uri.raw_query)
        campaign_errors = _call(registry.campaign_attribution, "enrich", event, page_query)
        cross_domain_error = _set_cross_domain(event, page_query)

    if registry.event_fingerprint is not None:
        columns["event_fingerprint"] = registry.event_fingerprint.fingerprint(parameters)

    contexts_errors = _check_contexts(transformed.parsed_json.get("contexts"), validator)
    unstruct_key, unstruct_errors = _check_unstruct(
        transformed.parsed_json.get("unstruct_event"), validator
    )
    schema_error = _set_event_schema(event, unstruct_key)

    derived_errors: list[str] = []
    if ua_context is not None:
        if derived_validator is not None:
            derived_errors = derived_validator.check(ua_context)
        columns["derived_contexts"] = _derived_contexts(ua_context)

    pii_errors = _call(registry.pii, "enrich", event)

    errors = [
        *_present(useragent_error, collector_error),
        *client_errors,
        *ua_parser_errors,
        *_present(version_error, page_error, cross_domain_error),
        *geo_errors,
        *referer_errors,
        *transformed.errors,
        *campaign_errors,
        *contexts_errors,
        *unstruct_errors,
        *_present(schema_error),
        *derived_errors,
        *pii_errors,
    ]
    if errors:
        raise ProcessingError(errors)
    return event


_UUID_VARIANT = dict(zip("0123456789abcdef", "89ab89ab89ab89ab", strict=True))


def _random_uuid() -> str:
    """A random (version 4) UUID, as ``UUID.randomUUID``; a quarter of ``uuid.uuid4``'s cost."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def _present(*messages: str | None) -> list[str]:
    return [message for message in messages if message is not None]


def _call(enrichment: Any, method: str, *args: Any) -> list[str]:
    """Run an optional enrichment step; its ``ProcessingError`` messages, or none."""
    if enrichment is None:
        return []
    try:
        getattr(enrichment, method)(*args)
    except ProcessingError as error:
        return error.messages
    return []


def _set_collector_tstamp(event: EnrichedEvent, timestamp_ms: int | None) -> str | None:
    if timestamp_ms is None:
        return "No collector_tstamp set"
    text = format_timestamp(timestamp_ms)
    if not is_redshift_compatible(text):
        return (
            f"Collector timestamp [{timestamp_ms}] formatted as [{text}] "
            "which isn't Redshift-compatible"
        )
    event.collector_tstamp = text
    return None


# Bounded caches for values that repeat across a batch's events: decoded user agents, the
# derived context text of a ua-parser result, URL part columns. The first two are cleared when
# full.
_CACHE_LIMIT = 20_000
_DECODED_USERAGENTS: dict[tuple[str, str], str] = {}
_DERIVED_CONTEXTS: dict[int, tuple[dict[str, Any], str]] = {}


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def _set_useragent(event: EnrichedEvent, useragent: str | None, encoding: str) -> str | None:
    """The collector's UA is still URL-encoded in the log; ``ua`` may override it later."""
    if useragent is None:
        return None
    decoded = _DECODED_USERAGENTS.get((useragent, encoding))
    if decoded is None:
        try:
            decoded = decode_string("useragent", useragent, encoding)
        except ProcessingError as error:
            return error.messages[0]
        _remember(_DECODED_USERAGENTS, (useragent, encoding), decoded)
    event.useragent = decoded
    return None


def _derived_contexts(ua_context: dict[str, Any]) -> str:
    """The ``derived_contexts`` column. ua_parser hands out one cached dict per user agent, so
    the text is cached by that dict's identity (kept alive in the cache, so the id stays its)."""
    cached = _DERIVED_CONTEXTS.get(id(ua_context))
    if cached is not None and cached[0] is ua_context:
        return cached[1]
    text = compact_json({"schema": DERIVED_CONTEXTS_SCHEMA, "data": [ua_context]})
    _remember(_DERIVED_CONTEXTS, id(ua_context), (ua_context, text))
    return text


class DerivedContextValidator:
    """Validates derived contexts against their Iglu schemas, cheaply.

    Enrichments hand out cached contexts (ua_parser one dict per user agent), so a context that
    passed is remembered by identity (kept alive here, so the id stays its) and not validated
    again. A failure is not remembered: it may be a repository that was briefly unreachable, and
    every event carrying the context is checked, and becomes a bad row, on its own.
    """

    def __init__(self, validator: SchemaValidator) -> None:
        self._validator = validator
        self._valid: dict[int, dict[str, Any]] = {}

    def check(self, context: dict[str, Any]) -> list[str]:
        """The context's error messages, as a failing ``cx`` context's; none when it is valid."""
        if self._valid.get(id(context)) is context:
            return []
        _, errors = check_self_describing(context, validator=self._validator)
        if not errors:
            _remember(self._valid, id(context), context)
        return errors


def _set_derived_tstamp(
    event: EnrichedEvent, parameters: dict[str, str | None], collector_ms: int | None
) -> None:
    """``true_tstamp`` if the tracker sent one; else the collector time shifted back by how long
    the event waited on the device (sent - created), when that is positive; else collector time.

    The device times were validated when their columns were set, so re-reading the raw
    parameters cannot fail; Snowplow's only failure is on texts this never produces. The shift is
    plain millisecond arithmetic (Joda subtracts a field-wise Period, which differs only when the
    wait spans months).
    """
    if event.true_tstamp is not None:
        event.derived_tstamp = event.true_tstamp
        return
    if collector_ms is None or event.collector_tstamp is None:
        return
    derived_ms = collector_ms
    if event.dvce_sent_tstamp is not None and event.dvce_created_tstamp is not None:
        sent_ms = parse_java_long(parameters["stm"])
        created_ms = parse_java_long(parameters["dtm"])
        if sent_ms is not None and created_ms is not None and created_ms < sent_ms:
            derived_ms = collector_ms - (sent_ms - created_ms)
    event.derived_tstamp = format_timestamp(derived_ms)


def _page_uri(
    event: EnrichedEvent, collector_referer: str | None
) -> tuple[JavaUri | None, str | None]:
    """The tracker's ``url`` wins over the collector's Referer header as the page URL."""
    source = event.page_url if event.page_url is not None else collector_referer
    if source is None:
        return None, None
    try:
        uri = string_to_uri(source)
    except UriSyntaxError as error:
        return None, str(error)
    columns = vars(event)
    columns["page_url"] = uri.text
    columns.update(_part_columns(uri, _PAGE_PARTS))
    return uri, None


def _set_referer(event: EnrichedEvent, registry: EnrichmentRegistry) -> list[str]:
    if event.page_referrer is None:
        return []
    try:
        uri = string_to_uri(event.page_referrer)
    except UriSyntaxError as error:
        return [str(error)]
    vars(event).update(_part_columns(uri, _REFERER_PARTS))
    return _call(registry.referer_parser, "enrich", event)


_PAGE_PARTS = tuple(
    f"page_url{part}" for part in ("scheme", "host", "port", "path", "query", "fragment")
)
_REFERER_PARTS = tuple(
    f"refr_url{part}" for part in ("scheme", "host", "port", "path", "query", "fragment")
)


@functools.lru_cache(maxsize=_CACHE_LIMIT)
def _part_columns(uri: JavaUri, names: tuple[str, ...]) -> dict[str, str]:
    """The URL part columns that have a value, by column name: unset columns already read as
    None, and an event with no None values serialises on ``to_tsv``'s fast path. Cached, because
    a visitor's events share their page and referer; the dict is only ever read."""
    return {name: part for name, part in zip(names, _explode(uri), strict=True) if part is not None}


def _explode(
    uri: JavaUri,
) -> tuple[str | None, str | None, str, str | None, str | None, str | None]:
    """Scheme, host, port (80, or 443 for https, when the URI has none) and the raw path,
    query and fragment made TSV-safe."""
    port = uri.port
    if port == -1:
        port = 443 if uri.scheme == "https" else 80
    return (
        uri.scheme,
        uri.host,
        str(port),
        tsv_safe(uri.raw_path),
        tsv_safe(uri.raw_query),
        tsv_safe(uri.raw_fragment),
    )


def _set_cross_domain(event: EnrichedEvent, page_query: dict[str, str | None]) -> str | None:
    """``_sp=<domain_userid>.<ms>``, added to links by the JavaScript tracker's cross-domain
    linker, names the visitor and the click time on the referring site."""
    linker = page_query.get("_sp")
    if not linker:
        return None
    parts = java_split(linker, ".")
    if not parts:
        return None
    tstamp = None
    if len(parts) > 1:
        try:
            tstamp = extract_timestamp("sp_dtm", parts[1])
        except FieldError as error:
            return error.message
    event.refr_domain_userid = tsv_safe(parts[0])
    event.refr_dvce_tstamp = tstamp
    return None


def _check_contexts(contexts: Any, validator: SchemaValidator | None) -> list[str]:
    if contexts is None:
        return []
    _, errors = check_self_describing(contexts, expected=_CONTEXTS)
    if errors:
        return errors
    items = contexts["data"]
    if not isinstance(items, list):
        return [
            f"instance type ({_json_type(items)}) does not match any allowed primitive type "
            '(allowed: ["array"])'
        ]
    return [
        message for item in items for message in check_self_describing(item, validator=validator)[1]
    ]


def _check_unstruct(
    unstruct: Any, validator: SchemaValidator | None
) -> tuple[SchemaKey | None, list[str]]:
    """The inner event's schema key (None unless the envelope and the event are valid)."""
    if unstruct is None:
        return None, []
    _, errors = check_self_describing(unstruct, expected=_UNSTRUCT)
    if errors:
        return None, errors
    key, errors = check_self_describing(unstruct["data"], validator=validator)
    return (None if errors else key), errors


def _set_event_schema(event: EnrichedEvent, unstruct_key: SchemaKey | None) -> str | None:
    kind = event.event
    schema = _EVENT_SCHEMAS.get(kind)  # type: ignore[arg-type]
    if schema is None:
        if kind != "unstruct":
            return f"Unrecognized event [{'null' if kind is None else kind}]"
        if unstruct_key is None:
            return "Unstructured event couldn't be extracted"
        schema = (unstruct_key.vendor, unstruct_key.name, unstruct_key.format, unstruct_key.version)
    event.event_vendor, event.event_name, event.event_format, event.event_version = schema
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null"
