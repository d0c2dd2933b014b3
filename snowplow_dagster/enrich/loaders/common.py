"""Field rules every loader shares: hyphens, the request path's API, and the log timestamp.

Timestamps are parsed the way Joda-Time's ``DateTime.parse`` (ISO ``dateTimeParser``) does, as
Scala Common Enrich did, because which lines are bad rows, and their messages, follow from it:
Joda accepts ``2012-5-4`` or ``7:14`` and rejects ``24:00:00``. A fast path covers the usual
``yyyy-MM-dd`` / ``HH:mm:ss[.SSS]``; anything else goes through a small port of the grammar.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from snowplow_dagster.enrich.payload import CollectorApi, ProcessingError
from snowplow_dagster.enrich.querystring import parse_querystring

TP1 = CollectorApi("com.snowplowanalytics.snowplow", "tp1")
"""The API of legacy ``/i`` and ``/ice.png`` requests, which predate vendor/version paths."""

_API_PATH = re.compile("/?([^/]+)/([^/]+)/?")

# Java's default \s and \S for the log-line regexes: Python's also match Unicode spaces.
# The runs are possessive (never give characters back). A run of one class is always followed by
# the other class or the end, so Java's backtracking into them can never make a match, only
# spend time: with plain ``+``, two adjacent runs (an empty optional field between) try every
# split of a long whitespace run, which is quadratic in its length.
JAVA_WHITESPACE = r"[ \t\n\x0b\f\r]"
JAVA_WHITESPACE_RUN = r"[ \t\n\x0b\f\r]++"
JAVA_TOKEN = r"[^ \t\n\x0b\f\r]++"
"""A run of (Java) non-whitespace: one log field."""


def split_on_single_tabs(line: str) -> list[str] | None:
    """The fields of a line whose only (Java) whitespace is single tabs between fields.

    For such a line, the loaders' whitespace-run regexes would capture exactly these fields, so
    a plain split is a safe fast path; any other line (None) goes through the regexes.
    """
    if (
        "\t\t" in line
        or line.startswith("\t")
        or line.endswith("\t")
        or " " in line  # Java's other whitespace, tested one by one: C-level scans, no generator
        or "\n" in line
        or "\r" in line
        or "\x0b" in line
        or "\f" in line
    ):
        return None
    return line.split("\t")


def to_option(field: str) -> str | None:
    """A log field, or None for the ``-`` or empty value that means absent."""
    return None if field == "-" or not field else field


@lru_cache(maxsize=256)
def parse_api(path: str) -> CollectorApi:
    """The (vendor, version) a request path addresses: ``/vendor/version`` or a legacy pixel."""
    match = _API_PATH.fullmatch(path)
    if match is not None:
        return CollectorApi(match[1], match[2])
    if path.startswith(("/ice.png", "/i?")) or path == "/i":
        return TP1
    raise ProcessingError(
        f"Request path {path} does not match (/)vendor/version(/) pattern "
        "nor is a legacy /i(ce.png) request"
    )


def read_request(
    date: str, time: str, qs: str, path: str, errors: list[str]
) -> tuple[int, dict[str, str | None], CollectorApi]:
    """Timestamp, querystring parameters and API of a log line.

    Each failure is appended to ``errors`` instead of raised, because Scala Common Enrich
    reports all of a line's errors at once; the values are only meaningful without errors.
    """
    timestamp, querystring, api = 0, {}, TP1
    try:
        timestamp = parse_timestamp_ms(date, time)
    except ValueError as e:
        errors.append(
            f"Unexpected exception converting date [{date}] and time [{time}] to timestamp: [{e}]"
        )
    try:
        querystring = parse_querystring(to_option(qs))
    except ProcessingError as e:
        errors.extend(e.messages)
    try:
        api = parse_api(path)
    except ProcessingError as e:
        errors.extend(e.messages)
    return timestamp, querystring, api


_FAST_DATE = re.compile("([0-9]{4})-([0-9]{2})-([0-9]{2})")
_FAST_TIME = re.compile("([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]{1,9}))?")
_DAY_MS = 86_400_000


@lru_cache(maxsize=4096)
def parse_timestamp_ms(date: str, time: str) -> int:
    """Milliseconds since the epoch of ``<date>T<time>+00:00``, as Joda-Time parses it.

    Raises ValueError with Joda's message, which the callers wrap in their own bad-row text.
    Cached: a busy collector logs many lines per second.
    """
    date_match = _FAST_DATE.fullmatch(date)
    time_match = _FAST_TIME.fullmatch(time)
    if date_match is not None and time_match is not None:
        year, month, day = int(date_match[1]), int(date_match[2]), int(date_match[3])
        hour, minute, second = int(time_match[1]), int(time_match[2]), int(time_match[3])
        if (
            1 <= month <= 12
            and 1 <= day <= _days_in_month(year, month)
            and hour < 24
            and minute < 60
            and second < 60
        ):
            millis = int((time_match[4] or "0").ljust(3, "0")[:3])
            days = _days_from_civil(year, month, day)
            return (((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + millis
    return _parse_iso(f"{date}T{time}+00:00")


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar, for any year (H. Hinnant)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if _is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


# --- The Joda ISODateTimeFormat.dateTimeParser grammar, as parser combinators ----------------
# A parser takes (text, position, fields) and returns the new position, or ~position of the
# failure, exactly as Joda's InternalParser does; ``fields`` collects the parsed values.

_Parser = Callable[[str, int, dict[str, int]], int]


def _literal(expected: str) -> _Parser:
    def parse(text: str, pos: int, fields: dict[str, int]) -> int:
        end = pos + len(expected)
        return end if text[pos:end].lower() == expected.lower() else ~pos

    return parse


def _number(field: str, max_digits: int, *, signed: bool = False) -> _Parser:
    def parse(text: str, pos: int, fields: dict[str, int]) -> int:
        start = pos
        if signed and text[pos : pos + 1] in ("+", "-") and _digit_count(text, pos + 1, 1):
            pos += 1
        end = pos + _digit_count(text, pos, max_digits)
        if end == start:
            return ~start
        fields[field] = int(text[start:end])
        return end

    return parse


def _fraction(unit_ms: int) -> _Parser:
    """Joda's Fraction parser: up to 9 digits, truncated digit by digit to milliseconds."""

    def parse(text: str, pos: int, fields: dict[str, int]) -> int:
        end, value, scale = pos, 0, unit_ms * 10
        while end < min(pos + 9, len(text)) and "0" <= text[end] <= "9":
            scale //= 10
            value += (ord(text[end]) - 48) * scale
            end += 1
        if end == pos:
            return ~pos
        fields["fraction"] = value // 10
        return end

    return parse


def _sequence(*parsers: _Parser) -> _Parser:
    def parse(text: str, pos: int, fields: dict[str, int]) -> int:
        for parser in parsers:
            pos = parser(text, pos, fields)
            if pos < 0:
                break
        return pos

    return parse


def _matching(*parsers: _Parser | None) -> _Parser:
    """Joda's MatchingParser: the alternative that parses furthest; None makes it optional."""

    def parse(text: str, pos: int, fields: dict[str, int]) -> int:
        best_pos, best_fields, worst_failure, optional = pos, None, pos, False
        for i, parser in enumerate(parsers):
            if parser is None:
                if best_pos <= pos:
                    return pos
                optional = True
                break
            trial = dict(fields)
            end = parser(text, pos, trial)
            if end > best_pos:
                if end >= len(text) or i + 1 == len(parsers) or parsers[i + 1] is None:
                    fields.update(trial)
                    return end
                best_pos, best_fields = end, trial
            elif end < 0:
                worst_failure = max(worst_failure, ~end)
        if best_pos > pos or (best_pos == pos and optional):
            if best_fields is not None:
                fields.update(best_fields)
            return best_pos
        return ~worst_failure

    return parse


def _optional(parser: _Parser) -> _Parser:
    return _matching(parser, None)


def _digit_count(text: str, pos: int, limit: int) -> int:
    count = 0
    while count < limit and pos + count < len(text) and "0" <= text[pos + count] <= "9":
        count += 1
    return count


def _offset(text: str, pos: int, fields: dict[str, int]) -> int:
    """Joda's TimeZoneOffset parser: ``Z``, or ``±HH`` then ``mm``, ``ss``, ``SSS`` with or
    without separators.

    The value is not kept: the only offset a whole line can end with is the ``+00:00`` the
    loaders append (any other offset leaves that suffix unparsed), so a parsed text is UTC.
    """
    if text[pos : pos + 1] in ("Z", "z"):
        return pos + 1
    if len(text) - pos <= 1 or text[pos] not in "+-":
        return ~pos
    pos += 1
    if _digit_count(text, pos, 2) < 2 or int(text[pos : pos + 2]) > 23:
        return ~pos
    pos += 2
    if pos >= len(text):
        return pos
    separated = text[pos] == ":"
    if not separated and not _digit_count(text, pos, 1):
        return pos
    pos += separated
    for index, (separators, width, maximum) in enumerate(
        ((":", 2, 59), (":", 2, 59), (".,", 3, 999))
    ):
        if index:
            if pos >= len(text):
                return pos
            if separated:
                if text[pos] not in separators:
                    return pos
                pos += 1
        count = _digit_count(text, pos, width)
        if count == 0 and not separated:
            return pos
        if count < (1 if width == 3 else 2) or int(text[pos : pos + count]) > maximum:
            return ~pos
        pos += count
    return pos


_DECIMAL_POINT = _matching(_literal("."), _literal(","))
_TIME_ELEMENT = _sequence(
    _number("hourOfDay", 2),
    _matching(
        _sequence(
            _literal(":"),
            _number("minuteOfHour", 2),
            _matching(
                _sequence(
                    _literal(":"),
                    _number("secondOfMinute", 2),
                    _optional(_sequence(_DECIMAL_POINT, _fraction(1000))),
                ),
                _sequence(_DECIMAL_POINT, _fraction(60_000)),
                None,
            ),
        ),
        _sequence(_DECIMAL_POINT, _fraction(3_600_000)),
        None,
    ),
)
_DATE_ELEMENT = _matching(
    _sequence(
        _number("year", 9, signed=True),
        _optional(
            _sequence(
                _literal("-"),
                _number("monthOfYear", 2),
                _optional(_sequence(_literal("-"), _number("dayOfMonth", 2))),
            )
        ),
    ),
    _sequence(
        _number("weekyear", 9, signed=True),
        _literal("-W"),
        _number("weekOfWeekyear", 2),
        _optional(_sequence(_literal("-"), _number("dayOfWeek", 1))),
    ),
    _sequence(_number("year", 9, signed=True), _literal("-"), _number("dayOfYear", 3)),
)
_DATE_TIME = _matching(
    _sequence(_literal("T"), _TIME_ELEMENT, _optional(_offset)),
    _sequence(
        _DATE_ELEMENT,
        _optional(_sequence(_literal("T"), _optional(_TIME_ELEMENT), _optional(_offset))),
    ),
)
_YEAR_RANGE = (-292_275_054, 292_278_993)


def _parse_iso(text: str) -> int:
    fields: dict[str, int] = {}
    end = _DATE_TIME(text, 0, fields)
    if end < 0 or end < len(text):
        raise ValueError(_invalid_format(text, ~end if end < 0 else end))
    try:
        return _compute_millis(fields)
    except ValueError as e:
        raise ValueError(f'Cannot parse "{text}": {e}') from None


def _invalid_format(text: str, error_pos: int) -> str:
    """Joda's ``FormatUtils.createErrorMessage``."""
    sample_len = error_pos + 32
    sample = text if len(text) <= sample_len + 3 else text[:sample_len] + "..."
    if error_pos <= 0:
        return f'Invalid format: "{sample}"'
    if error_pos >= len(text):
        return f'Invalid format: "{sample}" is too short'
    return f'Invalid format: "{sample}" is malformed at "{sample[error_pos:]}"'


def _check(field: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"Value {value} for {field} must be in the range [{low},{high}]")
    return value


def _compute_millis(fields: dict[str, int]) -> int:
    """Set the parsed fields on 1970-01-01T00:00Z, largest first, checking ranges as Joda does."""
    if "weekyear" in fields:
        weekyear = _check("weekyear", fields["weekyear"], *_YEAR_RANGE)
        week1_monday = _days_from_civil(weekyear, 1, 4) - (_days_from_civil(weekyear, 1, 4) + 3) % 7
        next_monday = _days_from_civil(weekyear + 1, 1, 4)
        next_monday -= (next_monday + 3) % 7
        week = _check(
            "weekOfWeekyear", fields["weekOfWeekyear"], 1, (next_monday - week1_monday) // 7
        )
        # Without a day, Joda keeps the day of week of its 1970-01-01 base: a Thursday.
        day_of_week = _check("dayOfWeek", fields.get("dayOfWeek", 4), 1, 7)
        days = week1_monday + (week - 1) * 7 + day_of_week - 1
    else:
        year = _check("year", fields.get("year", 1970), *_YEAR_RANGE)
        if "dayOfYear" in fields:
            day_of_year = _check(
                "dayOfYear", fields["dayOfYear"], 1, 366 if _is_leap(year) else 365
            )
            days = _days_from_civil(year, 1, 1) + day_of_year - 1
        else:
            month = _check("monthOfYear", fields.get("monthOfYear", 1), 1, 12)
            day = _check("dayOfMonth", fields.get("dayOfMonth", 1), 1, _days_in_month(year, month))
            days = _days_from_civil(year, month, day)
    hour = _check("hourOfDay", fields.get("hourOfDay", 0), 0, 23)
    minute = _check("minuteOfHour", fields.get("minuteOfHour", 0), 0, 59)
    second = _check("secondOfMinute", fields.get("secondOfMinute", 0), 0, 59)
    return days * _DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000 + fields.get("fraction", 0)
