"""Java-compatible conversions: the numbers, timestamps and splits Scala Common Enrich got from
the JVM, because enriched output is loaded next to years of Spark Enrich output and bad rows are
matched on their texts.

``Integer.parseInt``/``Long.parseLong``, ``new BigDecimal(s).toPlainString``, ``String.split``,
Joda's UTC timestamps and ``Double.toString``. These run for every event, so timestamps are
formatted from a per-second cache.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


class FieldError(Exception):
    """One parameter that cannot be converted; ``message`` is the bad-row text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


def plain_decimal(text: str) -> str | None:
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
