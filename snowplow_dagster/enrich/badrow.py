"""Bad rows in the format Snowplow's batch pipeline wrote from R71 to Spark Enrich 1.18.

``{"line":..,"errors":[{"level":"error","message":..}],"failure_tstamp":"..."}``, compact, in
that key order and with non-ASCII text kept: existing bad-row tooling (Hive/Athena tables over
the bad bucket, recovery jobs) reads exactly this shape. ``line`` is the raw input line, so one
request holding several failed events gives several rows with the same ``line``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from snowplow_dagster.enrich.transform import compact_json, format_timestamp


def bad_row(line: str, messages: Iterable[str], failure_tstamp_ms: int | None = None) -> str:
    """One bad-row JSON line; ``failure_tstamp`` is the wall clock unless given."""
    if failure_tstamp_ms is None:
        failure_tstamp_ms = time.time_ns() // 1_000_000
    tstamp = format_timestamp(failure_tstamp_ms)
    return compact_json(
        {
            "line": line,
            "errors": [{"level": "error", "message": message} for message in messages],
            "failure_tstamp": f"{tstamp[:10]}T{tstamp[11:]}Z",
        }
    )
