"""Tomcat access-log lines from the Clojure collector (``--input-format clj-tomcat``).

Mirrors Scala Common Enrich's ``CljTomcatLoader``: 12 fields (collector <= 0.6.0), 15, or 17
with a URL-encoded content type and a base64url request body (collector >= 0.7.0). Unlike
CloudFront there is no double-encoding fix and no X-Forwarded-For field.
"""

from __future__ import annotations

import re

from snowplow_dagster.enrich.loaders.common import (
    JAVA_TOKEN,
    JAVA_WHITESPACE,
    JAVA_WHITESPACE_RUN,
    read_request,
    split_on_single_tabs,
    to_option,
)
from snowplow_dagster.enrich.payload import CollectorPayload, ProcessingError
from snowplow_dagster.enrich.querystring import decode_base64url, decode_string

_WS = JAVA_WHITESPACE_RUN
_FIELD = f"({JAVA_TOKEN})"
_SKIPPED = JAVA_TOKEN
# date time - bytes ip method host path status referer useragent querystring [- - -] [ct body]
_NO_COOKIE = ["-", "-", "-"]
# Scala's regex, in linear time (see loaders.common): its last group, ``(?:\s+(\S+)?\s+(\S+)?)?``,
# is a content type between two whitespace runs and maybe a body, else no content type inside one
# run of 2+ and maybe a body (the two cannot both match a line).
_CLJ_LINE = re.compile(
    _WS.join([_FIELD, _FIELD, "-", _SKIPPED, _FIELD, _FIELD, _SKIPPED])
    + _WS
    + _WS.join([_FIELD, _SKIPPED, _FIELD, _FIELD, _FIELD])
    + f"(?:{_WS}-{_WS}-{_WS}-)?"
    + f"(?:{_WS}{_FIELD}{_WS}{_FIELD}?|{JAVA_WHITESPACE}{_WS}{_FIELD}?)?"
)


def load_clj_tomcat(line: str) -> CollectorPayload:
    """One Clojure collector log line as a payload; ProcessingError if it is a bad row."""
    fields = _split_tab_separated(line)
    if fields is None:
        match = _CLJ_LINE.fullmatch(line)
        if match is None:
            raise ProcessingError("Line does not match raw event format for Clojure Collector")
        *request, content_type, body, body_alone = match.groups()
        fields = (*request, content_type, body_alone if content_type is None else body)
    date, time, ip, method, path, referer, useragent, qs, content_type, body = fields
    if content_type is None and body is None:  # A: collector <= 0.6.0, no content type or body
        return _build(date, time, ip, path, referer, useragent, qs, None, None)
    if body == "-":
        # B.1: neither given; B.2: a content type alone, allowed even on a GET (Lumia phones)
        content_type = None if content_type == "-" else content_type or ""
        return _build(date, time, ip, path, referer, useragent, qs, content_type, None)
    if method.upper() != "POST":  # C.1
        raise ProcessingError(
            f"Operation must be POST, not {method.upper()}, "
            "if request content type and/or body are provided"
        )
    # C.2. Scala decodes an absent (not "-") content type as "", and fails on an absent body
    # with a null-pointer message; an empty body fails later, in the adapter, instead.
    return _build(date, time, ip, path, referer, useragent, qs, content_type or "", body or "")


def _split_tab_separated(line: str) -> tuple[str | None, ...] | None:
    """What ``_CLJ_LINE`` would capture from a line of single-tab-separated fields, else None."""
    fields = split_on_single_tabs(line)
    if fields is None or len(fields) < 12 or fields[2] != "-":
        return None
    count = len(fields)
    if count == 12 or (count == 15 and fields[12:15] == _NO_COOKIE):
        content_type = body = None
    elif count == 14:  # the "- - -" group is optional, the content type and body are not
        content_type, body = fields[12], fields[13]
    elif count == 17 and fields[12:15] == _NO_COOKIE:
        content_type, body = fields[15], fields[16]
    else:
        return None
    date, time, _, _, ip, method, _, path, _, referer, useragent, qs = fields[:12]
    return date, time, ip, method, path, referer, useragent, qs, content_type, body


def _build(
    date: str,
    time: str,
    ip: str,
    path: str,
    referer: str,
    useragent: str,
    qs: str,
    content_type: str | None,
    body: str | None,
) -> CollectorPayload:
    errors: list[str] = []
    timestamp, querystring, api = read_request(date, time, qs, path, errors)
    if content_type is not None:
        try:
            content_type = decode_string("Content type", content_type)
        except ProcessingError as e:
            errors.extend(e.messages)
    if body is not None:
        body = decode_base64url(body)
    if errors:
        raise ProcessingError(errors)
    return CollectorPayload(
        api=api,
        querystring=querystring,
        source_name="clj-tomcat",
        timestamp_ms=timestamp,
        ip_address=to_option(ip),
        useragent=to_option(useragent),
        referer=to_option(referer),
        content_type=content_type,
        body=body,
    )
