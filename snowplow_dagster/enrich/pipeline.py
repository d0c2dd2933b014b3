"""The per-line entry point of the enrichment job: one input line in, its output lines out.

Spark calls ``Enricher.process_line`` for every line, so the whole contract of the job's
output lives here: each line is skipped (a header), or yields at least one good event or bad
row, never nothing; a failure on one event of a request only affects that event; and any
unexpected exception becomes that line's bad row instead of failing the Spark task (a task that
fails four times fails the job, for a single odd line).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from snowplow_dagster.enrich.adapters import to_raw_events
from snowplow_dagster.enrich.badrow import bad_row
from snowplow_dagster.enrich.enrichments.registry import EnrichmentRegistry
from snowplow_dagster.enrich.iglu import SchemaValidator
from snowplow_dagster.enrich.iglu_resolver import Resolver
from snowplow_dagster.enrich.iglu_validation import IgluValidator
from snowplow_dagster.enrich.loaders import get_loader
from snowplow_dagster.enrich.manager import ETL_VERSION, enrich_event
from snowplow_dagster.enrich.payload import ProcessingError
from snowplow_dagster.enrich.transform import format_timestamp


@dataclass(slots=True)
class LineResult:
    good: list[str]
    """Enriched events, as 131-column TSV lines."""
    bad: list[str]
    """Bad-row JSON lines."""
    skipped: bool
    """The loader skipped the line (a ``#Version``/``#Fields`` header, a blank ndjson line)."""


class Enricher:
    """Everything fixed for a job (loader, enrichments, Iglu validator, ETL timestamp), applied
    line by line."""

    def __init__(
        self,
        input_format: str,
        registry: EnrichmentRegistry,
        etl_tstamp_ms: int,
        validator: SchemaValidator | None = None,
    ) -> None:
        """ValueError for an unknown ``input_format``: before any line is read."""
        self._load = get_loader(input_format)
        self._registry = registry
        self._etl_tstamp = format_timestamp(etl_tstamp_ms)
        self._validator = validator

    @classmethod
    def from_config(
        cls,
        input_format: str,
        enrichments: dict[str, Any] | str,
        etl_tstamp_ms: int,
        iglu_config: dict[str, Any] | None = None,
    ) -> Enricher:
        """From Spark Enrich's enrichments wrapper JSON (as text or parsed) and resolver JSON;
        without a resolver, contexts and unstruct events are checked as envelopes only."""
        validator = None
        if iglu_config is not None:
            validator = IgluValidator(Resolver.from_config(iglu_config))
        return cls(
            input_format, EnrichmentRegistry.from_json(enrichments), etl_tstamp_ms, validator
        )

    def process_line(self, line: str) -> LineResult:
        try:
            return self._process(line)
        except Exception:
            message = f"Unexpected error processing events: {traceback.format_exc()}"
            return LineResult([], [bad_row(line, [message])], False)

    def _process(self, line: str) -> LineResult:
        try:
            payload = self._load(line)
            if payload is None:
                return LineResult([], [], True)
            raw_events = to_raw_events(payload)
        except ProcessingError as error:
            return LineResult([], [bad_row(line, error.messages)], False)
        if not raw_events:
            raise RuntimeError("the adapter returned no events, which would lose the line")
        good: list[str] = []
        bad: list[str] = []
        for raw in raw_events:
            try:
                event = enrich_event(
                    raw, self._registry, self._etl_tstamp, ETL_VERSION, self._validator
                )
            except ProcessingError as error:
                bad.append(bad_row(line, error.messages))
            else:
                good.append(event.to_tsv())
        return LineResult(good, bad, False)
