"""Self-describing JSON: the ``{"schema": "iglu:...", "data": ...}`` envelope Snowplow uses.

Every self-describing JSON must have a well-formed Iglu URI and a ``data`` member, which is what
the analytics SDKs and loaders rely on; its data is then checked by a ``SchemaValidator``
(``iglu_validation.IgluValidator``, schemas found by ``iglu_resolver.Resolver``) when one is given.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Protocol

_IGLU_URI = re.compile(
    r"^iglu:([a-zA-Z0-9\-_.]+)/([a-zA-Z0-9\-_]+)/([a-zA-Z0-9\-_]+)/([1-9][0-9]*|0)-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$"
)


@dataclass(frozen=True, slots=True)
class SchemaKey:
    vendor: str
    name: str
    format: str
    version: str
    """``MODEL-REVISION-ADDITION``, e.g. ``1-0-0``."""

    @property
    def model(self) -> int:
        return int(self.version.split("-", 1)[0])

    @property
    def uri(self) -> str:
        return f"iglu:{self.vendor}/{self.name}/{self.format}/{self.version}"


@functools.lru_cache(maxsize=4096)
def _parse_schema_uri(uri: str) -> SchemaKey | None:
    match = _IGLU_URI.match(uri)
    if match is None:
        return None
    vendor, name, fmt, model, revision, addition = match.groups()
    return SchemaKey(vendor, name, fmt, f"{model}-{revision}-{addition}")


def parse_schema_uri(uri: object) -> SchemaKey | None:
    """The schema key of an ``iglu:vendor/name/format/M-R-A`` URI, or None if it is not one.

    Cached: a batch uses a handful of schemas millions of times.
    """
    return _parse_schema_uri(uri) if isinstance(uri, str) else None


class SchemaValidator(Protocol):
    """Validates a self-describing JSON's ``data`` against its schema; returns error messages."""

    def validate(self, key: SchemaKey, data: Any) -> list[str]: ...


def check_self_describing(
    instance: Any,
    *,
    expected: tuple[str, str, str, int] | None = None,
    validator: SchemaValidator | None = None,
) -> tuple[SchemaKey | None, list[str]]:
    """Check the envelope of a self-describing JSON (and its data, if a validator is given).

    ``expected`` is ``(vendor, name, format, model)`` when the instance must be of one schema, e.g.
    ``("com.snowplowanalytics.snowplow", "contexts", "jsonschema", 1)``. Returns the schema key
    (None when unusable) and the error messages; no errors means the instance is acceptable.
    """
    if not isinstance(instance, dict):
        return None, [f"JSON instance is not self-describing (not an object): {_short(instance)}"]
    schema = instance.get("schema")
    if "data" not in instance or schema is None:
        return None, [
            f"JSON instance is not self-describing (schema and data members required): "
            f"{_short(instance)}"
        ]
    key = parse_schema_uri(schema)
    if key is None:
        return None, [f"Schema [{schema}] is not a valid Iglu URI (iglu:vendor/name/format/M-R-A)"]
    if expected is not None:
        vendor, name, fmt, model = expected
        if (key.vendor, key.name, key.format, key.model) != (vendor, name, fmt, model):
            return key, [
                f"Verifying schema as {vendor}/{name}/{fmt}/{model}-*-* failed: found {key.uri}"
            ]
    errors = validator.validate(key, instance["data"]) if validator is not None else []
    return key, errors


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
