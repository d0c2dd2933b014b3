"""Enriched batches as the enrich job leaves them, made without Spark: generated CloudFront lines
through the Python enrichment core with the bundled enrichments (so events carry contexts, the
ua-parser derived context and unstruct events), written as ``part-*`` files, ``_SUCCESS`` and a
counts file."""

from __future__ import annotations

import gzip
import json
from functools import cache

from snowplow_dagster.enrich.enrichments.registry import (
    EnrichmentRegistry,
    load_enrichments_directory,
)
from snowplow_dagster.enrich.pipeline import Enricher
from snowplow_dagster.generator.lines import generate_lines
from snowplow_dagster.resources.storage import LocalStorage, Location
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS


@cache
def _registry() -> EnrichmentRegistry:
    return EnrichmentRegistry.from_json(load_enrichments_directory(SAMPLE_ENRICHMENTS))


def enriched_lines(events: int, *, seed: int, etl_tstamp_ms: int) -> list[str]:
    enricher = Enricher("cloudfront", _registry(), etl_tstamp_ms)
    return [
        good
        for line in generate_lines("cloudfront", events, seed=seed)
        for good in enricher.process_line(line).good
    ]


def write_good_folder(good: Location, lines: list[str], *, files: int = 2) -> None:
    """``part-*`` files (the first gzipped, the rest plain, as both occur) and ``_SUCCESS``."""
    storage = LocalStorage()
    size = -(-len(lines) // files) if lines else 0
    for index in range(files):
        chunk = "".join(line + "\n" for line in lines[index * size : (index + 1) * size]).encode()
        name = f"part-{index:05d}" + (".gz" if index == 0 else "")
        storage.write(good.join(name), gzip.compress(chunk) if index == 0 else chunk)
    storage.write(good.join("_SUCCESS"), b"")


def counts(good_events: int) -> bytes:
    return json.dumps(
        {
            "input_lines": good_events,
            "skipped_lines": 0,
            "lines_with_output": good_events,
            "good_events": good_events,
            "bad_rows": 0,
        }
    ).encode()
