"""``PostgresWarehouse``: the PostgreSQL target batches are loaded into.

Either EmrEtlRunner's targets folder (``targets_dir``, default ``$SNOWPLOW_DAGSTER_TARGETS``) or the
target's fields as resource config (``password`` best as ``dg.EnvVar``; left out, libpq's
``PGPASSWORD`` / ``.pgpass`` apply). The target is validated when the resource is set up, and
``check_connection`` logs in once before anything moves, so a wrong password or an unreachable host
is an error naming the target file, never showing the password.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import psycopg
from pydantic import Field, PrivateAttr

from snowplow_dagster.config.errors import ConfigError, ConfigIssue
from snowplow_dagster.config.targets import PostgresTarget, load_targets, parse_target

TARGETS_ENV = "SNOWPLOW_DAGSTER_TARGETS"
RESOURCE_SOURCE = "the warehouse resource config"


class TargetUnreachable(Exception):
    """The target refused the login or could not be reached; the message names its file."""


class PostgresWarehouse(dg.ConfigurableResource):
    """Where ``loaded_events`` loads: a targets folder, or the target's fields."""

    targets_dir: str | None = Field(
        default=None,
        description=f"EmrEtlRunner's storage targets folder. Default: ${TARGETS_ENV}.",
    )
    host: str | None = Field(default=None, description="Instead of a folder: the server's host.")
    port: int = 5432
    database: str | None = None
    username: str | None = None
    password: str | None = Field(
        default=None, description="Use dg.EnvVar; unset: libpq's PGPASSWORD or .pgpass."
    )
    db_schema: str = Field(default="atomic", description="Schema of atomic.events and the rest.")
    ssl_mode: str | None = Field(
        default=None, description="DISABLE, REQUIRE, VERIFY_CA or VERIFY_FULL (sslMode)."
    )

    _target: PostgresTarget | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.target()

    def target(self) -> PostgresTarget:
        """The validated target; ``ConfigError`` names the file (or this config) and the key."""
        if self._target is None:
            self._target = self._load()
        return self._target

    def _load(self) -> PostgresTarget:
        if self.host is not None:
            data = {
                "host": self.host,
                "port": self.port,
                "database": self.database,
                "username": self.username,
                "password": self.password,
                "schema": self.db_schema,
                "sslMode": self.ssl_mode,
            }
            return parse_target({k: v for k, v in data.items() if v is not None}, RESOURCE_SOURCE)
        folder = self.targets_dir or os.environ.get(TARGETS_ENV)
        if not folder:
            raise ConfigError(
                [ConfigIssue("targets_dir", f"set it, ${TARGETS_ENV}, or host and the rest")],
                RESOURCE_SOURCE,
            )
        return load_targets(Path(folder))

    def connect(self) -> psycopg.Connection:
        return connect(self.target())


def connect(target: PostgresTarget) -> psycopg.Connection:
    """A connection to the target; a refusal is ``TargetUnreachable`` naming the target's file."""
    try:
        return psycopg.connect(**target.connection_kwargs())
    except psycopg.OperationalError as error:
        reason = target.redact(str(error).strip())
        raise TargetUnreachable(
            f"Cannot connect to the PostgreSQL target {target.describe()}: {reason}"
        ) from None


def check_connection(target: PostgresTarget) -> None:
    """Log in once and ask for nothing: a bad target fails here, before any object moves."""
    with connect(target) as connection:
        connection.execute("SELECT 1")
