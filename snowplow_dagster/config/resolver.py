"""The Iglu resolver JSON and the enrichments folder, checked before anything runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from snowplow_dagster.config.base import _Lenient
from snowplow_dagster.config.errors import ConfigError, ConfigIssue
from snowplow_dagster.config.issues import _issues_from


class _HttpRepository(_Lenient):
    uri: str
    apikey: SecretStr | None = None

    @field_validator("uri")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URI")
        return value


class _EmbeddedRepository(_Lenient):
    path: str


class _Connection(_Lenient):
    http: _HttpRepository | None = None
    embedded: _EmbeddedRepository | None = None

    @model_validator(mode="after")
    def _one(self) -> _Connection:
        if (self.http is None) == (self.embedded is None):
            raise ValueError("must have exactly one of http and embedded")
        return self


class _Repository(_Lenient):
    name: str
    priority: int
    vendorPrefixes: list[str]
    connection: _Connection


class _ResolverData(_Lenient):
    cacheSize: int = Field(ge=0)
    cacheTtl: int | None = Field(default=None, ge=1)
    repositories: list[_Repository] = Field(min_length=1)


_RESOLVER_SCHEMA = re.compile(
    r"iglu:com\.snowplowanalytics\.iglu/resolver-config/jsonschema/1-0-\d+"
)


def load_resolver(path: Path) -> dict[str, Any]:
    """The Iglu resolver JSON as written (it is passed on verbatim), once known to be usable."""
    source = str(path)
    if not path.is_file():
        raise ConfigError([ConfigIssue("resolver", "does not exist, or is not a file")], source)
    problem = None
    try:
        resolver = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problem = ConfigIssue(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")
    if problem is not None:
        # Outside the handler: the decode error holds the whole document, API keys included.
        raise ConfigError([problem], source)
    if not isinstance(resolver, dict) or "data" not in resolver:
        raise ConfigError(
            [ConfigIssue("(top level)", "must be a self-describing JSON (schema and data)")], source
        )
    issues = []
    if not _RESOLVER_SCHEMA.fullmatch(str(resolver.get("schema"))):
        issues.append(
            ConfigIssue(
                "schema", "must be iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-*"
            )
        )
    try:
        _ResolverData.model_validate(resolver["data"])
    except ValidationError as exc:
        issues += [
            ConfigIssue(f"data.{issue.key}" if issue.key else "data", issue.message)
            for issue in _issues_from(exc, _ResolverData)
        ]
    if issues:
        raise ConfigError(issues, source)
    return resolver


def check_enrichments_dir(path: Path) -> Path:
    """EmrEtlRunner refuses a missing enrichments folder up front; its JSONs load elsewhere."""
    if not path.is_dir():
        raise ConfigError(
            [ConfigIssue("enrichments", "does not exist, or is not a directory")], str(path)
        )
    return path
