"""Newline-delimited JSON exports from webhooks (``--input-format ndjson/<vendor>/<version>``).

As Scala Common Enrich's ``NdjsonLoader``: one JSON value per line becomes the body of a payload
for that adapter; blank lines are skipped.
"""

from __future__ import annotations

import json
import re

from snowplow_dagster.enrich.conversions import java_split
from snowplow_dagster.enrich.jackson import json_depth_error
from snowplow_dagster.enrich.payload import CollectorApi, CollectorPayload, ProcessingError

_NEWLINE = re.compile("\r?\n")
_JSON_WHITESPACE = re.compile("[ \t\n\r]*")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


# Jackson, which Snowplow parsed with, rejects NaN and Infinity.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def load_ndjson(api: CollectorApi, line: str) -> CollectorPayload | None:
    """The line as the body of a payload for ``api``; None for a blank line."""
    if not _NEWLINE.sub("", line):
        return None
    if len(java_split(line, _NEWLINE)) > 1:
        raise ProcessingError("Too many lines! Expected single line")
    start = _JSON_WHITESPACE.match(line).end()
    if json_depth_error(line, start) is not None:
        raise ProcessingError("Unparsable JSON")
    try:
        # Like Jackson, read the first JSON value and ignore what follows it.
        _DECODER.raw_decode(line, start)
    except ValueError:
        raise ProcessingError("Unparsable JSON") from None
    return CollectorPayload(
        api=api, querystring={}, source_name="ndjson", timestamp_ms=None, body=line
    )
