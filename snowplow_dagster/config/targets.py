"""EmrEtlRunner's storage targets folder (``-t targets/``): the PostgreSQL target we load into.

Each ``*.json`` of the folder is a self-describing target, as EmrEtlRunner read them. We load
``postgresql_config`` targets (1-0-x to 2-0-x) whose purpose is ``ENRICHED_EVENTS``; any other
kind of target (Redshift, Elasticsearch, DynamoDB) is an error rather than silently not loaded.
One PostgreSQL target per pipeline.

The password: the file's ``password``, which may be ``<%= ENV['NAME'] %>`` (rendered as in
``config.yml``); left empty or out, libpq's own ``PGPASSWORD`` / ``.pgpass`` apply, since the
driver is libpq. It is a ``SecretStr``: never in an error, a ``repr`` or metadata.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from snowplow_dagster.config.erb import render_erb
from snowplow_dagster.config.errors import ConfigError, ConfigIssue
from snowplow_dagster.config.issues import _issues_from

POSTGRES_SCHEMA = re.compile(
    r"iglu:com\.snowplowanalytics\.snowplow\.storage/postgresql_config/jsonschema/[12]-\d+-\d+"
)
_STORAGE_SCHEMA = re.compile(r"iglu:com\.snowplowanalytics\.snowplow\.storage/([^/]+)/.*")
SSL_MODES = {
    "DISABLE": "disable",
    "REQUIRE": "require",
    "VERIFY_CA": "verify-ca",
    "VERIFY_FULL": "verify-full",
}
"""``sslMode`` (JDBC's names) to libpq's ``sslmode``."""


class _TargetData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    name: str = "PostgreSQL"
    id: str | None = None
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    database: str = Field(min_length=1, max_length=64)
    username: str = Field(min_length=1, max_length=64)
    password: SecretStr | dict[str, Any] | None = None
    schema_: str = Field(alias="schema", min_length=1, max_length=63)
    sslMode: Literal["DISABLE", "REQUIRE", "VERIFY_CA", "VERIFY_FULL"] | None = None
    sshTunnel: dict[str, Any] | None = None
    processingManifest: dict[str, Any] | None = None
    purpose: Literal["ENRICHED_EVENTS"] = "ENRICHED_EVENTS"


@dataclass(frozen=True)
class PostgresTarget:
    """Where to load, and how to connect; ``source`` names the file (or resource config)."""

    source: str
    name: str
    host: str
    port: int
    database: str
    username: str
    password: SecretStr | None
    schema: str
    sslmode: str | None

    def connection_kwargs(self) -> dict[str, Any]:
        """For ``psycopg.connect``; a missing password is left to libpq (PGPASSWORD, .pgpass)."""
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "user": self.username,
            "application_name": "snowplow-dagster",
            "connect_timeout": 10,
        }
        if self.password is not None and self.password.get_secret_value():
            kwargs["password"] = self.password.get_secret_value()
        if self.sslmode is not None:
            kwargs["sslmode"] = self.sslmode
        return kwargs

    def describe(self) -> str:
        """For logs and errors: everything but the password."""
        return (
            f"{self.name} (postgresql://{self.username}@{self.host}:{self.port}/"
            f"{self.database}, schema {self.schema}) from {self.source}"
        )

    def redact(self, text: str) -> str:
        """``text`` with the password, should a driver message ever echo it, masked."""
        if self.password is not None and (secret := self.password.get_secret_value()):
            text = text.replace(secret, "********")
        return text


def parse_target(data: Mapping[str, Any], source: str) -> PostgresTarget:
    """A target's ``data``, checked; ``ConfigError`` names ``source`` and each key."""
    try:
        parsed = _TargetData.model_validate(data)
    except ValidationError as exc:
        issues = [
            ConfigIssue(f"data.{issue.key}" if issue.key else "data", issue.message)
            for issue in _issues_from(exc, _TargetData)
        ]
        raise ConfigError(issues, source) from None
    issues = []
    if isinstance(parsed.password, dict):
        issues.append(
            ConfigIssue(
                "data.password",
                "ec2ParameterStore is not supported: give the password, <%= ENV['NAME'] %>, "
                "or leave it empty for PGPASSWORD / .pgpass",
            )
        )
    if parsed.sshTunnel is not None:
        issues.append(ConfigIssue("data.sshTunnel", "is not supported: open the tunnel yourself"))
    if issues:
        raise ConfigError(issues, source)
    password = parsed.password if isinstance(parsed.password, SecretStr) else None
    return PostgresTarget(
        source=source,
        name=parsed.name,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        username=parsed.username,
        password=password,
        schema=parsed.schema_,
        sslmode=SSL_MODES[parsed.sslMode] if parsed.sslMode else None,
    )


def load_target_file(path: Path, env: Mapping[str, str] | None = None) -> PostgresTarget:
    source = str(path)
    try:
        text = render_erb(path.read_text(encoding="utf-8"), os.environ if env is None else env)
    except ConfigError as error:
        raise ConfigError(list(error.issues), source) from None
    problem = None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = ConfigIssue(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")
    if problem is not None:
        raise ConfigError([problem], source)  # outside the handler: the error holds the text
    if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
        raise ConfigError(
            [ConfigIssue("(top level)", "must be a self-describing JSON (schema and data)")],
            source,
        )
    schema = str(document.get("schema"))
    if not POSTGRES_SCHEMA.fullmatch(schema):
        kind = _STORAGE_SCHEMA.fullmatch(schema)
        message = (
            f"{kind.group(1)} targets are not loaded by snowplow-dagster: only postgresql_config"
            if kind
            else "must be iglu:com.snowplowanalytics.snowplow.storage/postgresql_config/"
            "jsonschema/1-0-0 to 2-0-0"
        )
        raise ConfigError([ConfigIssue("schema", message)], source)
    return parse_target(document["data"], source)


def load_targets(folder: Path, env: Mapping[str, str] | None = None) -> PostgresTarget:
    """The folder's one PostgreSQL target; every file is checked, every problem reported."""
    if not folder.is_dir():
        raise ConfigError(
            [ConfigIssue("targets", "does not exist, or is not a directory")], str(folder)
        )
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ConfigError([ConfigIssue("targets", "has no *.json storage target")], str(folder))
    targets: list[PostgresTarget] = []
    errors: list[ConfigError] = []
    for path in files:
        try:
            targets.append(load_target_file(path, env))
        except ConfigError as error:
            errors.append(error)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        issues = [
            ConfigIssue(f"{error.source}: {issue.key}", issue.message)
            for error in errors
            for issue in error.issues
        ]
        raise ConfigError(issues, str(folder))
    if len(targets) > 1:
        names = ", ".join(target.source for target in targets)
        raise ConfigError(
            [ConfigIssue("targets", f"one PostgreSQL target per pipeline, found {names}")],
            str(folder),
        )
    return targets[0]
