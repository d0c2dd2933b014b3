"""Realistic collector logs, for the demo, the tests and the benchmarks.

Lines look like what a Snowplow JavaScript tracker leaves in CloudFront (33-field access logs,
querystrings double-encoded as CloudFront does since 2013) or Clojure collector Tomcat logs
(GETs and TP2 POST batches with base64url bodies, ``cv`` and ``nuid`` appended). Visitors have
sessions, devices, user agents (browsers, phones, bots), IPs from the MaxMind test databases'
networks and elsewhere, and arrive from search engines, social sites, e-mail campaigns or
nowhere. Everything is drawn from one seeded ``random.Random``, so a seed always gives the same
lines, and timestamps only move forward.

With ``bad_fraction``, that share of lines is broken the ways real logs are (truncated lines,
other HTTP methods, unknown event codes, broken JSON, bots fetching ``/favicon.ico``...). Every
other line enriches to good events.
"""

from __future__ import annotations

from snowplow_dagster.generator.files import write_log_files
from snowplow_dagster.generator.formats import (
    CLOUDFRONT_HEADERS,
    COLLECTOR_VERSION,
    GeneratedLine,
    InputFormat,
)
from snowplow_dagster.generator.lines import DEFAULT_START, generate_lines, generate_records

__all__ = [
    "CLOUDFRONT_HEADERS",
    "COLLECTOR_VERSION",
    "DEFAULT_START",
    "GeneratedLine",
    "InputFormat",
    "generate_lines",
    "generate_records",
    "write_log_files",
]
