"""Reading an enrichment's ``parameters`` object, with errors that name the offending key.

Snowplow validated enrichment JSONs against their Iglu schemas before building anything; we have
no schema mirror for them, so each enrichment checks the parts it reads through these helpers.
Errors name the key path and the expected type but never echo free text: some parameters are
secrets (the PII salt, API keys). Only numbers and values outside a fixed set of choices are
quoted back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class EnrichmentConfigError(ValueError):
    """An enrichment configuration that cannot be used; raised at startup, before any event."""


def reject_unknown_keys(obj: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
    """Fail on keys the schema does not allow: a typo would otherwise silently do nothing."""
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise EnrichmentConfigError(
            f"{path} has unsupported key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed)) or 'none'}"
        )


def require_object(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    return _require(obj, key, path, dict, "an object")


def require_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    return _require(obj, key, path, str, "a string")


def require_int(obj: Mapping[str, Any], key: str, path: str, low: int, high: int) -> int:
    value = obj.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the anon_ip schemas type anonOctets as "number"
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        got = repr(value) if numeric else _type_name(value)
        raise EnrichmentConfigError(
            f"{path}.{key} must be an integer from {low} to {high}, got {got}"
        )
    return value


def require_str_list(obj: Mapping[str, Any], key: str, path: str) -> list[str]:
    value = _require(obj, key, path, list, "an array of strings")
    if not all(isinstance(item, str) for item in value):
        raise EnrichmentConfigError(f"{path}.{key} must be an array of strings")
    return value


def require_choice(obj: Mapping[str, Any], key: str, path: str, choices: Iterable[str]) -> str:
    """A string from a fixed set; the value is echoed as such sets never hold secrets."""
    value = require_str(obj, key, path)
    if value not in choices:
        raise EnrichmentConfigError(
            f"{path}.{key} is {value!r}; supported: {', '.join(sorted(choices))}"
        )
    return value


def _require(obj: Mapping[str, Any], key: str, path: str, kind: type, described: str) -> Any:
    if key not in obj:
        raise EnrichmentConfigError(f"{path}.{key} is required")
    value = obj[key]
    if not isinstance(value, kind):
        raise EnrichmentConfigError(f"{path}.{key} must be {described}, got {_type_name(value)}")
    return value


def _type_name(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


_JSON_TYPE_NAMES = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}
