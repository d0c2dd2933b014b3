"""``SnowplowPipeline``: the one resource assets, checks and the sensor need.

It stands for an EmrEtlRunner installation: a ``config.yml``, an Iglu resolver and an enrichments
folder. All three are loaded and validated once, when the resource is set up for a run or a sensor
tick, so a bad file fails the run before any object moves, with errors that name the key and never
a secret. Everything else (storage, manifests, claim settings, the engine) is derived from them.

Paths default to ``$SNOWPLOW_DAGSTER_CONFIG``, ``$SNOWPLOW_DAGSTER_RESOLVER`` and
``$SNOWPLOW_DAGSTER_ENRICHMENTS``, then to the bundled samples; they are resolved at set-up, not
when the code location loads, so the location loads with no environment at all.

The engines are nested resources (``local_engine``, ``emr``), each optional: what one leaves unset
comes from the config (``snowplow_dagster.local_spark``, ``snowplow_dagster.emr``). They are
optional fields, not one ``LocalEngine | EmrResource`` field, because Dagster 1.13 recognises a
nested resource only by a resource class or an Optional of one, and a nested resource cannot have a
default instance. A fully configured nested resource is set in ``Definitions`` (code or
``dg.EnvVar``), which also reaches the runs the sensor requests; launchpad run config would not.
"""

from __future__ import annotations

import base64
import enum
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import yaml
from botocore.exceptions import ClientError
from pydantic import Field, PrivateAttr

from snowplow_dagster.batches.claiming import ClaimSettings
from snowplow_dagster.batches.manifest import ManifestStore
from snowplow_dagster.config import (
    ConfigError,
    ConfigIssue,
    PipelineConfig,
    check_enrichments_dir,
    load_config,
    load_resolver,
)
from snowplow_dagster.engines.bundle import bundle_uris, ensure_bundle
from snowplow_dagster.engines.contract import ExecutionEngine
from snowplow_dagster.engines.emr.resource import EmrResource
from snowplow_dagster.engines.local.engine import LocalEngine
from snowplow_dagster.enrich.enrichments.registry import load_enrichments_directory
from snowplow_dagster.samples import SAMPLE_CONFIG, SAMPLE_ENRICHMENTS, SAMPLE_RESOLVER
from snowplow_dagster.storage import (
    Location,
    S3Settings,
    Storage,
    StorageError,
    storage_for,
)

CONFIG_ENV = "SNOWPLOW_DAGSTER_CONFIG"
RESOLVER_ENV = "SNOWPLOW_DAGSTER_RESOLVER"
ENRICHMENTS_ENV = "SNOWPLOW_DAGSTER_ENRICHMENTS"


@dataclass(frozen=True)
class LoadedPipeline:
    """The three inputs, validated; what the resource derives everything else from."""

    config: PipelineConfig
    engine: Literal["local", "emr"]
    resolver: dict[str, Any]
    enrichments: dict[str, Any]


class Engine(enum.Enum):
    LOCAL = "local"
    EMR = "emr"


def _encode(document: Any) -> str:
    """Spark Enrich's ``--enrichments`` / ``--iglu-config`` encoding: base64 of the JSON."""
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


class SnowplowPipeline(dg.ConfigurableResource):
    """An EmrEtlRunner configuration, validated up front, and what runs it."""

    config_path: str | None = Field(
        default=None,
        description=f"EmrEtlRunner config.yml. Default: ${CONFIG_ENV}, else the bundled sample.",
    )
    resolver_path: str | None = Field(
        default=None,
        description=f"Iglu resolver JSON. Default: ${RESOLVER_ENV}, else the bundled sample.",
    )
    enrichments_dir: str | None = Field(
        default=None,
        description=f"Enrichments folder. Default: ${ENRICHMENTS_ENV}, else the bundled sample.",
    )
    engine: Engine | None = Field(
        default=None, description="Overrides snowplow_dagster.engine of the config."
    )
    local_engine: LocalEngine | None = Field(
        default=None,
        description="Local engine settings; unset ones from snowplow_dagster.local_spark.",
    )
    emr: EmrResource | None = Field(
        default=None,
        description="EMR engine settings; unset ones from snowplow_dagster.emr.",
    )

    _loaded: LoadedPipeline | None = PrivateAttr(default=None)
    _init_context: dg.InitResourceContext | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._init_context = context
        loaded = self.load()
        if context.log is not None:
            for warning in loaded.config.warnings:
                context.log.warning(f"{loaded.config.source}: {warning}")

    def load(self) -> LoadedPipeline:
        """Load and validate every input once; ``ConfigError`` names each problem's key."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def _load(self) -> LoadedPipeline:
        config_path = _path(self.config_path, CONFIG_ENV, SAMPLE_CONFIG)
        config = load_config(config_path)
        resolver = load_resolver(_path(self.resolver_path, RESOLVER_ENV, SAMPLE_RESOLVER))
        enrichments_dir = check_enrichments_dir(
            _path(self.enrichments_dir, ENRICHMENTS_ENV, SAMPLE_ENRICHMENTS)
        )
        engine = self.engine.value if self.engine is not None else config.engine
        if config.stream_mode and config.locations.enriched_archive is None:
            raise ConfigError(
                [
                    ConfigIssue(
                        "aws.s3.buckets.enriched.archive",
                        "is required in Stream Enrich mode (enriched.stream is set)",
                    )
                ],
                config.source,
            )
        if engine == "emr":
            # No AWS call: the cluster settings are checked here, before anything moves.
            (self.emr or EmrResource()).settings_for(config)
        return LoadedPipeline(
            config=config,
            engine=engine,
            resolver=resolver,
            enrichments=load_enrichments_directory(enrichments_dir),
        )

    @property
    def config(self) -> PipelineConfig:
        return self.load().config

    def storage(self) -> Storage:
        """The backend of every data location (the config keeps them on one backend)."""
        config = self.config
        s3 = config.file.aws.s3
        settings = S3Settings(
            region_name=s3.region,
            server_side_encryption="AES256" if s3.buckets.encrypted else None,
        )
        return storage_for(config.locations.manifests, settings)

    def manifest_store(self, storage: Storage | None = None) -> ManifestStore:
        location = Location.parse(self.config.locations.manifests)
        return ManifestStore(storage or self.storage(), location)

    def claim_settings(self) -> ClaimSettings:
        """Batch mode: the raw buckets. Stream Enrich mode: the S3 Loader's output is the
        in-location and ``enriched.good`` the "processing" folder, so staging a batch moves its
        files into ``enriched/good/run=<id>/``, as EmrEtlRunner's ``staging_stream_enrich``."""
        config = self.config
        locations = config.locations
        limits = config.file.snowplow_dagster
        if config.stream_mode:
            assert locations.enriched_stream and locations.enriched_archive  # checked in load
            in_locations: tuple[str, ...] = (locations.enriched_stream,)
            processing, archive = locations.enriched_good, locations.enriched_archive
        else:
            assert locations.raw_processing and locations.raw_archive  # batch mode requires them
            in_locations = locations.raw_in
            processing, archive = locations.raw_processing, locations.raw_archive
        return ClaimSettings(
            in_locations=tuple(Location.parse(uri) for uri in in_locations),
            processing=Location.parse(processing),
            archive=Location.parse(archive),
            manifests=Location.parse(locations.manifests),
            stream_mode=config.stream_mode,
            collector_format=config.collector_format,
            quiet_period_seconds=config.quiet_period_seconds,
            max_files_per_batch=limits.max_files_per_batch,
            max_bytes_per_batch=int(limits.max_bytes_per_batch),
        )

    def execution_engine(self) -> ExecutionEngine:
        """The local engine (local Spark) or EMR, as the config or the ``engine`` field says."""
        loaded = self.load()
        if loaded.engine == "local":
            return (self.local_engine or LocalEngine()).for_config(loaded.config)
        emr = self.emr
        if emr is None:
            emr = EmrResource()
            if self._init_context is not None:  # Dagster set up a nested one itself
                emr.setup_for_execution(self._init_context)  # tags clusters: batch and run
        return emr.for_config(loaded.config)

    def enrichments_b64(self) -> str:
        return _encode(self.load().enrichments)

    def resolver_b64(self) -> str:
        return _encode(self.load().resolver)

    def application_uris(self) -> tuple[str, str]:
        """The enrichment application and its dependency archive, per release under the
        application location (``config.models.application_location``: never Snowplow's hosted
        bucket). On EMR they are uploaded first when missing or changed (``ensure_bundle``); the
        local engine runs this installation's, so they are only named."""
        if self.load().engine == "emr":
            return ensure_bundle(self.storage(), self._application_location())
        application = self.config.locations.application
        return bundle_uris(
            Location.parse(application[1] if application else self.config.locations.assets)
        )

    def check_application(self) -> None:
        """On EMR, upload the application now (a no-op when this release is there), so a location
        we cannot write fails before anything is claimed or moved, as a ``ConfigError`` naming
        the key, rather than after staging, in ``enriched_events``."""
        if self.load().engine != "emr":
            return
        application = self.config.locations.application
        assert application is not None  # required on EMR: load() refused the config otherwise
        key, uri = application
        try:
            ensure_bundle(self.storage(), Location.parse(uri))
        except (ClientError, StorageError) as error:
            code = error.response["Error"].get("Code") if isinstance(error, ClientError) else ""
            raise ConfigError(
                [
                    ConfigIssue(
                        key,
                        f"cannot upload the enrichment application under {uri} "
                        f"({code or type(error).__name__}); set snowplow_dagster.assets to an "
                        "s3:// location you can write",
                    )
                ],
                self.config.source,
            ) from None

    def _application_location(self) -> Location:
        application = self.config.locations.application
        assert application is not None  # required on EMR (EmrResource.settings_for)
        return Location.parse(application[1])


def configured_stream_mode() -> bool:
    """Whether the configured ``config.yml`` (``$SNOWPLOW_DAGSTER_CONFIG`` or the sample) is in
    Stream Enrich mode: ``aws.s3.buckets.enriched.stream`` set, as EmrEtlRunner decides it.

    Read when the code location loads, which must succeed with no environment at all: the key is
    read from the YAML without rendering ERB or validating, and an unreadable file means batch
    mode. The file is validated in full when the resource is set up, as before.
    """
    try:
        data = yaml.safe_load(_path(None, CONFIG_ENV, SAMPLE_CONFIG).read_text(encoding="utf-8"))
        return bool(data["aws"]["s3"]["buckets"]["enriched"]["stream"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return False


def _path(value: str | None, env: str, sample: Path) -> Path:
    return Path(value or os.environ.get(env) or sample)
