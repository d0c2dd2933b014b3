"""Tracker-protocol parameters to enriched-event columns: Scala Common Enrich's ``transformMap``.

Every parameter the tracker protocol defines has one rule: a converter and the column(s) it
fills. The converters copy the Java behaviour Snowplow users' data was shaped by, because the
output is loaded next to years of Spark Enrich output and bad rows are matched on their texts:
``Integer.parseInt`` and ``new BigDecimal(s).toPlainString`` for numbers, Joda for timestamps,
commons-codec's lenient Base64 (``querystring.decode_base64url``), Jackson for JSON (first
value read, rest ignored, floats printed by ``Double.toString``). Each converter raises
``FieldError`` with the message Scala Common Enrich 0.37 gives; failures are collected, never
short-circuited.

This runs for every parameter of every event, so the table is a dict lookup, plain strings take
the ``tsv_safe`` fast path, and timestamps are formatted from a per-second cache.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from itertools import accumulate
from typing import Any, NamedTuple

from snowplow_dagster.enrich.enrichments.tsv import tsv_safe
from snowplow_dagster.enrich.event import EnrichedEvent
from snowplow_dagster.enrich.payload import abbreviate
from snowplow_dagster.enrich.querystring import decode_base64url

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


class FieldError(Exception):
    """One parameter that cannot be converted; ``message`` is the bad-row text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Transformed(NamedTuple):
    """What applying the parameters produced besides the columns themselves."""

    errors: list[str]
    parsed_json: dict[str, Any]
    """Column name (``contexts``, ``unstruct_event``) to the parsed JSON written there, so the
    envelope checks do not parse the column text a second time."""


# --- timestamps ------------------------------------------------------------------------------

_SECOND_TEXTS: dict[int, str] = {}
_SECOND_CACHE_LIMIT = 200_000


def format_timestamp(ms: int) -> str:
    """``yyyy-MM-dd HH:mm:ss.SSS`` in UTC, as Joda prints it (also for years outside 0-9999).

    Events of a batch share their seconds, so the text up to the second is cached.
    """
    seconds, millis = divmod(ms, 1000)
    text = _SECOND_TEXTS.get(seconds)
    if text is None:
        text = _format_second(seconds)
    return f"{text}.{millis:03d}"


def is_redshift_compatible(timestamp: str) -> bool:
    """Whether a ``format_timestamp`` text has a year in 0-9999, the range Redshift loads."""
    return len(timestamp) == 23


def _format_second(seconds: int) -> str:
    days, second_of_day = divmod(seconds, 86400)
    hour, rest = divmod(second_of_day, 3600)
    minute, second = divmod(rest, 60)
    year, month, day = _civil_from_days(days)
    year_text = f"{year:04d}" if year >= 0 else f"-{-year:04d}"
    text = f"{year_text}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"
    if len(_SECOND_TEXTS) >= _SECOND_CACHE_LIMIT:
        _SECOND_TEXTS.clear()
    _SECOND_TEXTS[seconds] = text
    return text


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian date of a day count from 1970-01-01 (year 0 and BC included, as Joda;
    ``datetime`` stops at year 1)."""
    shifted = days + 719468
    era = shifted // 146097
    day_of_era = shifted - era * 146097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    return year_of_era + era * 400 + (month <= 2), month, day


# --- Java strings ----------------------------------------------------------------------------


def java_split(value: str, separator: str | re.Pattern[str]) -> list[str]:
    """``String.split`` with limit 0 (``separator`` a literal or a regex): trailing empty
    strings are removed, so ``"a.."`` gives ``["a"]`` and ``"."`` gives ``[]``, but ``""``
    stays ``[""]``."""
    parts = separator.split(value) if isinstance(separator, re.Pattern) else value.split(separator)
    if len(parts) > 1:
        while parts and not parts[-1]:
            parts.pop()
    return parts


# --- Java number parsing ---------------------------------------------------------------------


_LONGEST_NUMBER = 20
"""More characters than any in-range ``long`` has (sign and 19 digits), leading zeros aside."""


def parse_java_integer(text: str | None, low: int = _INT_MIN, high: int = _INT_MAX) -> int | None:
    """``Integer.parseInt`` / ``Long.parseLong``: sign and (Unicode) digits only, no spaces or
    underscores, in range; None when Java would throw ``NumberFormatException``."""
    if text is None or "_" in text or text.strip() != text:
        return None
    if len(text) > _LONGEST_NUMBER:  # Java allows any number of leading zeros; int() does not
        sign = text[0] if text[0] in "+-" else ""
        text = sign + (text[len(sign) :].lstrip("0") or "0")
        if len(text) > _LONGEST_NUMBER:
            return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def parse_java_long(text: str | None) -> int | None:
    """``Long.parseLong``, or None where it throws."""
    return parse_java_integer(text, _LONG_MIN, _LONG_MAX)


# ``\d+\.?\d*`` written so that no two runs of digits can share one: the plain form backtracks
# through every split of a long digit run, quadratic in its length.
_BIG_DECIMAL = re.compile(r"[+-]?(?:\d++(?:\.\d*+)?|\.\d++)(?:[eE][+-]?\d++)?")
_MAX_PLAIN_EXPONENT = 10_000


def _plain_decimal(text: str) -> str | None:
    """``new BigDecimal(text).toPlainString()``, or None where the constructor throws.

    Exponents beyond 10,000 are refused too: Java would spell ``1E999999999`` out in a gigabyte
    of zeros and run out of memory, which would take the whole worker down.
    """
    if not _BIG_DECIMAL.fullmatch(text):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:  # an exponent beyond what Decimal (and BigDecimal's int) can hold
        return None
    if abs(value.adjusted()) > _MAX_PLAIN_EXPONENT:
        return None
    plain = format(value, "f")
    return plain[1:] if plain[0] == "-" and not value else plain  # BigDecimal has no -0


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
    plain = _plain_decimal(value)
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
    return _JSON.reformat(field, value)


@functools.lru_cache(maxsize=2048)
def _base64_json(field: str, value: str | None) -> tuple[str, Any]:
    if value is None:  # commons-codec hands back null, and new String(null) throws
        raise FieldError(
            f"Field [{field}]: exception Base64-decoding [null] (URL-safe encoding): [null]"
        )
    return _JSON.reformat(field, decode_base64url(value))


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


# --- JSON (Jackson readTree, compact re-serialisation) ----------------------------------------

compact_json: Callable[[Any], str] = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":")
).encode
"""Compact JSON with non-ASCII text kept, as Snowplow's Jackson and json4s writers print it."""

MAX_JSON_DEPTH = 1000
"""How deep JSON may nest (``co``, ``cx``, ``ue_pr``, ``ue_px``, request bodies): Jackson's
default ``maxNestingDepth`` since 2.15.

Snowplow's Jackson 2.6 had no limit, and a deep enough document overflowed the JVM's stack. Real
contexts nest a few levels, so 1000 refuses nothing real, and it bounds how deep the recursive
parsers, writers and walkers here (Python's C ``json`` included) ever go."""

_RECURSION_LIMIT = 5 * MAX_JSON_DEPTH
_JSON_WHITESPACE = " \t\n\r"
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.S)
_JSON_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]++|\\.)*+"?|[\[\]{}]', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_NESTING_TOO_DEEP = (
    f"Document nesting depth ({MAX_JSON_DEPTH + 1}) exceeds the maximum allowed "
    f"({MAX_JSON_DEPTH}, from `StreamReadConstraints.getMaxNestingDepth()`)"
)
_LOWER_HEX_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u00([01][0-9a-f])")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_INSTANCE_ID = re.compile(r"@[0-9a-z]+;")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def allow_json_depth() -> None:
    """Raise this process's recursion limit so that JSON ``MAX_JSON_DEPTH`` deep can be parsed,
    written and walked.

    Python counts each level of its C JSON parser and writer against the limit, and its default
    (1000) is below the depth itself. Deeper JSON is refused before it is parsed
    (``json_depth_error``), so recursion stays bounded by the data.
    """
    if sys.getrecursionlimit() < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)


def json_depth_error(text: str, start: int) -> tuple[str, int] | None:
    """Jackson's message, and how far it read, when the JSON value at ``start`` nests deeper
    than ``MAX_JSON_DEPTH``; None otherwise.

    Linear, and only two C-level counts for the usual text, with fewer brackets than the limit.
    Brackets inside strings do not count, and neither do any after the first value.
    """
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return None
    if not text.startswith(("[", "{"), start):  # a scalar first value
        return None
    # Depth after each bracket, in C-level passes; then, only for a bad row, where it went over.
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text[start:]))
    depths = list(accumulate(map(_DEPTH_STEP.__getitem__, brackets)))
    end = depths.index(0) if 0 in depths else len(depths)  # where the first value closes
    if max(depths[:end], default=0) <= MAX_JSON_DEPTH:
        return None
    depth, pointer = 0, len(text)
    for token in _JSON_STRING_OR_BRACKET.finditer(text, start):
        depth += _DEPTH_STEP.get(token[0], 0)
        if depth > MAX_JSON_DEPTH:
            pointer = token.end()
            break
    return _NESTING_TOO_DEEP, pointer


class _NonStandardNumber(ValueError):
    """``NaN``/``Infinity``: Python's json reads them, Jackson refuses them by default."""


class _JacksonJson:
    """Reads and re-writes JSON the way Scala Common Enrich's Jackson-based ``JsonUtils`` did.

    Floats are written by ``Double.toString``, which differs from Python's ``repr`` only below
    1e-3 or from 1e7 up; the float hook notes whether such a value was read, so the common case
    is one C-level ``loads`` and one ``dumps``. That note is instance state: one reader per
    thread (Spark's Python workers are single-threaded).
    """

    def __init__(self) -> None:
        self._unusual_float = False
        self._decoder = json.JSONDecoder(parse_float=self._float, parse_constant=self._non_standard)

    def _float(self, text: str) -> float:
        value = float(text)
        if value and not 1e-3 <= abs(value) < 1e7:
            self._unusual_float = True
        return value

    @staticmethod
    def _non_standard(name: str) -> float:
        raise _NonStandardNumber(name)

    def reformat(self, field: str, text: str) -> tuple[str, Any]:
        """Compact JSON text and the parsed value; ``FieldError`` with Jackson's message."""
        start = len(text) - len(text.lstrip(_JSON_WHITESPACE))
        if start == len(text):  # Jackson reports this one at the token start, (1, 1)
            message = "No content to map due to end-of-input"
            raise FieldError(_invalid_json(field, text, message, (1, 1)))
        too_deep = json_depth_error(text, start)
        if too_deep is not None:
            message, pointer = too_deep
            raise FieldError(_invalid_json(field, text, message, _jackson_location(text, pointer)))
        self._unusual_float = False
        try:
            value, _ = self._decoder.raw_decode(text, start)
        except json.JSONDecodeError as error:
            message, pointer = _jackson_error(text, error)
            location = _jackson_location(text, pointer)
            raise FieldError(_invalid_json(field, text, message, location)) from None
        except _NonStandardNumber as error:
            name = str(error)
            message = (
                f"Non-standard token '{name}': enable JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS"
                " to allow"
            )
            location = _jackson_location(text, max(text.find(name), 0) + len(name))
            raise FieldError(_invalid_json(field, text, message, location)) from None
        except ValueError:  # an integer longer than int() reads (Jackson 2.15 also has a limit)
            limit = sys.get_int_max_str_digits()
            message = f"Number value length exceeds the maximum allowed ({limit} digits)"
            number = re.search(f"(?<![0-9])[0-9]{{{limit + 1}}}", text)  # from a run's start
            location = _jackson_location(text, number.end() if number else start)
            raise FieldError(_invalid_json(field, text, message, location)) from None
        compact = _java_json(value) if self._unusual_float else compact_json(value)
        if "\\u00" in compact:
            compact = _LOWER_HEX_ESCAPE.sub(lambda m: m[1] + "\\u00" + m[2].upper(), compact)
        if "\\u" in text and _SURROGATE.search(compact):
            compact = _SURROGATE.sub("?", compact)  # what Java's UTF-8 encoder writes for them
        return compact, value


_JSON = _JacksonJson()


def _java_json(value: Any) -> str:
    """Compact JSON with floats as Java's ``Double.toString`` and Jackson's writer print them."""
    if isinstance(value, dict):
        items = (f"{compact_json(key)}:{_java_json(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_java_json(item) for item in value) + "]"
    if isinstance(value, float):
        return java_double(value)
    return compact_json(value)


def java_double(value: float) -> str:
    """``Double.toString`` (shortest digits; plain from 1e-3 to 1e7, else ``d.dddE±n``), with
    infinities quoted as Jackson's ``QUOTE_NON_NUMERIC_NUMBERS`` writes them."""
    if math.isinf(value):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if not value:
        return sign + "0.0"
    mantissa, _, exponent_text = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    if whole == "0":  # 0.000ddd: the exponent comes from the leading zeros
        significant = fraction.lstrip("0")
        exponent = int(exponent_text or 0) - (len(fraction) - len(significant)) - 1
    else:
        significant = whole + fraction
        exponent = int(exponent_text or 0) + len(whole) - 1
    digits = significant.rstrip("0") or "0"
    if -3 <= exponent < 7:
        if exponent < 0:
            return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
        integral = digits[: exponent + 1].ljust(exponent + 1, "0")
        return f"{sign}{integral}.{digits[exponent + 1 :] or '0'}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _invalid_json(field: str, text: str, message: str, location: tuple[int, int]) -> str:
    """Scala Common Enrich's text: the Jackson message with its location, cleaned as
    ``stripInstanceEtc`` does (control characters dropped, tabs as spaces, trimmed); a long text
    is quoted abbreviated, so that the message still shows what is wrong."""
    line, column = location
    text = abbreviate(text)
    detail = f"{message}\n at [Source: {text}; line: {line}, column: {column}]"
    detail = _CONTROL.sub("", _INSTANCE_ID.sub("@xxxxxx;", detail).replace("\t", "    "))
    return f"Field [{field}]: invalid JSON [{text}] with parsing error: {detail.strip(' ')}"


def _jackson_location(text: str, pointer: int) -> tuple[int, int]:
    """Jackson's (line, column) once it has read ``text[:pointer]``."""
    head = text[:pointer].replace("\r\n", "\n").replace("\r", "\n")
    line_start = head.rfind("\n") + 1
    return head.count("\n") + 1, len(head) - line_start + 1


def _jackson_error(text: str, error: json.JSONDecodeError) -> tuple[str, int]:
    """Jackson 2.6's message for the first syntax error Python's decoder found, and how far
    Jackson had read (the location it reports). Covers the errors trackers actually produce."""
    reason, position, length = error.msg, error.pos, len(text)
    if reason.startswith("Illegal trailing comma"):  # Python 3.13+: report what follows
        position = _skip_whitespace(text, position + 1)
        reason = "Expecting value" if reason.endswith("array") else "Expecting property name"
    if reason.startswith("Unterminated string"):
        return "Unexpected end-of-input: was expecting closing quote for a string value", length
    if position >= length:
        kind, opened = (_open_containers(text, length) or [("ROOT", 0)])[-1]
        return (
            f"Unexpected end-of-input: expected close marker for {kind} (from [Source: {text}; "
            f"line: 1, column: {opened}])",
            length,
        )
    char = text[position]
    if reason.startswith("Invalid \\escape"):
        return (
            f"Unrecognized character escape {_char_description(text[position + 1])}",
            position + 2,
        )
    if reason.startswith("Invalid \\uXXXX"):
        bad = next((i for i in range(position + 2, position + 6) if text[i] not in _HEX), position)
        comment = "expected a hex-digit for character escape sequence"
        return f"Unexpected character ({_char_description(text[bad])}): {comment}", bad + 1
    if reason.startswith("Invalid control character"):
        description = _char_description(char)
        comment = "has to be escaped using backslash to be included in string value"
        return f"Illegal unquoted character ({description}): {comment}", position + 1
    if reason.startswith("Expecting value"):
        if _is_identifier_start(char):
            end = position + 1
            while end < length and end - position < 256 and _is_identifier_part(text[end]):
                end += 1
            expected = (
                "'null', 'true', 'false' or NaN" if char in "tfn" else "('true', 'false' or 'null')"
            )
            return f"Unrecognized token '{text[position:end]}': was expecting {expected}", end
        if char == "-" and position + 1 < length:
            comment = "expected digit (0-9) to follow minus sign, for valid numeric value"
            following = _char_description(text[position + 1])
            return f"Unexpected character ({following}) in numeric value: {comment}", position + 2
        comment = (
            "expected a valid value (number, String, array, object, 'true', 'false' or 'null')"
        )
    elif reason.startswith("Expecting property name"):
        comment = "was expecting double-quote to start field name"
    elif reason.startswith("Expecting ':'"):
        comment = "was expecting a colon to separate field name and value"
    elif reason.startswith("Expecting ','"):
        kind = (_open_containers(text, position) or [("ARRAY", 0)])[-1][0]
        comment = f"was expecting comma to separate {kind} entries"
    else:
        return reason, position + 1
    return f"Unexpected character ({_char_description(char)}): {comment}", position + 1


_HEX = frozenset("0123456789abcdefABCDEF")


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in _JSON_WHITESPACE:
        position += 1
    return position


def _open_containers(text: str, end: int) -> list[tuple[str, int]]:
    """The arrays/objects still open at ``end``: (``ARRAY``/``OBJECT``, column of the bracket)."""
    stack: list[tuple[str, int]] = []
    in_string = escaped = False
    for index in range(end):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(("ARRAY" if char == "[" else "OBJECT", index))
        elif char in "]}" and stack:
            stack.pop()
    return stack


def _char_description(char: str) -> str:
    """Jackson's ``_getCharDesc``."""
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"(CTRL-CHAR, code {code})"
    if code > 255:
        return f"'{char}' (code {code} / 0x{code:x})"
    return f"'{char}' (code {code})"


def _is_identifier_start(char: str) -> bool:
    return char.isidentifier() or char == "$"


def _is_identifier_part(char: str) -> bool:
    return ("a" + char).isidentifier() or char == "$"
