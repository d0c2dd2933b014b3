"""Tracker-protocol parameters to enriched-event columns: Scala Common Enrich's ``transformMap``.

Every parameter the tracker protocol defines has one rule: a converter and the column(s) it
fills. The converters copy the Java behaviour Snowplow users' data was shaped by
(``conversions`` for numbers and timestamps, ``jackson`` for JSON, commons-codec's lenient
Base64 from ``querystring.decode_base64url``). Each converter raises ``FieldError`` with the
message Scala Common Enrich 0.37 gives; failures are collected, never short-circuited.

This runs for every parameter of every event, so the table is a dict lookup, plain strings take
the ``tsv_safe`` fast path, and the converters call module-level functions directly.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from snowplow_dagster.enrich.conversions import (
    FieldError,
    format_timestamp,
    is_redshift_compatible,
    parse_java_integer,
    parse_java_long,
    plain_decimal,
)
from snowplow_dagster.enrich.enrichments.tsv import tsv_safe
from snowplow_dagster.enrich.event import EnrichedEvent
from snowplow_dagster.enrich.jackson import reformat_json
from snowplow_dagster.enrich.querystring import decode_base64url


class Transformed(NamedTuple):
    """What applying the parameters produced besides the columns themselves."""

    errors: list[str]
    parsed_json: dict[str, Any]
    """Column name (``contexts``, ``unstruct_event``) to the parsed JSON written there, so the
    envelope checks do not parse the column text a second time."""


# --- converters: (parameter name, raw value) -> column value, or FieldError ------------------


_IP_SEPARATOR = re.compile(r"[,| ]")


def first_ip(value: str | None) -> str | None:
    """The first entry of an X-Forwarded-For-like list (split on comma, pipe or space)."""
    if value is None:
        return None
    match = _IP_SEPARATOR.search(value)
    return tsv_safe(value[: match.start()] if match else value)


def _ip(_: str, value: str | None) -> str | None:
    return first_ip(value)


_EVENT_TYPES = {
    "se": "struct",
    "ev": "struct",
    "ue": "unstruct",
    "ad": "ad_impression",
    "tr": "transaction",
    "ti": "transaction_item",
    "pv": "page_view",
    "pp": "page_ping",
}


def _shown(value: str | None) -> str:
    """A value as Java's string formatting shows it in an error message."""
    return "null" if value is None else value


def _event_type(field: str, value: str | None) -> str:
    event = _EVENT_TYPES.get(value)  # type: ignore[arg-type]
    if event is None:
        raise FieldError(f"Field [{field}]: [{_shown(value)}] is not a recognised event code")
    return event


_PLATFORMS = frozenset(("web", "iot", "app", "mob", "pc", "cnsl", "tv", "srv"))


def _platform(field: str, value: str | None) -> str:
    if value not in _PLATFORMS:
        raise FieldError(f"Field [{field}]: [{_shown(value)}] is not a supported tracking platform")
    return value  # type: ignore[return-value]


def _validated_integer(field: str, value: str | None) -> str:
    """``tid``: must parse as an Int, but the tracker's own text is kept (``028288``)."""
    if parse_java_integer(value) is None:
        raise FieldError(f"Field [{field}]: [{_shown(value)}] is not a valid integer")
    return value  # type: ignore[return-value]


def _integer(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    number = parse_java_integer(value)
    if number is None:
        raise FieldError(f"Field [{field}]: cannot convert [{value}] to Int")
    return str(number)


def _decimal(field: str, value: str | None) -> str | None:
    if value is None or value == "null":  # "null": a legacy JavaScript tracker bug
        return None
    plain = plain_decimal(value)
    if plain is None:
        raise FieldError(f"Field [{field}]: cannot convert [{value}] to Double-like String")
    return plain


def _jbyte(field: str, value: str | None) -> str:
    if value != "1" and value != "0":
        raise FieldError(f"Field [{field}]: cannot convert [{_shown(value)}] to Boolean-like JByte")
    return value


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid(field: str, value: str | None) -> str:
    """Only the canonical 8-4-4-4-12 form: ``UUID.fromString`` plus a round-trip check."""
    lowered = value.lower() if value is not None else None
    if lowered is None or not _UUID.fullmatch(lowered):
        raise FieldError(f"Field [{field}]: [{_shown(value)}] is not a valid UUID")
    return lowered


def extract_timestamp(field: str, value: str | None) -> str:
    """A tracker timestamp (ms since epoch) as column text; years outside 0-9999 are refused."""
    if value is not None and len(value) < 16 and value.isascii() and value.isdigit():
        ms: int | None = int(value)  # the usual text: a plain ms count, in range by its length
    else:
        ms = parse_java_long(value)
    if ms is None:
        raise FieldError(
            f"Field [{field}]: [{_shown(value)}] is not in the expected format (ms since epoch)"
        )
    text = format_timestamp(ms)
    if not is_redshift_compatible(text):
        raise FieldError(
            f"Field [{field}]: [{value}] is formatted as [{text}] which isn't Redshift-compatible"
        )
    return text


# Screen, viewport and document sizes repeat across a visitor's events: three per event.
@functools.lru_cache(maxsize=4096)
def _dimensions(field: str, value: str | None) -> tuple[str, str]:
    """``WxH`` (ASCII digits, as Java's ``\\d``) into two Int columns."""
    width, separator, height = (value or "").partition("x")
    if not (
        separator and width.isdigit() and height.isdigit() and width.isascii() and height.isascii()
    ):
        raise FieldError(
            f"Field [{field}]: [{_shown(value)}] does not contain valid view dimensions"
        )
    width_number, height_number = parse_java_integer(width), parse_java_integer(height)
    if width_number is None or height_number is None:  # ASCII digits: too large for an Int
        raise FieldError(f"Field [{field}]: view dimensions [{value}] exceed Integer's max range")
    return str(width_number), str(height_number)


# Contexts repeat from event to event (every event of a page view carries the same web page
# entity), so recent results are kept (errors are not: an exception is never cached). The parsed
# values are only ever read, never changed.
@functools.lru_cache(maxsize=2048)
def _json(field: str, value: str | None) -> tuple[str, Any]:
    if value is None:  # Java dies on a null there (an NPE, so an unexpected-error bad row);
        # reporting it as this field's error keeps the rest of the event's messages.
        raise FieldError(f"Field [{field}]: invalid JSON [null] with parsing error: null")
    return reformat_json(field, value)


@functools.lru_cache(maxsize=2048)
def _base64_json(field: str, value: str | None) -> tuple[str, Any]:
    if value is None:  # commons-codec hands back null, and new String(null) throws
        raise FieldError(
            f"Field [{field}]: exception Base64-decoding [null] (URL-safe encoding): [null]"
        )
    return reformat_json(field, decode_base64url(value))


# --- the table -------------------------------------------------------------------------------

# How a rule's result lands in the event. _TEXT (TSV-safe text, most parameters) and _FLAG (a
# valid 1/0) are handled inline: this loop runs for every parameter of every event.
_TEXT, _FLAG, _ONE, _TWO, _JSON_COLUMN = 0, 1, 2, 3, 4

Converter = Callable[[str, str | None], Any]

_RULES: dict[str, tuple[Converter | None, Any, int]] = {
    "e": (_event_type, "event", _ONE),
    "ip": (_ip, "user_ipaddress", _ONE),
    "aid": (None, "app_id", _TEXT),
    "p": (_platform, "platform", _ONE),
    "tid": (_validated_integer, "txn_id", _ONE),
    "uid": (None, "user_id", _TEXT),
    "duid": (None, "domain_userid", _TEXT),
    "nuid": (None, "network_userid", _TEXT),
    "ua": (None, "useragent", _TEXT),
    "fp": (None, "user_fingerprint", _TEXT),
    "vid": (_integer, "domain_sessionidx", _ONE),
    "sid": (_uuid, "domain_sessionid", _ONE),
    "dtm": (extract_timestamp, "dvce_created_tstamp", _ONE),
    "ttm": (extract_timestamp, "true_tstamp", _ONE),
    "stm": (extract_timestamp, "dvce_sent_tstamp", _ONE),
    "tna": (None, "name_tracker", _TEXT),
    "tv": (None, "v_tracker", _TEXT),
    "cv": (None, "v_collector", _TEXT),
    "lang": (None, "br_lang", _TEXT),
    "f_pdf": (_jbyte, "br_features_pdf", _FLAG),
    "f_fla": (_jbyte, "br_features_flash", _FLAG),
    "f_java": (_jbyte, "br_features_java", _FLAG),
    "f_dir": (_jbyte, "br_features_director", _FLAG),
    "f_qt": (_jbyte, "br_features_quicktime", _FLAG),
    "f_realp": (_jbyte, "br_features_realplayer", _FLAG),
    "f_wma": (_jbyte, "br_features_windowsmedia", _FLAG),
    "f_gears": (_jbyte, "br_features_gears", _FLAG),
    "f_ag": (_jbyte, "br_features_silverlight", _FLAG),
    "cookie": (_jbyte, "br_cookies", _FLAG),
    "res": (_dimensions, ("dvce_screenwidth", "dvce_screenheight"), _TWO),
    "cd": (None, "br_colordepth", _TEXT),
    "tz": (None, "os_timezone", _TEXT),
    "refr": (None, "page_referrer", _TEXT),
    "url": (None, "page_url", _TEXT),
    "page": (None, "page_title", _TEXT),
    "cs": (None, "doc_charset", _TEXT),
    "ds": (_dimensions, ("doc_width", "doc_height"), _TWO),
    "vp": (_dimensions, ("br_viewwidth", "br_viewheight"), _TWO),
    "eid": (_uuid, "event_id", _ONE),
    "co": (_json, "contexts", _JSON_COLUMN),
    "cx": (_base64_json, "contexts", _JSON_COLUMN),
    "ev_ca": (None, "se_category", _TEXT),
    "ev_ac": (None, "se_action", _TEXT),
    "ev_la": (None, "se_label", _TEXT),
    "ev_pr": (None, "se_property", _TEXT),
    "ev_va": (_decimal, "se_value", _ONE),
    "se_ca": (None, "se_category", _TEXT),
    "se_ac": (None, "se_action", _TEXT),
    "se_la": (None, "se_label", _TEXT),
    "se_pr": (None, "se_property", _TEXT),
    "se_va": (_decimal, "se_value", _ONE),
    "ue_pr": (_json, "unstruct_event", _JSON_COLUMN),
    "ue_px": (_base64_json, "unstruct_event", _JSON_COLUMN),
    "tr_id": (None, "tr_orderid", _TEXT),
    "tr_af": (None, "tr_affiliation", _TEXT),
    "tr_tt": (_decimal, "tr_total", _ONE),
    "tr_tx": (_decimal, "tr_tax", _ONE),
    "tr_sh": (_decimal, "tr_shipping", _ONE),
    "tr_ci": (None, "tr_city", _TEXT),
    "tr_st": (None, "tr_state", _TEXT),
    "tr_co": (None, "tr_country", _TEXT),
    "ti_id": (None, "ti_orderid", _TEXT),
    "ti_sk": (None, "ti_sku", _TEXT),
    "ti_na": (None, "ti_name", _TEXT),
    "ti_nm": (None, "ti_name", _TEXT),
    "ti_ca": (None, "ti_category", _TEXT),
    "ti_pr": (_decimal, "ti_price", _ONE),
    "ti_qu": (_integer, "ti_quantity", _ONE),
    "pp_mix": (_integer, "pp_xoffset_min", _ONE),
    "pp_max": (_integer, "pp_xoffset_max", _ONE),
    "pp_miy": (_integer, "pp_yoffset_min", _ONE),
    "pp_may": (_integer, "pp_yoffset_max", _ONE),
    "tr_cu": (None, "tr_currency", _TEXT),
    "ti_cu": (None, "ti_currency", _TEXT),
}


def transform_parameters(event: EnrichedEvent, parameters: dict[str, str | None]) -> Transformed:
    """Fill ``event`` from the raw parameters; a failing parameter leaves its column(s) unset.

    Parameters are applied in the map's order, so when two parameters feed one column (``co`` and
    ``cx``, ``se_ca`` and ``ev_ca``) the later wins. ``tnuid`` is applied last so it overrides
    ``nuid``, as Snowplow's second pass does.
    """
    columns = vars(event)
    errors: list[str] = []
    parsed_json: dict[str, Any] = {}
    rules = _RULES
    for name, value in parameters.items():
        rule = rules.get(name)
        if rule is None:
            continue
        convert, target, kind = rule
        if kind == _TEXT:
            columns[target] = value if value and value.isprintable() else tsv_safe(value)
            continue
        if kind == _FLAG and (value == "1" or value == "0"):
            columns[target] = value
            continue
        try:
            converted = convert(name, value)  # type: ignore[misc]
        except FieldError as error:
            errors.append(error.message)
            continue
        if kind == _TWO:
            columns[target[0]], columns[target[1]] = converted
        elif kind == _JSON_COLUMN:
            columns[target], parsed_json[target] = converted
        else:
            columns[target] = converted
    if "tnuid" in parameters:
        columns["network_userid"] = tsv_safe(parameters["tnuid"])
    return Transformed(errors, parsed_json)
