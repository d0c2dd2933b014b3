"""Scala Common Enrich's ``makeTsvSafe`` for values enrichments copy out of URLs.

Decoded query parameters (search terms, utm_* values) can hold tabs and newlines, which would
shift every later column of the enriched TSV line.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def tsv_safe(value: str | None) -> str | None:
    """Tabs become four spaces, other control characters (Java ``\\p{Cntrl}``) are dropped and
    an empty result is None."""
    if value is None:
        return None
    if not value.isprintable():  # fast path: printable text has no control characters
        value = _CONTROL.sub("", value.replace("\t", "    "))
    return value or None
