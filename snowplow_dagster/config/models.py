"""The pydantic models of EmrEtlRunner's ``config.yml``, section by section, and their rules."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ByteSize,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from snowplow_dagster.config.base import (
    _ON_EMR,
    _UNLESS_STREAM,
    Location,
    PropertyMap,
    _facts,
    _Lenient,
    _rule_error,
    _Strict,
)
from snowplow_dagster.config.credentials import _credentials
from snowplow_dagster.config.locations import location_conflicts
from snowplow_dagster.config.spark import (
    check_driver_memory,
    check_local_master,
    spark_property_problems,
)


class RawBuckets(_Strict):
    in_: list[Location] = Field(alias="in", min_length=1)
    processing: Location
    archive: Location


class EnrichedBuckets(_Strict):
    good: Location
    bad: Location | None = Field(default=None, validate_default=True)
    errors: Location | None = None
    archive: Location | None = None
    stream: Location | None = None
    """Set: Stream Enrich mode (R102+), the S3 Loader's output replaces the raw buckets."""

    @field_validator("bad")
    @classmethod
    def _needed_in_batch_mode(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and not _facts(info).stream_mode:
            raise ValueError(_UNLESS_STREAM)
        return value


class ShreddedBuckets(_Strict):
    good: Location | None = None
    bad: Location | None = None
    errors: Location | None = None
    archive: Location | None = None


class Buckets(_Strict):
    assets: Location = "s3://snowplow-hosted-assets/"
    jsonpath_assets: Location | None = None
    log: Location | None = Field(default=None, validate_default=True)
    encrypted: bool = False
    raw: RawBuckets | None = Field(default=None, validate_default=True)
    enriched: EnrichedBuckets
    shredded: ShreddedBuckets | None = None

    @field_validator("log")
    @classmethod
    def _needed_on_emr(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and _facts(info).engine == "emr":
            raise ValueError(f"is required {_ON_EMR} (cluster logs, failed step output)")
        return value

    @field_validator("raw")
    @classmethod
    def _needed_in_batch_mode(cls, value: RawBuckets | None, info: ValidationInfo) -> Any:
        if value is None and not _facts(info).stream_mode:
            raise ValueError(_UNLESS_STREAM)
        return value

    @property
    def stream_mode(self) -> bool:
        return self.enriched.stream is not None

    def data_locations(self) -> Iterator[tuple[str, str]]:
        """(key path, location) of every location data is listed in or moved between."""
        prefix = "aws.s3.buckets"
        if self.raw is not None and not self.stream_mode:
            for i, location in enumerate(self.raw.in_):
                yield f"{prefix}.raw.in[{i}]", location
            yield f"{prefix}.raw.processing", self.raw.processing
            yield f"{prefix}.raw.archive", self.raw.archive
        for name in ("good", "bad", "archive", "stream"):
            location = getattr(self.enriched, name)
            if location is not None:
                yield f"{prefix}.enriched.{name}", location

    @model_validator(mode="after")
    def _disjoint(self) -> Buckets:
        issues = location_conflicts(list(self.data_locations()))
        if issues:
            raise _rule_error(issues)
        return self


class S3Config(_Lenient):
    region: str | None = None
    buckets: Buckets
    consolidate_shredded_output: bool = False


class CoreInstanceEbs(_Lenient):
    volume_size: int = Field(gt=0)
    volume_type: Literal["standard", "gp2", "gp3", "io1", "st1", "sc1"]
    volume_iops: int | None = Field(default=None, gt=0)
    ebs_optimized: bool = True


class Jobflow(_Lenient):
    job_name: str
    master_instance_type: str
    core_instance_count: int = Field(ge=0)
    core_instance_type: str
    core_instance_bid: float | None = Field(default=None, gt=0)
    core_instance_ebs: CoreInstanceEbs | None = None
    task_instance_count: int = Field(default=0, ge=0)
    task_instance_type: str | None = Field(default=None, validate_default=True)
    task_instance_bid: float | None = Field(default=None, gt=0)

    @field_validator("task_instance_type")
    @classmethod
    def _needed_for_tasks(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("task_instance_count", 0) > 0:
            raise ValueError("is required when task_instance_count > 0")
        return value


class Software(_Lenient):
    hbase: str | None = None
    lingual: str | None = None


class EmrConfig(_Lenient):
    ami_version: str
    region: str
    jobflow_role: str
    service_role: str
    placement: str | None = None
    ec2_subnet_id: str | None = None
    ec2_key_name: str | None = None
    security_configuration: str | None = None
    bootstrap: list[str] = Field(default_factory=list)
    software: Software = Field(default_factory=Software)
    jobflow: Jobflow
    bootstrap_failure_tries: int = Field(default=3, ge=1)
    configuration: dict[str, PropertyMap] = Field(default_factory=dict)
    additional_info: str | None = None

    @field_validator("ec2_subnet_id")
    @classmethod
    def _vpc_or_classic(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("placement") is not None:
            raise ValueError("placement and ec2_subnet_id are mutually exclusive; set one")
        return value

    @field_validator("configuration")
    @classmethod
    def _spark_defaults(cls, value: dict[str, PropertyMap]) -> dict[str, PropertyMap]:
        problems = spark_property_problems(value.get("spark-defaults", {}), local_driver=False)
        if problems:
            raise ValueError("spark-defaults: " + "; ".join(problems))
        return value

    @field_validator("additional_info")
    @classmethod
    def _json(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON string ({exc.msg})") from None
        return value


class AwsConfig(_Lenient):
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = Field(default=None, validate_default=True)
    s3: S3Config
    emr: EmrConfig | None = Field(default=None, validate_default=True)

    @field_validator("secret_access_key")
    @classmethod
    def _pair(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if "access_key_id" in info.data:  # else it is invalid, and reported, itself
            _credentials(info.data["access_key_id"], value)
        return value

    @field_validator("emr")
    @classmethod
    def _needed_on_emr(cls, value: EmrConfig | None, info: ValidationInfo) -> EmrConfig | None:
        if value is None and _facts(info).engine == "emr":
            raise ValueError(f"is required {_ON_EMR}")
        return value


_SUPPORTED_FORMATS = (
    "cloudfront, clj-tomcat, tsv/com.amazon.aws.cloudfront/wd_access_log, ndjson/<vendor>/<version>"
)


class Collectors(_Lenient):
    format: str | None = Field(default=None, validate_default=True)

    @field_validator("format")
    @classmethod
    def _supported(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            if not _facts(info).stream_mode:
                raise ValueError(_UNLESS_STREAM)
            return value
        if value in ("cloudfront", "clj-tomcat", "tsv/com.amazon.aws.cloudfront/wd_access_log"):
            return value
        if re.fullmatch(r"ndjson/.+/.+", value):
            return value
        if value == "thrift" or re.fullmatch(r"(json|tsv)/.+/.+", value):
            raise ValueError(
                f"{value!r} is an EmrEtlRunner format snowplow-dagster does not support yet; "
                f"supported: {_SUPPORTED_FORMATS}"
            )
        raise ValueError(f"must be one of {_SUPPORTED_FORMATS}, got {value!r}")


class EnrichVersions(_Lenient):
    spark_enrich: str | None = None


class EnrichConfig(_Lenient):
    versions: EnrichVersions | None = None
    continue_on_unexpected_error: bool = False
    output_compression: Literal["NONE", "GZIP"] = "NONE"


class StorageVersions(_Lenient):
    rdb_loader: str | None = None
    rdb_shredder: str | None = None
    hadoop_elasticsearch: str | None = None


class StorageConfig(_Lenient):
    versions: StorageVersions | None = None


class Logging(_Lenient):
    level: Literal["DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "UNKNOWN"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class SnowplowTracker(_Lenient):
    """EmrEtlRunner's self-tracking (``monitoring.snowplow``)."""

    method: Literal["get", "post"]
    collector: str
    app_id: str
    protocol: Literal["http", "https"] = "http"
    port: int | None = Field(default=None, ge=1, le=65535)


class Monitoring(_Lenient):
    tags: dict[str, str] = Field(default_factory=dict)
    logging: Logging = Field(default_factory=Logging)
    snowplow: SnowplowTracker | None = None


def _local_spark_conf(properties: dict[str, Any]) -> dict[str, Any]:
    problems = spark_property_problems(properties, local_driver=True)
    if problems:
        raise ValueError("; ".join(problems))
    return properties


class LocalSparkSettings(_Strict):
    """What the local engine gives spark-submit; ``snowplow_dagster.config.spark`` says why each
    value is checked as it is."""

    master: Annotated[str, AfterValidator(check_local_master)] = "local[*]"
    driver_memory: Annotated[str, AfterValidator(check_driver_memory)] = "2g"
    conf: Annotated[PropertyMap, AfterValidator(_local_spark_conf)] = Field(default_factory=dict)


class EmrEngineSettings(_Strict):
    """The EMR engine's cluster mode and wait, which EmrEtlRunner took as command-line flags
    (``--use-persistent-jobflow``) or did not have; ``EmrResource`` settings override them."""

    use_persistent_jobflow: bool = False
    create_persistent_jobflow: bool = True
    poll_interval_seconds: float = Field(default=30.0, gt=0)
    timeout_seconds: float = Field(default=12 * 3600.0, ge=0)


class SnowplowDagsterSettings(_Strict):
    """Our extensions to EmrEtlRunner's config; see the package docstring for each key."""

    engine: Literal["local", "emr"] = "local"
    manifests: Location | None = Field(default=None, validate_default=True)
    quiet_period_seconds: int | None = Field(default=None, ge=0)
    """None: ``LOCAL_QUIET_PERIOD_SECONDS`` on local folders, 0 on S3 (``quiet_period_default``)."""
    assets: Location | None = None
    """Where the EMR application bundle is uploaded; see ``application_location``."""
    max_files_per_batch: int = Field(default=10_000, ge=1)
    max_bytes_per_batch: Annotated[ByteSize, Field(gt=0)] = ByteSize(10 * 2**30)
    bad_row_ratio_warning: float = Field(default=0.05, ge=0, le=1)
    max_line_length: int | None = Field(default=None, ge=1)
    """Characters a raw line may have before it becomes a bad row unparsed (the job's
    ``--max-line-length``); None leaves the job's default, far above real traffic."""
    validate_derived_contexts: bool = False
    """Validate the enrichments' derived contexts (ua_parser's) against their Iglu schemas too
    (the job's ``--validate-derived-contexts``); we produce them, so they are trusted by default."""
    local_spark: LocalSparkSettings = Field(default_factory=LocalSparkSettings)
    emr: EmrEngineSettings = Field(default_factory=EmrEngineSettings)

    @field_validator("manifests")
    @classmethod
    def _needs_a_home(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and not _facts(info).log_set:
            raise ValueError("is required when aws.s3.buckets.log is not set")
        return value


LOCAL_QUIET_PERIOD_SECONDS = 60
"""A collector writing into a local folder may still be appending to a file; a file untouched this
long is taken as complete."""
HOSTED_ASSETS = "s3://snowplow-hosted-assets/"
"""Snowplow's public bucket, EmrEtlRunner's default ``aws.s3.buckets.assets``: nobody else can
write there, so our application is never uploaded to it."""


def quiet_period_default(in_locations: tuple[str, ...]) -> int:
    """No wait on S3, where a PUT is atomic (an object is listed only once whole); on a local
    folder, ``LOCAL_QUIET_PERIOD_SECONDS`` for files still being written."""
    on_s3 = bool(in_locations) and all(uri.startswith("s3://") for uri in in_locations)
    return 0 if on_s3 else LOCAL_QUIET_PERIOD_SECONDS


def application_location(file: ConfigFile) -> tuple[str, str] | None:
    """(key path, base location) the EMR application bundle is uploaded under (in
    ``snowplow-dagster/<version>/``, ``bundle.bundle_uris``), and the key an error
    about it names: ``snowplow_dagster.assets``, else ``aws.s3.buckets.assets`` when the user hosts
    their own assets, else the log bucket (a bucket the user owns; EMR requires it). None when
    none of these is set."""
    buckets = file.aws.s3.buckets
    if file.snowplow_dagster.assets is not None:
        return "snowplow_dagster.assets", file.snowplow_dagster.assets
    if not buckets.assets.startswith(HOSTED_ASSETS):
        return "aws.s3.buckets.assets", buckets.assets
    if buckets.log is not None:
        return "aws.s3.buckets.log", buckets.log  # the bundle goes to <log>snowplow-dagster/<v>/
    return None


def _manifests_location(file: ConfigFile) -> str:
    """Manifests default to the log bucket: durable, owned by the pipeline, never claimed from."""
    return file.snowplow_dagster.manifests or f"{file.aws.s3.buckets.log}manifests/"


class ConfigFile(_Strict):
    """The validated ``config.yml``, key for key as the user wrote it (locations normalised).

    Validate it through ``parse_config``, which supplies the context the mode-dependent rules need.
    """

    aws: AwsConfig
    collectors: Collectors | None = Field(default=None, validate_default=True)
    enrich: EnrichConfig = Field(default_factory=EnrichConfig)
    storage: StorageConfig | None = None
    monitoring: Monitoring = Field(default_factory=Monitoring)
    snowplow_dagster: SnowplowDagsterSettings = Field(default_factory=dict, validate_default=True)

    @field_validator("collectors")
    @classmethod
    def _needed_in_batch_mode(cls, value: Collectors | None, info: ValidationInfo) -> Any:
        if value is None and not _facts(info).stream_mode:
            raise ValueError(_UNLESS_STREAM)
        return value

    @model_validator(mode="after")
    def _manifests_apart(self) -> ConfigFile:
        manifests = ("snowplow_dagster.manifests", _manifests_location(self))
        issues = location_conflicts([*self.aws.s3.buckets.data_locations(), manifests])
        if issues:
            raise _rule_error(issues)
        return self
