"""CloudFront web-distribution access logs as events (``com.amazon.aws.cloudfront/wd_access_log``).

Port of Scala Common Enrich's ``CloudfrontAccessLogAdapter.WebDistribution``: each log line (the
TSV loader's body) becomes one ``wd_access_log`` unstructured event whose schema version follows
the line's field count, i.e. the log format of its era.
"""

from __future__ import annotations

import dataclasses
import re

from snowplow_dagster.enrich.adapters.snowplow import UNSTRUCT_EVENT_SCHEMA
from snowplow_dagster.enrich.conversions import parse_java_integer
from snowplow_dagster.enrich.jackson import compact_json
from snowplow_dagster.enrich.loaders.common import parse_timestamp_ms
from snowplow_dagster.enrich.payload import CollectorPayload, ProcessingError, RawEvent
from snowplow_dagster.enrich.querystring import decode_string, single_encode_pcts

TRACKER_VERSION = "com.amazon.aws.cloudfront/wd_access_log"

_FIELD_NAMES = (
    "dateTime",
    "xEdgeLocation",
    "scBytes",
    "cIp",
    "csMethod",
    "csHost",
    "csUriStem",
    "scStatus",
    "csReferer",
    "csUserAgent",
    "csUriQuery",
    "csCookie",
    "xEdgeResultType",
    "xEdgeRequestId",
    "xHostHeader",
    "csProtocol",
    "csBytes",
    "timeTaken",
    "xForwardedFor",
    "sslProtocol",
    "sslCipher",
    "xEdgeResponseResultType",
    "csProtocolVersion",
    "fleStatus",
    "fleEncryptedFields",
)
# 12: original; 15: 12 Sep 2012; 18: 21 Oct 2013; 19: 29 Apr 2014; 23: 01 Jul 2015;
# 24: 29 Sep 2016; 26: Jan 2018.
_SCHEMA_VERSIONS = {
    12: "1-0-0",
    15: "1-0-1",
    18: "1-0-2",
    19: "1-0-3",
    23: "1-0-4",
    24: "1-0-5",
    26: "1-0-6",
}
# Double.parseDouble's decimal forms, with the padding String.trim removes; possessive runs, so
# a long run of digits is not split every way (quadratic) before a mismatch.
_JAVA_DOUBLE = re.compile(
    r"[\x00-\x20]*+[+-]?(?:[0-9]++(?:\.[0-9]*+)?|\.[0-9]++)(?:[eE][+-]?[0-9]++)?[\x00-\x20]*+"
)


def to_raw_events(payload: CollectorPayload) -> list[RawEvent]:
    """The access-log line in ``payload.body`` as one ``wd_access_log`` event."""
    if payload.body is None:
        raise ProcessingError("Cloudfront TSV has no body - this should be impossible")
    fields = payload.body.split("\t")
    version = _SCHEMA_VERSIONS.get(len(fields))
    if version is None:
        raise ProcessingError(
            f"Access log TSV line contained {len(fields)} fields, "
            "expected 12, 15, 18, 19, 23, 24 or 26"
        )
    values = [f"{fields[0]}T{fields[1]}Z", *fields[2:]]
    data: dict[str, object] = {}
    field_errors: list[str] = []
    for name, value in zip(_FIELD_NAMES, values, strict=False):
        try:
            data[name] = _convert(name, value)
        except ProcessingError as e:
            field_errors.extend(e.messages)
    errors: list[str] = []
    try:
        timestamp = parse_timestamp_ms(fields[0], fields[1])
    except ValueError as e:
        errors.append(
            "Unexpected exception converting Cloudfront web distribution access log "
            f"date [{fields[0]}] and time [{fields[1]}] to timestamp: [{e}]"
        )
    errors.extend(reversed(field_errors))  # Scala prepends each field's error to its list
    if errors:
        raise ProcessingError(errors)
    schema = f"iglu:com.amazon.aws.cloudfront/wd_access_log/jsonschema/{version}"
    event = {"schema": UNSTRUCT_EVENT_SCHEMA, "data": {"schema": schema, "data": data}}
    parameters: dict[str, str | None] = {
        "tv": TRACKER_VERSION,
        "e": "ue",
        "p": "srv",
        "ue_pr": compact_json(event),
    }
    if values[8]:
        parameters["url"] = values[8]  # the raw referer field, as Scala passes it
    context = dataclasses.replace(
        payload,
        timestamp_ms=timestamp,
        ip_address=values[3] or None,
        useragent=single_encode_pcts(values[9]) or None,
        referer=None,
    )
    return [RawEvent(parameters, context)]


def _convert(name: str, value: str) -> object:
    """One field as its JSON value: empty is null; numbers and URL-encoded text are decoded."""
    if not value:
        return None
    if name in ("scBytes", "csBytes"):
        number = parse_java_integer(value)
        if number is None:
            raise ProcessingError(f"Field [{name}]: cannot convert [{value}] to Int")
        return number
    if name == "timeTaken":
        if _JAVA_DOUBLE.fullmatch(value):
            return float(value)
        raise ProcessingError(f"Field [timeTaken]: cannot convert [{value}] to Double")
    if name in ("csReferer", "csUserAgent"):
        return decode_string(name, single_encode_pcts(value))
    if name == "csUriQuery":
        return single_encode_pcts(value)
    return value
