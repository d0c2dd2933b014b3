"""The enrich job's counts: what it writes to its counts file and what the Dagster side reads back.

A module of its own, without Spark, because the readers (the ``enriched_events`` asset, the
line-conservation and bad-row checks, the load check) run where pyspark need not be imported.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

EVENT_TYPES = ("page_view", "page_ping", "struct", "unstruct", "transaction", "transaction_item")
"""The ``event`` values a good event can have (the core gives any other, ``ad_impression``
included, a bad row). All are in every counts file, 0 or not, so every batch reports the same
metrics."""

_TOTALS = ("input_lines", "skipped_lines", "lines_with_output", "good_events", "bad_rows")


@dataclass(frozen=True, slots=True)
class JobCounts:
    """What happened to the input lines and what came out; the line-conservation asset check
    reads these, and the ``enriched_events`` asset shows them.

    Every input line is skipped (a header), has output (at least one good event or bad row), or
    was lost: ``input_lines == skipped_lines + lines_with_output`` means nothing was lost.
    """

    input_lines: int = 0
    skipped_lines: int = 0
    lines_with_output: int = 0
    good_events: int = 0
    bad_rows: int = 0
    event_types: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_TYPES, 0))
    """Good events by ``event``; they add up to ``good_events``."""
    unstruct_events: dict[str, int] = field(default_factory=dict)
    """Unstruct events by ``event_vendor/event_name``, the most frequent first, bounded by
    ``job.top_counts``; they add up to ``event_types["unstruct"]``."""
    objects: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per input file (its path below ``--input-folder``, every file, empty ones at 0):
    ``lines``, counted by Spark's reader in the JVM alone, and the ``input_lines``,
    ``skipped_lines`` and ``lines_with_output`` the enrichment tallied for it. The steps copy each
    raw object to a file of its own, so line conservation holds each object of the batch's
    manifest to these."""
    slowest_lines: list[dict[str, Any]] = field(default_factory=list, compare=False)
    """The lines that took longest to enrich, slowest first: ``seconds``, ``characters`` and
    ``line_start``. Not compared: timings differ from run to run."""

    @property
    def by_type(self) -> bool:
        """Whether the job counted good events by type and unstruct events by name: a job that
        predates those counts wrote neither, and every later one lists every type."""
        return bool(self.event_types)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> JobCounts:
        """The counts a counts file holds; ``ValueError`` naming what is missing when it is not
        one. Files of older jobs lack the per-type, per-file and slowest-line counts: those are
        left empty (``by_type`` is then False), never filled with zeros."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        missing = [key for key in _TOTALS if key not in data]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        return cls(
            **{key: data[key] for key in _TOTALS},
            event_types=data.get("event_types", {}),
            unstruct_events=data.get("unstruct_events", {}),
            objects=data.get("objects", {}),
            slowest_lines=data.get("slowest_lines", []),
        )
