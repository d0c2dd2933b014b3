"""What every config model shares: section base classes, validation context, field types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainValidator,
    SecretStr,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from snowplow_dagster.config.errors import ConfigIssue, is_secret_name
from snowplow_dagster.config.locations import normalise_location

_ON_EMR = "when snowplow_dagster.engine is emr"
_UNLESS_STREAM = "is required unless aws.s3.buckets.enriched.stream is set (Stream Enrich mode)"


@dataclass(frozen=True)
class _Facts:
    """The settings that decide which rules apply, read from the raw mapping before validation.

    Passed as validation context, they let each rule run as a field validator at its own key,
    alongside every other error: pydantic runs a model-level rule only once all its fields are
    valid, so an unrelated typo would otherwise hide it.
    """

    stream_mode: bool = False
    engine: str = "local"
    log_set: bool = True

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> _Facts:
        def get(*keys: str) -> Any:
            node: Any = data
            for key in keys:
                node = node.get(key) if isinstance(node, Mapping) else None
            return node

        def given(value: Any) -> bool:
            return isinstance(value, str) and bool(value.strip())

        return cls(
            stream_mode=given(get("aws", "s3", "buckets", "enriched", "stream")),
            engine="emr" if get("snowplow_dagster", "engine") == "emr" else "local",
            log_set=given(get("aws", "s3", "buckets", "log")),
        )


def _facts(info: ValidationInfo) -> _Facts:
    return info.context if isinstance(info.context, _Facts) else _Facts()


def _location(value: str, info: ValidationInfo) -> str:
    location = normalise_location(value)
    if _facts(info).engine == "emr" and not location.startswith("s3://"):
        raise ValueError(f"must be an s3:// location {_ON_EMR}")
    return location


Location = Annotated[str, AfterValidator(_location)]


def _drop_blanks(data: Any) -> Any:
    """An empty YAML value (``placement:``, ``bootstrap:``, ``""``) means "not set", as in EER.

    Dropping the key lets the default apply, and a required key reads as missing.
    """
    if isinstance(data, Mapping):
        return {
            k: v
            for k, v in data.items()
            if v is not None and not (isinstance(v, str) and not v.strip())
        }
    return data


class _Lenient(BaseModel):
    """A section EmrEtlRunner defines: unknown keys are ignored and reported as warnings."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", hide_input_in_errors=True, coerce_numbers_to_str=True
    )

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: Any) -> Any:
        return _drop_blanks(data)


class _Strict(_Lenient):
    """A section where a misspelt key would silently change what happens to data."""

    model_config = ConfigDict(extra="forbid")


def _rule_error(issues: list[ConfigIssue]) -> PydanticCustomError:
    """Several problems found by one rule, each at its own (absolute) key."""
    summary = "; ".join(map(str, issues))
    return PydanticCustomError("config_rule", "{summary}", {"summary": summary, "issues": issues})


def _property_map(value: Any) -> dict[str, str | SecretStr]:
    """EMR configuration properties and Spark settings: name -> string.

    Unquoted YAML scalars (``true``, ``1``) become the strings users mean. Values under
    secret-looking names become ``SecretStr``; errors name the property, never its value.
    """
    if not isinstance(value, Mapping):
        raise ValueError("must be a mapping of property name to value")
    props: dict[str, str | SecretStr] = {}
    for name, raw in value.items():
        text = str(raw).lower() if isinstance(raw, bool) else raw
        text = str(text) if isinstance(text, int | float) else text
        if not isinstance(text, str):
            raise ValueError(f"{name}: must be a string")
        props[str(name)] = SecretStr(text) if is_secret_name(str(name)) else text
    return props


PropertyMap = Annotated[dict[str, str | SecretStr], PlainValidator(_property_map)]
"""Free-form string properties; values under secret-looking names are kept as ``SecretStr``."""


def reveal(props: Mapping[str, str | SecretStr]) -> dict[str, str]:
    """The plain values of a ``PropertyMap``, for the one place that sends them to EMR or Spark."""
    return {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in props.items()}
