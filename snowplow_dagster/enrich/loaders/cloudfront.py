"""CloudFront access-log lines from the CloudFront collector (``--input-format cloudfront``).

Mirrors Scala Common Enrich's ``CloudfrontLoader``: its Java regexes decide which lines match
(any whitespace run separates fields; 12, 15, 18, 19 or 23+ fields), so the same lines become
bad rows. They are rewritten with possessive runs and an explicit empty-cookie alternative: the
same lines match with the same fields, in time linear in the line's length (the originals are
quadratic on a long whitespace run). Java's ``.`` is narrower than Python's, hence the explicit
class.
"""

from __future__ import annotations

import functools
import re
from typing import NoReturn

from snowplow_dagster.enrich.loaders.common import (
    JAVA_TOKEN,
    JAVA_WHITESPACE,
    JAVA_WHITESPACE_RUN,
    read_request,
    split_on_single_tabs,
    to_option,
)
from snowplow_dagster.enrich.payload import CollectorPayload, ProcessingError
from snowplow_dagster.enrich.querystring import single_encode_pcts

HEADER_PREFIXES = ("#Version:", "#Fields:")
"""The two header lines of a CloudFront log file, skipped without a bad row."""

_WS = JAVA_WHITESPACE_RUN
_TOKEN = JAVA_TOKEN
_JAVA_DOT = r"[^\n\r\x85\u2028\u2029]"
_ORIGINAL_12 = _WS.join([f"({_TOKEN})"] * 12)
# Scala's cookie (13th field) is ``\s+\S*\s+``: a cookie between two whitespace runs, else an
# empty cookie inside one run of 2+; Java tries them in that order, and so does the alternation.
_COOKIE = f"(?:{_WS}{_TOKEN}{_WS}|{JAVA_WHITESPACE}{_WS})"
# The 12/15/18/19-field regexes and the 23+-field one, nested: each later variant extends the
# previous.
_CF_LINE = re.compile(
    _ORIGINAL_12
    + f"(?:{_COOKIE}{_TOKEN}{_WS}{_TOKEN}"
    + f"(?:{_WS}{_TOKEN}{_WS}{_TOKEN}{_WS}{_TOKEN}"
    + f"(?:{_WS}{_TOKEN}"
    + f"(?:{_WS}({_TOKEN}){_WS}{_TOKEN}{_WS}{_TOKEN}{_WS}{_TOKEN}{_JAVA_DOT}*+"
    + ")?)?)?)?"
)
_ANY_METHOD_LINE = re.compile(f"{_ORIGINAL_12}{_JAVA_DOT}*+")
# IpAddressExtractor's CloudFront regex: an IPv4, else a lower-case IPv6-looking prefix.
_FORWARDED_IP = re.compile(
    r'"?\[?(?:([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})|([0-9a-f.:]+))'
)
_JAVA_LINE_TERMINATOR = re.compile("[\n\r\x85\u2028\u2029]")
_EXACT_FIELD_COUNTS = frozenset((12, 15, 18, 19))


def load_cloudfront(line: str) -> CollectorPayload | None:
    """One CloudFront log line as a payload; None for a header line; ProcessingError if bad."""
    if line.startswith(HEADER_PREFIXES):
        return None
    fields = _split_tab_separated(line)
    if fields is not None:
        date, time, _, _, ip, method, _, path, _, referer, useragent, qs = fields[:12]
        forwarded_for = fields[19] if len(fields) >= 23 else None
    else:
        match = _CF_LINE.fullmatch(line)
        if match is None:
            _raise_unmatched(line)
        date, time, _, _, ip, method, _, path, _, referer, useragent, qs, forwarded_for = (
            match.groups()
        )
    if method != "GET" and method.upper() != "GET" and _ANY_METHOD_LINE.fullmatch(line):
        raise ProcessingError(
            f"Only GET operations supported for CloudFront Collector, not {method.upper()}"
        )
    errors: list[str] = []
    timestamp, querystring, api = read_request(date, time, single_encode_pcts(qs), path, errors)
    if errors:
        raise ProcessingError(errors)
    return CollectorPayload(
        api=api,
        querystring=querystring,
        source_name="cloudfront",
        timestamp_ms=timestamp,
        ip_address=to_option(_client_ip(forwarded_for, ip)),
        useragent=_header(useragent),
        referer=_referer(referer),
    )


# A visitor's requests repeat their user agent and, page after page, their referers: both
# fields are fixed once per distinct value.
@functools.lru_cache(maxsize=20_000)
def _header(field: str) -> str | None:
    return to_option(single_encode_pcts(field))


@functools.lru_cache(maxsize=20_000)
def _referer(field: str) -> str | None:
    referer = _header(field)
    if referer is not None and referer.endswith("%"):
        referer = referer[:-1]  # CloudFront sometimes appends a stray "%"
    return referer


def _split_tab_separated(line: str) -> list[str] | None:
    """The fields of a tab-separated line that ``_CF_LINE`` would capture the same, else None.

    Single tabs rule out the empty-cookie ambiguity, and an ASCII line has no Java line
    terminator for the 23+ variant's ``.*`` to stop at.
    """
    fields = split_on_single_tabs(line) if line.isascii() else None
    if fields is not None and (len(fields) in _EXACT_FIELD_COUNTS or len(fields) >= 23):
        return fields
    return None


def _raise_unmatched(line: str) -> NoReturn:
    """The GET check runs on any line with 12+ fields, before the exact-variant regexes."""
    match = _ANY_METHOD_LINE.fullmatch(line)
    if match is not None and match[6].upper() != "GET":
        raise ProcessingError(
            f"Only GET operations supported for CloudFront Collector, not {match[6].upper()}"
        )
    raise ProcessingError("Line does not match CloudFront header or data row formats")


def _client_ip(forwarded_for: str | None, last_ip: str) -> str:
    """The first X-Forwarded-For address (23+ field lines), else the edge's ``c-ip``."""
    if forwarded_for is None:
        return last_ip
    match = _FORWARDED_IP.match(forwarded_for)
    if match is None or _JAVA_LINE_TERMINATOR.search(forwarded_for):
        return last_ip
    return match[1] or match[2]
