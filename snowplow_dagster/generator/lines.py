"""Generated lines, oldest first: the traffic's events, written by one collector's format."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

from snowplow_dagster.generator.formats import (
    GeneratedLine,
    InputFormat,
    _CloudFrontWriter,
    _TomcatWriter,
)
from snowplow_dagster.generator.traffic import _Traffic

DEFAULT_START = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
"""Where timestamps start when no ``start`` is given: fixed, so output depends on the seed only."""


def generate_lines(
    input_format: InputFormat,
    events: int,
    *,
    seed: int = 0,
    start: datetime | None = None,
    bad_fraction: float = 0.0,
) -> Iterator[str]:
    """Log lines carrying ``events`` tracker events (a bad line counts as one), oldest first."""
    for line in generate_records(
        input_format, events, seed=seed, start=start, bad_fraction=bad_fraction
    ):
        yield line.text


def generate_records(
    input_format: InputFormat,
    events: int,
    *,
    seed: int = 0,
    start: datetime | None = None,
    bad_fraction: float = 0.0,
) -> Iterator[GeneratedLine]:
    """As ``generate_lines``, with each line's event count and whether it is meant to be good."""
    if input_format not in ("cloudfront", "clj-tomcat"):
        raise ValueError(f"Cannot generate [{input_format}] logs: use cloudfront or clj-tomcat")
    if not 0.0 <= bad_fraction <= 1.0:
        raise ValueError(f"bad_fraction must be between 0 and 1, not {bad_fraction}")
    traffic = _Traffic(random.Random(seed), start or DEFAULT_START)
    writer = _CloudFrontWriter(traffic) if input_format == "cloudfront" else _TomcatWriter(traffic)
    remaining = events
    while remaining > 0:
        traffic.tick()
        if bad_fraction and traffic.rng.random() < bad_fraction:
            yield GeneratedLine(writer.bad_line(), 1, False)
            remaining -= 1
            continue
        line = writer.good_line(remaining)
        remaining -= line.events
        yield line
