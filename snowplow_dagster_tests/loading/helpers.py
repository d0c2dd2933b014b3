"""Enriched batches as the enrich job leaves them, made without Spark: generated CloudFront lines
through the Python enrichment core with the bundled enrichments (so events carry contexts, the
ua-parser derived context and unstruct events), written as ``part-*`` files, ``_SUCCESS`` and a
counts file."""

from __future__ import annotations

import gzip
import json
import logging
import threading
from collections.abc import Sequence
from functools import cache

from snowplow_dagster.engines.contract import StepConfig, StepResult
from snowplow_dagster.engines.steps import ENRICH, ENRICHED_TO_S3, RAW_TO_HDFS
from snowplow_dagster.enrich.enricher import Enricher
from snowplow_dagster.enrich.enrichments.registry import (
    EnrichmentRegistry,
    load_enrichments_directory,
)
from snowplow_dagster.generator.lines import generate_lines
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS
from snowplow_dagster.storage import Location, Storage, storage_for
from snowplow_dagster_tests.platform.helpers import step_arg


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


def write_good_folder(
    good: Location, lines: list[str], *, files: int = 2, storage: Storage | None = None
) -> None:
    """``part-*`` files (the first gzipped, the rest plain, as both occur) and ``_SUCCESS``."""
    storage = storage or storage_for(good)
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


class PythonEnrichingEngine:
    """An execution engine that runs the enrich step with the Python enrichment core instead of
    Spark (the same code Spark's workers run), for tests about what happens after enrichment: it
    writes the good folder, ``_SUCCESS`` and the counts file as the step list would."""

    def __init__(self) -> None:
        self.calls = 0
        self.good_events = 0

    def run_steps(
        self,
        steps: Sequence[StepConfig],
        *,
        log: logging.Logger,
        cancel_event: threading.Event | None = None,
    ) -> list[StepResult]:
        self.calls += 1
        by_name = {step["Name"]: step for step in steps}
        raw = Location.parse(step_arg(by_name[RAW_TO_HDFS], "--src")).folder()
        storage = storage_for(raw)
        enricher = Enricher(
            "cloudfront", _registry(), int(step_arg(by_name[ENRICH], "--etl-timestamp"))
        )
        good_lines: list[str] = []
        bad = skipped = lines = 0
        objects = {}
        for info in storage.list(raw):
            file_lines = gzip.decompress(storage.read(raw.object(info.key)).data).splitlines()
            file_skipped = 0
            for line in file_lines:
                result = enricher.process_line(line.decode())
                good_lines += result.good
                bad += len(result.bad)
                file_skipped += result.skipped
            lines += len(file_lines)
            skipped += file_skipped
            objects[raw.relative(info.key)] = {
                "lines": len(file_lines),
                "input_lines": len(file_lines),
                "skipped_lines": file_skipped,
                "lines_with_output": len(file_lines) - file_skipped,
            }
        good = Location.parse(step_arg(by_name[ENRICHED_TO_S3], "--dest")).folder()
        write_good_folder(good, good_lines)
        self.good_events = len(good_lines)
        counts_file = Location.parse(step_arg(by_name[ENRICH], "--counts-file"))
        storage.write(
            counts_file,
            json.dumps(
                {
                    "input_lines": lines,
                    "skipped_lines": skipped,
                    "lines_with_output": lines - skipped,
                    "good_events": len(good_lines),
                    "bad_rows": bad,
                    "objects": objects,
                }
            ).encode(),
        )
        return [StepResult(step["Name"], "COMPLETED") for step in steps]
