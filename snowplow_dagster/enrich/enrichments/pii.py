"""pii_enrichment_config: pseudonymise personal data, ``hex(hash(value + salt))``.

Runs last, as in Snowplow, on ``pii_enrichment_config`` 2-0-x:

- ``pojo`` fields are enriched-event columns (the schema's list: user_id, user_ipaddress,
  user_fingerprint, domain_userid, network_userid, ip_organization, ip_domain, tr_orderid,
  ti_orderid, mkt_term, mkt_content, se_category, se_action, se_label, se_property, mkt_clickid,
  refr_domain_userid, domain_sessionid); a null column stays null;
- ``json`` fields (contexts, derived_contexts, unstruct_event) hash the strings (or arrays of
  strings) at ``jsonPath`` inside the ``data`` of every entity whose schema matches
  ``schemaCriterion``. Snowplow used Jayway JsonPath; only the plain subset is supported here
  (``$.a.b``, ``$.a['b', 'c']``, ``$.a[*]``, ``$.*``). A field with any other path is skipped
  with a warning at startup. A JSON column is re-serialised only when a value changed.

``hashFunction``: MD5, SHA-1, SHA-256, SHA-384 or SHA-512 (MD2, also in the schema, is not
available in Python's hashlib and is refused). ``emitEvent`` has no effect in batch: the
identification event it asks for is not part of the enriched TSV. The salt is never logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from snowplow_dagster.enrich.enrichments.config import (
    EnrichmentConfigError,
    reject_unknown_keys,
    require_choice,
    require_object,
    require_str,
)
from snowplow_dagster.enrich.event import EnrichedEvent
from snowplow_dagster.enrich.iglu import parse_schema_uri
from snowplow_dagster.enrich.jackson import compact_json

logger = logging.getLogger(__name__)

POJO_FIELDS = frozenset(
    (
        "user_id",
        "user_ipaddress",
        "user_fingerprint",
        "domain_userid",
        "network_userid",
        "ip_organization",
        "ip_domain",
        "tr_orderid",
        "ti_orderid",
        "mkt_term",
        "mkt_content",
        "se_category",
        "se_action",
        "se_label",
        "se_property",
        "mkt_clickid",
        "refr_domain_userid",
        "domain_sessionid",
    )
)
JSON_FIELDS = frozenset(("contexts", "derived_contexts", "unstruct_event"))
HASH_FUNCTIONS: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}

_CRITERION = re.compile(
    r"^iglu:([a-zA-Z0-9\-_.]+)/([a-zA-Z0-9\-_]+)/([a-zA-Z0-9\-_]+)/([1-9][0-9]*|\*)-(0|[1-9][0-9]*|\*)-(0|[1-9][0-9]*|\*)$"
)
_PATH_STEP = re.compile(
    r"""\.(?P<name>[^.\[\]'"\s*]+)"""
    r"""|\.?\[\s*(?P<keys>'[^']*'(?:\s*,\s*'[^']*')*)\s*\]"""
    r"""|\.?\[\s*\*\s*\]|\.\*"""
)

JsonPath = tuple[tuple[str, ...] | None, ...]
"""A parsed JSONPath: per step the member names to visit, or None for every member/element."""


@dataclass(frozen=True, slots=True)
class JsonField:
    column: str
    criterion: tuple[str, ...]
    """vendor, name, format, model, revision, addition; ``*`` matches anything."""
    path: JsonPath

    def matches(self, schema: Any) -> bool:
        key = parse_schema_uri(schema)
        if key is None:
            return False
        actual = (key.vendor, key.name, key.format, *key.version.split("-"))
        return all(want in ("*", got) for want, got in zip(self.criterion, actual, strict=True))


@dataclass(frozen=True, slots=True)
class PiiPseudonymizer:
    pojo_fields: tuple[str, ...]
    json_fields: tuple[JsonField, ...]
    hash_function: Callable[[bytes], Any]
    salt: str = field(repr=False)  # a secret: kept out of logs and tracebacks

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> PiiPseudonymizer:
        reject_unknown_keys(parameters, ("pii", "strategy"), "parameters")
        fields = parameters.get("pii")
        if not isinstance(fields, list):
            raise EnrichmentConfigError("parameters.pii must be an array")
        pojo, json_fields = [], []
        for index, entry in enumerate(fields):
            where = f"parameters.pii[{index}]"
            if (
                not isinstance(entry, dict)
                or len(entry) != 1
                or next(iter(entry)) not in ("pojo", "json")
            ):
                raise EnrichmentConfigError(f"{where} must be an object with one key, pojo or json")
            if "pojo" in entry:
                config = require_object(entry, "pojo", where)
                reject_unknown_keys(config, ("field",), f"{where}.pojo")
                pojo.append(require_choice(config, "field", f"{where}.pojo", POJO_FIELDS))
            else:
                parsed = _json_field(require_object(entry, "json", where), f"{where}.json")
                if parsed is not None:
                    json_fields.append(parsed)
        strategy = require_object(parameters, "strategy", "parameters")
        reject_unknown_keys(strategy, ("pseudonymize",), "parameters.strategy")
        pseudonymize = require_object(strategy, "pseudonymize", "parameters.strategy")
        where = "parameters.strategy.pseudonymize"
        reject_unknown_keys(pseudonymize, ("hashFunction", "salt"), where)
        name = require_choice(pseudonymize, "hashFunction", where, HASH_FUNCTIONS)
        salt = require_str(pseudonymize, "salt", where)
        return cls(tuple(pojo), tuple(json_fields), HASH_FUNCTIONS[name], salt)

    def enrich(self, event: EnrichedEvent) -> None:
        for column in self.pojo_fields:
            value = getattr(event, column)
            if value is not None:
                setattr(event, column, self.scramble(value))
        for json_field in self.json_fields:
            text = getattr(event, json_field.column)
            if text is not None:
                changed = self._scramble_json(text, json_field)
                if changed is not None:
                    setattr(event, json_field.column, changed)

    def scramble(self, value: str) -> str:
        return self.hash_function((value + self.salt).encode("utf-8", "replace")).hexdigest()

    def _scramble_json(self, text: str, json_field: JsonField) -> str | None:
        """The re-serialised column if a value was hashed, else None."""
        try:
            document = json.loads(text)
        except ValueError:
            return None
        if not isinstance(document, dict):
            return None
        data = document.get("data")
        entities = data if isinstance(data, list) else [data]
        changed = False
        for entity in entities:
            if (
                isinstance(entity, dict)
                and "data" in entity
                and json_field.matches(entity.get("schema"))
            ):
                entity["data"], hit = self._apply(entity["data"], json_field.path)
                changed |= hit
        return compact_json(document) if changed else None

    def _apply(self, node: Any, path: JsonPath) -> tuple[Any, bool]:
        if not path:
            if isinstance(node, str):
                return self.scramble(node), True
            if isinstance(node, list) and any(isinstance(item, str) for item in node):
                return [
                    self.scramble(item) if isinstance(item, str) else item for item in node
                ], True
            return node, False
        step, rest = path[0], path[1:]
        changed = False
        if isinstance(node, dict):
            for key in node if step is None else [key for key in step if key in node]:
                node[key], hit = self._apply(node[key], rest)
                changed |= hit
        elif isinstance(node, list) and step is None:
            for index, item in enumerate(node):
                node[index], hit = self._apply(item, rest)
                changed |= hit
        return node, changed


def _json_field(config: Mapping[str, Any], where: str) -> JsonField | None:
    reject_unknown_keys(config, ("field", "schemaCriterion", "jsonPath"), where)
    column = require_choice(config, "field", where, JSON_FIELDS)
    criterion = _CRITERION.match(require_str(config, "schemaCriterion", where))
    if criterion is None:
        raise EnrichmentConfigError(
            f"{where}.schemaCriterion must look like iglu:vendor/name/jsonschema/1-*-*"
        )
    json_path = require_str(config, "jsonPath", where)
    path = parse_json_path(json_path)
    if path is None:
        logger.warning(
            "PII: %s jsonPath %s is not supported yet (only $.a.b, $.a['b','c'], [*] and .*); "
            "this field is left as it is",
            column,
            json_path,
        )
        return None
    return JsonField(column, criterion.groups(), path)


def parse_json_path(text: str) -> JsonPath | None:
    """The steps of a plain JSONPath, or None if it uses anything beyond the plain subset."""
    if not text.startswith("$"):
        return None
    steps: list[tuple[str, ...] | None] = []
    position = 1
    while position < len(text):
        match = _PATH_STEP.match(text, position)
        if match is None:
            return None
        if match["name"] is not None:
            steps.append((match["name"],))
        elif match["keys"] is not None:
            steps.append(tuple(re.findall(r"'([^']*)'", match["keys"])))
        else:
            steps.append(None)
        position = match.end()
    return tuple(steps)
