"""event_fingerprint_config: a hash of the raw tracker parameters, to spot duplicate events.

As Scala Common Enrich: the parameters sorted by name, the excluded ones dropped, each written
``name + "\\x1f" + value + "\\x1f"``, the whole hashed to lowercase hex. A parameter without a
value (``&k`` in the query string) is Java null, which ``StringBuilder.append`` writes as the
text ``null``, so it is hashed as ``null`` here too. Names are sorted by code point; Java sorts
by UTF-16 unit, which differs only for names mixing characters above U+FFFF with ones in
U+E000-U+FFFF.

``hashAlgorithm``: MD5 (the only one Snowplow 0.37 knew), or SHA1, SHA256, SHA384 and SHA512,
which schema 1-0-1 and later Snowplow releases added. Text is hashed as UTF-8 with unencodable
characters replaced by ``?``, like Java's ``String.getBytes``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from snowplow_dagster.enrich.enrichments.config import (
    reject_unknown_keys,
    require_choice,
    require_str_list,
)

ALGORITHMS: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA384": hashlib.sha384,
    "SHA512": hashlib.sha512,
}
_SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class EventFingerprint:
    algorithm: Callable[[bytes], Any]
    excluded: frozenset[str]

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> EventFingerprint:
        reject_unknown_keys(parameters, ("excludeParameters", "hashAlgorithm"), "parameters")
        excluded = require_str_list(parameters, "excludeParameters", "parameters")
        name = require_choice(parameters, "hashAlgorithm", "parameters", ALGORITHMS)
        return cls(ALGORITHMS[name], frozenset(excluded))

    def fingerprint(self, parameters: Mapping[str, str | None]) -> str:
        order, template = _layout(tuple(parameters), self.excluded)
        values = list(map(parameters.__getitem__, order))
        if None in values:
            values = ["null" if value is None else value for value in values]
        parts = list(template)
        parts[1:-1:2] = values
        return self.algorithm(_SEPARATOR.join(parts).encode("utf-8", "replace")).hexdigest()


@functools.lru_cache(maxsize=4096)
def _layout(
    names: tuple[str, ...], excluded: frozenset[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The hashed names in order, and the parts of the text to hash with the values left blank.
    A tracker sends its parameters in the same order every time, so a job sees few name
    sequences, and hashing an event becomes a handful of C-level list operations."""
    order = sorted(name for name in names if name not in excluded)
    template = [""] * (2 * len(order) + 1)  # the last "" puts a separator after the last value
    template[0:-1:2] = order
    return tuple(order), tuple(template)
