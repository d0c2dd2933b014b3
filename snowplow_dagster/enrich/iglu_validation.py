"""JSON Schema (draft-04) validation of self-describing data, with Snowplow's bad-row texts.

The validator is ``fastjsonschema``: it compiles each schema to Python code once per worker
(about 5 µs per small context against 60-140 µs for ``jsonschema``'s interpreter, which would
take the core below its 10,000 events/s target), it is pure Python with no dependencies, so it
travels in the EMR application zip, and with ``fast_fail=False`` it reports every error, not
just the first. Schemas are compiled with draft-04 semantics whatever their ``$schema`` says
(Iglu schemas name Iglu's meta-schema, which is draft-04).

Messages are those of the Java validator Spark Enrich 1.x used (fge json-schema-validator, via
iglu-scala-client), ``ProcessingMessage`` text included: ``error: <message>`` then indented
``level``/``schema``/``instance``/``domain``/``keyword`` lines and the keyword's own details.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import fastjsonschema

from snowplow_dagster.enrich.iglu import SchemaKey
from snowplow_dagster.enrich.iglu_resolver import Resolver

_DRAFT_04 = "http://json-schema.org/draft-04/schema#"
_FORMATS: dict[str, str] = {
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z",
    "date": r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\Z",
}
"""Formats draft-04 leaves to implementations that fge checked and fastjsonschema does not;
``date-time``, ``email``, ``hostname``, ``ipv4``, ``ipv6`` and ``uri`` are fastjsonschema's."""

_FORMAT_MESSAGES = {
    "date-time": "string {value} is invalid against requested date format(s) "
    "[yyyy-MM-dd'T'HH:mm:ssZ, yyyy-MM-dd'T'HH:mm:ss.[0-9]{{1,12}}Z]",
    "date": "string {value} is invalid against requested date format(s) [yyyy-MM-dd]",
    "email": "string {value} is not a valid email address",
    "hostname": "string {value} is not a valid hostname",
    "ipv4": "string {value} is not a valid IPv4 address",
    "ipv6": "string {value} is not a valid IPv6 address",
    "uri": "string {value} is not a valid URI",
    "uuid": "string {value} is not a valid UUID",
}

_Compiled = Callable[[Any], Any]


class IgluValidator:
    """``SchemaValidator`` backed by a ``Resolver``: one compile per schema per worker."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._compiled: dict[int, tuple[dict[str, Any], _Compiled | str]] = {}

    def validate(self, key: SchemaKey, data: Any) -> list[str]:
        found = self.resolver.lookup(key)
        schema = found.schema
        if schema is None:
            return [_not_found(key, found.tried, found.failures)]
        compiled = self._compile(key, schema)
        if isinstance(compiled, str):
            return [compiled]
        try:
            compiled(data)
        except fastjsonschema.JsonSchemaValuesException as failure:
            return [_message(error, schema) for error in failure.errors]
        except fastjsonschema.JsonSchemaValueException as error:
            return [_message(error, schema)]
        return []

    def _compile(self, key: SchemaKey, schema: dict[str, Any]) -> _Compiled | str:
        """Keyed by the schema object the resolver caches, so its LRU and TTL rule here too."""
        cached = self._compiled.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        compiled: _Compiled | str
        try:
            compiled = fastjsonschema.compile(
                {**schema, "$schema": _DRAFT_04},
                handlers=_EveryScheme(self.resolver.resolve_ref),
                formats=_FORMATS,
                use_default=False,
                fast_fail=False,
            )
        except Exception as error:
            compiled = f"error: Schema {key.uri} cannot be used for validation: {error}"
        if len(self._compiled) > 2 * self.resolver.cache_size + 16:
            self._compiled.clear()
        self._compiled[id(schema)] = (schema, compiled)
        return compiled


class _EveryScheme(dict[str, Callable[[str], Any]]):
    """fastjsonschema fetches a ``$ref`` with urllib when no handler claims its scheme
    (``file:``, ``ftp:``, a relative name): this claims every scheme for the resolver, which
    answers only from the bundle and the configured repositories."""

    def __init__(self, handler: Callable[[str], Any]) -> None:
        super().__init__()
        self._handler = handler

    def __contains__(self, scheme: object) -> bool:
        return True

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return self._handler


def _not_found(key: SchemaKey, tried: tuple[str, ...], failures: tuple[str, ...]) -> str:
    lines = [
        f"error: Could not find schema with key {key.uri} in any repository, tried:",
        '    level: "error"',
        f"    repositories: {_json(list(tried))}",
    ]
    if failures:
        lines.append(f"    failures: {_json(list(failures))}")
    return "\n".join(lines)


def _message(error: fastjsonschema.JsonSchemaValueException, root: dict[str, Any]) -> str:
    """fge's ``ProcessingMessage`` text for one validation error."""
    rule = error.rule or "unknown"
    value = error.value
    expected = error.rule_definition
    details: list[tuple[str, Any]] = []
    if rule == "required":
        present = value if isinstance(value, dict) else {}
        missing = [name for name in expected if name not in present]
        text = f"object has missing required properties ({_json(missing)})"
        details = [("required", expected), ("missing", missing)]
    elif rule == "type":
        allowed = expected if isinstance(expected, list) else [expected]
        text = (
            f"instance type ({_type(value)}) does not match any allowed primitive type "
            f"(allowed: {_json(allowed)})"
        )
        details = [("found", _type(value)), ("expected", allowed)]
    elif rule == "additionalProperties":
        properties = error.definition.get("properties", {})
        unwanted = sorted(name for name in value if name not in properties)
        text = (
            f"object instance has properties which are not allowed by the schema: {_json(unwanted)}"
        )
        details = [("unwanted", unwanted)]
    elif rule == "format":
        template = _FORMAT_MESSAGES.get(expected, "string {value} is not a valid " + str(expected))
        text = template.format(value=_json(value))
        details = [("attribute", expected)]
    elif rule == "maxLength":
        text = (
            f"string {_json(value)} is too long (length: {len(value)}, maximum allowed: {expected})"
        )
        details = [("value", value), ("found", len(value)), ("maxLength", expected)]
    elif rule == "minLength":
        text = (
            f"string {_json(value)} is too short (length: {len(value)}, "
            f"required minimum: {expected})"
        )
        details = [("value", value), ("found", len(value)), ("minLength", expected)]
    elif rule == "enum":
        text = (
            f"instance value ({_json(value)}) not found in enum "
            f"(possible values: {_json(expected)})"
        )
        details = [("value", value), ("enum", expected)]
    elif rule == "maximum":
        text = (
            f"numeric instance is greater than the required maximum "
            f"(maximum: {expected}, found: {value})"
        )
        details = [("maximum", expected), ("found", value)]
    elif rule == "minimum":
        text = (
            f"numeric instance is lower than the required minimum "
            f"(minimum: {expected}, found: {value})"
        )
        details = [("minimum", expected), ("found", value)]
    elif rule == "pattern":
        text = f"ECMA 262 regex {_json(expected)} does not match input string {_json(value)}"
        details = [("regex", expected), ("string", value)]
    elif rule == "maxItems":
        text = (
            f"array is too long: must have at most {expected} elements "
            f"but instance has {len(value)} elements"
        )
    elif rule == "minItems":
        text = (
            f"array is too short: must have at least {expected} elements "
            f"but instance has {len(value)} elements"
        )
    else:
        text = error.message
    schema_pointer = _schema_pointer(root, error.definition)
    lines = [
        f"error: {text}",
        '    level: "error"',
        f"    schema: {_json({'loadingURI': '#', 'pointer': schema_pointer})}",
        f"    instance: {_json({'pointer': _instance_pointer(error.path)})}",
        '    domain: "validation"',
        f"    keyword: {_json(rule)}",
        *(f"    {name}: {_json(detail)}" for name, detail in details),
    ]
    return "\n".join(lines)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _instance_pointer(path: list[str]) -> str:
    """fastjsonschema names the instance ``data.a[0]``; fge names it ``/a/0``."""
    return "".join(f"/{_escape(part)}" for part in path[1:])


def _schema_pointer(root: Any, target: Any, prefix: str = "") -> str:
    """Where in the schema the failing sub-schema sits (found by identity, then equality)."""
    found = _find(root, target, prefix, lambda a, b: a is b)
    if found is None:
        found = _find(root, target, prefix, lambda a, b: a == b)
    return found if found is not None else ""


def _find(node: Any, target: Any, prefix: str, same: Callable[[Any, Any], bool]) -> str | None:
    if same(node, target):
        return prefix
    children: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        children = [(str(name), child) for name, child in node.items()]
    elif isinstance(node, list):
        children = [(str(index), child) for index, child in enumerate(node)]
    for name, child in children:
        if isinstance(child, dict | list):
            found = _find(child, target, f"{prefix}/{_escape(name)}", same)
            if found is not None:
                return found
    return None
