"""The per-line entry point of the enrichment job: one input line in, its output lines out.

Spark calls ``Enricher.process_line`` for every line, so the whole contract of the job's
output lives here: each line is skipped (a header), or yields at least one good event or bad
row, never nothing; a failure on one event of a request only affects that event; and any
unexpected exception becomes that line's bad row instead of failing the Spark task (a task that
fails four times fails the job, for a single odd line). A line longer than the limit is a bad
row without being parsed, so one hostile line costs its length, not its parse.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from typing import Any

from snowplow_dagster.enrich.adapters import to_raw_events
from snowplow_dagster.enrich.badrow import bad_row
from snowplow_dagster.enrich.conversions import format_timestamp
from snowplow_dagster.enrich.enrichments.registry import EnrichmentRegistry
from snowplow_dagster.enrich.iglu import SchemaValidator
from snowplow_dagster.enrich.iglu_resolver import Resolver
from snowplow_dagster.enrich.iglu_validation import IgluValidator
from snowplow_dagster.enrich.jackson import allow_json_depth
from snowplow_dagster.enrich.loaders import get_loader
from snowplow_dagster.enrich.manager import ETL_VERSION, DerivedContextValidator, enrich_event
from snowplow_dagster.enrich.payload import ProcessingError

DEFAULT_MAX_LINE_LENGTH = 4 * 1024 * 1024
"""Characters a line may have (4 Mi). Real lines are far shorter: CloudFront caps a request URL
at 8 KiB, and a Clojure collector POST (Tomcat's default 2 MB ``maxPostSize``) is 2.7 M
characters once base64url-encoded."""


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
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
        validate_derived_contexts: bool = False,
    ) -> None:
        """ValueError for an unknown ``input_format``, a line limit below 1, or derived contexts
        to validate without a validator: before any line is read.

        Derived contexts (ua_parser's) are ours and valid by construction, so validating them is
        an option, off by default: it guards against a schema the user's registry changed.
        """
        if max_line_length < 1:
            raise ValueError(f"The maximum line length must be at least 1, got {max_line_length}")
        if validate_derived_contexts and validator is None:
            raise ValueError("Validating derived contexts needs an Iglu resolver config")
        self._load = get_loader(input_format)
        self._registry = registry
        self._etl_tstamp = format_timestamp(etl_tstamp_ms)
        self._validator = validator
        self._derived_validator = (
            DerivedContextValidator(validator)
            if validate_derived_contexts and validator is not None
            else None
        )
        self._max_line_length = max_line_length
        allow_json_depth()

    @classmethod
    def from_config(
        cls,
        input_format: str,
        enrichments: dict[str, Any] | str,
        etl_tstamp_ms: int,
        iglu_config: dict[str, Any] | None = None,
        *,
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
        validate_derived_contexts: bool = False,
    ) -> Enricher:
        """From Spark Enrich's enrichments wrapper JSON (as text or parsed) and resolver JSON;
        without a resolver, contexts and unstruct events are checked as envelopes only."""
        validator = None
        if iglu_config is not None:
            validator = IgluValidator(Resolver.from_config(iglu_config))
        registry = EnrichmentRegistry.from_json(enrichments)
        return cls(
            input_format,
            registry,
            etl_tstamp_ms,
            validator,
            max_line_length,
            validate_derived_contexts,
        )

    def process_line(self, line: str) -> LineResult:
        if len(line) > self._max_line_length:
            message = (
                f"Line of {len(line)} characters is longer than the limit of "
                f"{self._max_line_length} (--max-line-length): not enriched"
            )
            return LineResult([], [bad_row(line, [message])], False)
        try:
            return self._process(line)
        except Exception as error:
            return LineResult([], [bad_row(line, [_unexpected(error)])], False)

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
                    raw,
                    self._registry,
                    self._etl_tstamp,
                    ETL_VERSION,
                    self._validator,
                    self._derived_validator,
                )
            except ProcessingError as error:
                bad.append(bad_row(line, error.messages))
            else:
                good.append(event.to_tsv())
        return LineResult(good, bad, False)


def _unexpected(error: Exception) -> str:
    """One line naming the exception and where it was raised, as Snowplow's ``Unexpected error
    processing events: <exception>``; a whole traceback would be the bad row's bulk."""
    frame = traceback.extract_tb(error.__traceback__)[-1]
    where = f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"
    return f"Unexpected error processing events: {type(error).__name__}: {error} (at {where})"
