"""Bad rows in the format Snowplow's batch pipeline wrote from R71 to Spark Enrich 1.18.

``{"line":..,"errors":[{"level":"error","message":..}],"failure_tstamp":"..."}``, compact, in
that key order and with non-ASCII text kept: existing bad-row tooling (Hive/Athena tables over
the bad bucket, recovery jobs) reads exactly this shape. ``line`` is the raw input line, so one
request holding several failed events gives several rows with the same ``line``.

Each message is one line of bounded length: Snowplow's messages quote the offending value, which
a hostile line makes megabytes long or fills with line breaks. The value is in ``line`` anyway,
so the middle of a long message is cut, and line breaks are written as escapes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from snowplow_dagster.enrich.conversions import format_timestamp
from snowplow_dagster.enrich.jackson import compact_json
from snowplow_dagster.enrich.payload import abbreviate

MAX_MESSAGE_LENGTH = 4096
"""Characters of a message kept (its start and its end, where messages say what was wrong), plus
the note of how many were cut."""

# What str.splitlines() breaks lines on.
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def bad_row(line: str, messages: Iterable[str], failure_tstamp_ms: int | None = None) -> str:
    """One bad-row JSON line; ``failure_tstamp`` is the wall clock unless given."""
    if failure_tstamp_ms is None:
        failure_tstamp_ms = time.time_ns() // 1_000_000
    tstamp = format_timestamp(failure_tstamp_ms)
    return compact_json(
        {
            "line": line,
            "errors": [{"level": "error", "message": one_line(message)} for message in messages],
            "failure_tstamp": f"{tstamp[:10]}T{tstamp[11:]}Z",
        }
    )


def one_line(message: str) -> str:
    """The message on one line and at most ``MAX_MESSAGE_LENGTH`` characters (and the cut note)."""
    message = abbreviate(message, MAX_MESSAGE_LENGTH)
    if _LINE_BREAK.search(message):
        message = _LINE_BREAK.sub(_escape, message)
    return message


def _escape(match: re.Match[str]) -> str:
    return match[0].encode("unicode_escape").decode("ascii")
