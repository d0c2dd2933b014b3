"""What a loader makes of one input line, and what an adapter makes of a payload.

These mirror Scala Common Enrich's ``CollectorPayload`` and ``RawEvent`` so that the rules in the
enrichment spec can be followed one to one; they are plain slotted dataclasses because millions
of them are built per batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

QUOTED_VALUE_LENGTH = 1000
"""Characters of a value a bad-row message quotes in full; a longer one is abbreviated."""


def abbreviate(text: str, limit: int = QUOTED_VALUE_LENGTH) -> str:
    """``text``, or its start and end around a note of how many characters were cut.

    For messages that quote a hostile value (often twice) and say what is wrong after it: the
    whole value is in the bad row's ``line``, and the message stays readable.
    """
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    end = limit // 4
    return f"{text[: limit - end]}...[{cut} characters cut]...{text[-end:]}"


class ProcessingError(Exception):
    """A raw line or raw event that cannot be enriched; becomes one bad row.

    ``messages`` are the bad row's error messages, verbatim as Snowplow words them.
    """

    def __init__(self, messages: str | list[str]) -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("; ".join(self.messages))


@dataclass(frozen=True, slots=True)
class CollectorApi:
    """The (vendor, version) pair taken from the request path; selects the adapter."""

    vendor: str
    version: str


@dataclass(slots=True)
class CollectorPayload:
    """One collector request, as a loader parsed it from one line."""

    api: CollectorApi
    querystring: dict[str, str | None]
    """Decoded name/value pairs; the last duplicate wins; a name without ``=`` maps to None."""
    source_name: str
    """``cloudfront``, ``clj-tomcat``, ``tsv`` or ``ndjson``: the initial ``v_collector``."""
    timestamp_ms: int | None
    ip_address: str | None = None
    useragent: str | None = None
    """As the log has it (still URL-encoded); the enrichment manager decodes it."""
    referer: str | None = None
    content_type: str | None = None
    body: str | None = None
    encoding: str = "UTF-8"
    hostname: str | None = None
    headers: list[str] = field(default_factory=list)
    network_user_id: str | None = None


@dataclass(slots=True)
class RawEvent:
    """One tracker event: the adapter's parameter map plus the request it came in."""

    parameters: dict[str, str | None]
    payload: CollectorPayload
