"""``PipelineConfig``: what the platform needs from a ``config.yml``, loaded and validated once."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from snowplow_dagster.config.base import _Facts
from snowplow_dagster.config.credentials import AwsCredentials, _credentials
from snowplow_dagster.config.erb import render_erb
from snowplow_dagster.config.errors import ConfigError, ConfigIssue
from snowplow_dagster.config.issues import _issues_from, _unknown_keys
from snowplow_dagster.config.models import (
    ConfigFile,
    LocalSparkSettings,
    _manifests_location,
    application_location,
    quiet_period_default,
)
from snowplow_dagster.config.yaml_loader import _parse_yaml


@dataclass(frozen=True)
class Locations:
    """Every location the platform touches, as ``normalise_location`` spells them."""

    raw_in: tuple[str, ...]
    """Empty in Stream Enrich mode, where the raw buckets are ignored as EmrEtlRunner does."""
    raw_processing: str | None
    raw_archive: str | None
    enriched_good: str
    enriched_bad: str | None
    enriched_archive: str | None
    enriched_stream: str | None
    manifests: str
    log: str | None
    assets: str
    """EmrEtlRunner's ``aws.s3.buckets.assets``, as written: often Snowplow's hosted bucket."""
    application: tuple[str, str] | None
    """(key, location) the EMR application is uploaded under (``application_location``)."""


_LOG_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "UNKNOWN": logging.CRITICAL,
}


@dataclass(frozen=True)
class PipelineConfig:
    """What the platform needs from a config, derived once; ``file`` keeps every key as written."""

    source: str
    file: ConfigFile
    engine: Literal["local", "emr"]
    stream_mode: bool
    collector_format: str | None
    """None in Stream Enrich mode, where there is nothing to enrich."""
    locations: Locations
    quiet_period_seconds: float
    """``snowplow_dagster.quiet_period_seconds``, or its default for the in-locations' backend."""
    bad_row_ratio_warning: float
    credentials: AwsCredentials
    local_spark: LocalSparkSettings
    log_level: int
    warnings: tuple[str, ...]
    """Ignored keys and the like: worth logging, not worth refusing the file."""


def _pipeline_config(file: ConfigFile, source: str, warnings: list[str]) -> PipelineConfig:
    buckets = file.aws.s3.buckets
    ext = file.snowplow_dagster
    stream = buckets.stream_mode
    raw = None if stream else buckets.raw
    if stream and buckets.raw is not None:
        warnings.append("aws.s3.buckets.raw: ignored because enriched.stream is set")
    raw_in = tuple(raw.in_) if raw else ()
    in_locations = (buckets.enriched.stream,) if buckets.enriched.stream else raw_in
    quiet = ext.quiet_period_seconds
    return PipelineConfig(
        source=source,
        file=file,
        engine=ext.engine,
        stream_mode=stream,
        collector_format=None if stream or file.collectors is None else file.collectors.format,
        locations=Locations(
            raw_in=raw_in,
            raw_processing=raw.processing if raw else None,
            raw_archive=raw.archive if raw else None,
            enriched_good=buckets.enriched.good,
            enriched_bad=buckets.enriched.bad,
            enriched_archive=buckets.enriched.archive,
            enriched_stream=buckets.enriched.stream,
            manifests=_manifests_location(file),
            log=buckets.log,
            assets=buckets.assets,
            application=application_location(file),
        ),
        quiet_period_seconds=quiet_period_default(in_locations) if quiet is None else quiet,
        bad_row_ratio_warning=ext.bad_row_ratio_warning,
        credentials=_credentials(file.aws.access_key_id, file.aws.secret_access_key),
        local_spark=ext.local_spark,
        log_level=_LOG_LEVELS[file.monitoring.logging.level],
        warnings=tuple(warnings),
    )


_PLACEHOLDER = "ADD HERE"


def _placeholders(data: Any, path: str = "") -> Iterator[str]:
    """Key paths still holding the ``ADD HERE`` of Snowplow's sample configs."""
    if isinstance(data, Mapping):
        children = [(f"{path}.{key}" if path else str(key), value) for key, value in data.items()]
    elif isinstance(data, list):
        children = [(f"{path}[{i}]", value) for i, value in enumerate(data)]
    else:
        return
    for key_path, value in children:
        if value == _PLACEHOLDER:
            yield key_path
        yield from _placeholders(value, key_path)


def parse_config(data: Any, *, source: str) -> PipelineConfig:
    """Validate an already-parsed config mapping (e.g. Dagster resource config) in one pass."""
    if not isinstance(data, Mapping):
        raise ConfigError([ConfigIssue("(top level)", "must be a mapping of sections")], source)
    unfilled = list(_placeholders(data))
    issues = [ConfigIssue(key, f"still holds the sample's {_PLACEHOLDER!r}") for key in unfilled]
    try:
        file = ConfigFile.model_validate(data, context=_Facts.of(data))
    except ValidationError as exc:
        # A placeholder explains every other error at its key: report it once.
        issues += [i for i in _issues_from(exc, ConfigFile) if i.key not in unfilled]
    if issues:
        raise ConfigError(issues, source)
    warnings = [f"{key}: unknown key, ignored" for key in _unknown_keys(ConfigFile, data)]
    if file.collectors is not None and file.collectors.format == "ndjson/urbanairship.connect/v1":
        warnings.append(
            "collectors.format: EmrEtlRunner's sample comment says ndjson/urbanairship.connect/v1, "
            "but the vendor is com.urbanairship.connect"
        )
    return _pipeline_config(file, source, warnings)


def load_config_text(
    text: str, *, source: str = "<stdin>", env: Mapping[str, str] | None = None
) -> PipelineConfig:
    """Render, parse and validate config text (``-c -`` reads it from stdin)."""
    try:
        data = _parse_yaml(render_erb(text, os.environ if env is None else env))
    except ConfigError as exc:
        raise ConfigError(list(exc.issues), source) from None
    if data is None:
        raise ConfigError([ConfigIssue("(top level)", "the file is empty")], source)
    return parse_config(data, source=source)


def load_config(path: Path, env: Mapping[str, str] | None = None) -> PipelineConfig:
    """Load an EmrEtlRunner ``config.yml`` as EmrEtlRunner would, then validate all of it."""
    if not path.is_file():
        raise ConfigError([ConfigIssue("config", "does not exist, or is not a file")], str(path))
    return load_config_text(path.read_text(encoding="utf-8"), source=str(path), env=env)
