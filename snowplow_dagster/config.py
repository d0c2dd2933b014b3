"""EmrEtlRunner configuration (``config.yml``, Iglu resolver, enrichments folder), loaded as it is.

A Snowplow user's ``config.yml`` must work unchanged, so the models mirror EmrEtlRunner 1.0.4's
``ConfigHash`` contract key for key, and everything is checked before anything moves: every problem
is reported at once, each naming its full key path and the file. Secrets never appear in an error,
a ``repr`` or a dump: credentials are ``SecretStr``, values under secret-looking property names are
wrapped too, and errors only echo values of keys that cannot hold one.

Differences from EmrEtlRunner (a superset: every file it accepts is accepted, bar the rules below):

- Keys we do not use (``storage.versions.*``, ``shredded.*``, ``jsonpath_assets``, ...) are
  optional; EmrEtlRunner required some of them even when unused.
- Credentials may be omitted (default AWS chain), ``iam``, ``env``, ``default`` or literal keys.
- Locations may be ``s3://`` (``s3a``/``s3n`` are read as ``s3``), ``file://`` or absolute paths.
- Unknown keys: EmrEtlRunner ignored them everywhere. We reject them where a typo would silently
  change what happens to data: the top level (a misspelt section vanishes), ``aws.s3.buckets``
  (a misspelt location is never read or written) and our own ``snowplow_dagster`` section. Elsewhere
  (``aws``, ``aws.emr``, ``collectors``, ``enrich``, ``storage``, ``monitoring``) they are ignored
  with a warning, because configs carry keys from other EmrEtlRunner versions
  (``storage.targets``, ``enrich.versions.hadoop_enrich``, ...).
- Extra rules: supported collector formats only, ``placement`` xor ``ec2_subnet_id``, counts >= 0,
  bids > 0, ``raw.in`` non-empty, no duplicate YAML keys, no relative paths, and data locations
  that neither overlap nor nest and share one storage backend (``locations.check_locations``).

Our extension section, all keys optional (defaults in ``SnowplowDagsterSettings``)::

    snowplow_dagster:
      engine: local                 # local (default: local Spark, no cloud account) | emr
      manifests: s3://.../manifests # batch manifests; default <aws.s3.buckets.log>manifests/
      quiet_period_seconds: 60      # an in-bucket object is claimed once this old
      max_files_per_batch: 10000    # a backlog becomes several batches
      max_bytes_per_batch: 10GiB    # bytes, or a size such as 512MiB / 10GB
      bad_row_ratio_warning: 0.05   # bad rows / (good + bad) above this fails the asset check
      local_spark:
        master: local[*]
        driver_memory: 2g
        conf: {}                    # extra spark.* settings for the local engine
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    PlainValidator,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from snowplow_dagster.locations import LocationConflict, check_locations
from snowplow_dagster.resources import storage

# --------------------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem, located by key path (``aws.emr.region``) or line (``line 3``)."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(Exception):
    """Every problem found in one input, so a user fixes them all in one pass."""

    def __init__(self, issues: list[ConfigIssue], source: str | None = None) -> None:
        self.issues = tuple(issues)
        self.source = source
        where = f" in {source}" if source else ""
        count = f"{len(self.issues)} error{'s' if len(self.issues) != 1 else ''}"
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"Invalid configuration{where} ({count}):\n{lines}")


_SECRET_NAME = re.compile(
    r"secret|password|passwd|token|key_?id|access_?key|private_?key|api_?key|credential",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a key's value must never be shown (``secret_access_key``, ``fs.s3a.secret.key``)."""
    return bool(_SECRET_NAME.search(name))


# ------------------------------------------------------------------------------------------ ERB

_ERB_TAG = re.compile(r"<%.*?%>", re.DOTALL)
_ERB_ENV = re.compile(r"""<%=\s*ENV\[\s*(['"])([^'"]+)\1\s*\]\s*%>""")


def render_erb(text: str, env: Mapping[str, str]) -> str:
    """Render the ERB subset EmrEtlRunner configs use: ``<%= ENV['X'] %>`` (either quote).

    EmrEtlRunner renders the whole file, comments included, so we do too. Every unset variable and
    every other ERB tag is reported with its line; a variable's value is never part of a message.
    """
    issues: list[ConfigIssue] = []

    def substitute(match: re.Match[str]) -> str:
        line_number = text.count("\n", 0, match.start()) + 1
        line = f"line {line_number}"
        env_match = _ERB_ENV.fullmatch(match.group(0))
        if env_match is None:
            issues.append(
                ConfigIssue(line, "unsupported ERB tag; only <%= ENV['NAME'] %> is supported")
            )
            return ""
        name = env_match.group(2)
        if name not in env:
            issues.append(ConfigIssue(line, f"environment variable {name} is not set"))
            return ""
        return env[name]

    rendered = _ERB_TAG.sub(substitute, text)
    if issues:
        raise ConfigError(issues)
    return rendered


# ------------------------------------------------------------------------------------ locations

_S3_SCHEMES = ("s3://", "s3a://", "s3n://")
_BUCKET = re.compile(r"[A-Za-z0-9._-]+")


def normalise_location(value: str) -> str:
    """A location in the storage layer's canonical form: ``s3://bucket/prefix/``, ``file:///path/``.

    EmrEtlRunner appends the trailing ``/``; the storage layer also folds ``s3a``/``s3n`` into
    ``s3`` and plain paths into ``file://``, so two spellings of one place compare equal. Relative
    paths are refused: they would depend on the working directory of whichever process runs a
    step, and a sample's ``ADD HERE`` placeholder would pass as one.
    """
    if value.startswith(_S3_SCHEMES):
        if not _BUCKET.fullmatch(value.split("://", 1)[1].partition("/")[0]):
            # Not echoed: ``s3://KEY:SECRET@bucket`` is a way to write credentials.
            raise ValueError("must start with a bucket name (letters, digits, '.', '-', '_')")
    elif not value.startswith(("file:///", "/")):
        raise ValueError(
            f"must be s3://bucket/prefix, file:///absolute/path or an absolute path, got {value!r}"
        )
    return storage.Location.parse(value).folder().uri


def location_conflicts(located: list[tuple[str, str]]) -> list[ConfigIssue]:
    """Every pair of (key, location) that ``check_locations`` refuses, not only the first.

    A location on another storage backend is reported once, against the first location, rather
    than against each of the others.
    """
    parsed = [(key, storage.Location.parse(uri)) for key, uri in located]
    issues = []
    for i, (key, location) in enumerate(parsed):
        for j, (other_key, other) in enumerate(parsed[:i]):
            if j > 0 and other.scheme != location.scheme:
                continue
            try:
                check_locations({other_key: other, key: location})
            except LocationConflict as conflict:
                issues.append(ConfigIssue(key, str(conflict)))
    return issues


# ------------------------------------------------------------------------------------- models

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


class LocalSparkSettings(_Strict):
    master: str = "local[*]"
    driver_memory: str = "2g"
    conf: PropertyMap = Field(default_factory=dict)


class SnowplowDagsterSettings(_Strict):
    """Our extensions to EmrEtlRunner's config; see the module docstring for each key."""

    engine: Literal["local", "emr"] = "local"
    manifests: Location | None = Field(default=None, validate_default=True)
    quiet_period_seconds: int = Field(default=60, ge=0)
    max_files_per_batch: int = Field(default=10_000, ge=1)
    max_bytes_per_batch: Annotated[ByteSize, Field(gt=0)] = ByteSize(10 * 2**30)
    bad_row_ratio_warning: float = Field(default=0.05, ge=0, le=1)
    local_spark: LocalSparkSettings = Field(default_factory=LocalSparkSettings)

    @field_validator("manifests")
    @classmethod
    def _needs_a_home(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and not _facts(info).log_set:
            raise ValueError("is required when aws.s3.buckets.log is not set")
        return value


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


# ----------------------------------------------------------------------- validation messages


def _key_path(loc: tuple[str | int, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _describe(value: Any) -> str:
    if isinstance(value, Mapping | list) and value:
        return "a mapping" if isinstance(value, Mapping) else "a list"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _model_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = _fields_by_key(model).get(part)
        model = next(_submodels(field.annotation), None) if field is not None else None
    return model


def _fields_by_key(model: type[BaseModel]) -> dict[str, Any]:
    return {(field.alias or name): field for name, field in model.model_fields.items()}


def _submodels(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _submodels(arg)


def _issues_from(exc: ValidationError, root: type[BaseModel]) -> list[ConfigIssue]:
    """Readable issues from pydantic's errors; an input is echoed only where it cannot be secret."""
    issues = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "config_rule":
            issues += error["ctx"]["issues"]
            continue
        key = _key_path(loc)
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "extra_forbidden":
            parent = _model_at(root, loc[:-1])
            known = list(_fields_by_key(parent)) if parent is not None else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(known)}"
            message = f"unknown key ({hint})"
        elif error["type"] == "value_error":
            message = error["msg"].removeprefix("Value error, ")
        else:
            message = _pydantic_message(error)
            if not any(is_secret_name(str(part)) for part in loc):
                message += f", got {_describe(error['input'])}"
        issues.append(ConfigIssue(key, message))
    return issues


_COMPARISONS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}


def _pydantic_message(error: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    if error["type"] in _COMPARISONS:
        bound = next(iter(ctx.values()))
        return f"must be {_COMPARISONS[error['type']]} {bound:g}"
    if error["type"] == "too_short" and ctx.get("min_length") == 1:
        return "must be a non-empty list"
    return error["msg"].replace("Input should be", "must be")


def _unknown_keys(model: type[BaseModel], data: Any, path: str = "") -> Iterator[str]:
    """Keys a lenient section ignored (strict sections reject theirs during validation)."""
    if not isinstance(data, Mapping):
        return
    fields = _fields_by_key(model)
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        field = fields.get(key)
        if field is None:
            if model.model_config.get("extra") == "ignore":
                yield key_path
            continue
        for sub in _submodels(field.annotation):
            if isinstance(value, Mapping):
                yield from _unknown_keys(sub, value, key_path)


# ----------------------------------------------------------------------------- YAML loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """Psych and PyYAML keep the last of two equal keys; a duplicate is almost always a mistake."""

    duplicates: list[ConfigIssue]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                line = key_node.start_mark.line + 1
                self.duplicates.append(ConfigIssue(f"line {line}", f"duplicate key {key!r}"))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str) -> Any:
    loader = _UniqueKeyLoader(text)
    loader.duplicates = []
    problem = None
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        problem = _yaml_issue(exc)
    finally:
        loader.dispose()
    if problem is not None:
        # Raised outside the handler, so no __context__ carries PyYAML's error along.
        raise ConfigError([problem])
    if loader.duplicates:
        raise ConfigError(loader.duplicates)
    return data


def _yaml_issue(exc: yaml.YAMLError) -> ConfigIssue:
    """Position and problem only: PyYAML's own message quotes the line, maybe a rendered secret."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return ConfigIssue("YAML", "invalid YAML")
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
    return ConfigIssue(where, f"invalid YAML: {exc.problem or exc.context}")


# --------------------------------------------------------------------------- PipelineConfig

CredentialSource = Literal["default", "iam", "env", "static"]


@dataclass(frozen=True)
class AwsCredentials:
    """How to authenticate: the default chain, the EC2 role, the AWS_* env vars, or static keys."""

    source: CredentialSource
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None


def _credentials(key_id: SecretStr | None, secret: SecretStr | None) -> AwsCredentials:
    """The credential source a key pair selects; ValueError (naming no value) if inconsistent."""
    if key_id is None and secret is None:
        return AwsCredentials("default")
    if secret is None:
        raise ValueError("is required when aws.access_key_id is set")
    if key_id is None:
        raise ValueError("is set but aws.access_key_id is not")
    plain = (key_id.get_secret_value(), secret.get_secret_value())
    for keyword in ("default", "iam", "env"):
        if keyword in plain:
            if plain != (keyword, keyword):
                raise ValueError(f"must both be {keyword} when either is (or both literal keys)")
            return AwsCredentials(keyword)
    return AwsCredentials("static", key_id, secret)


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


@dataclass(frozen=True)
class ClaimSettings:
    """How the in-bucket sensor cuts new objects into batches."""

    quiet_period_seconds: int
    max_files_per_batch: int
    max_bytes_per_batch: int


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
    claim: ClaimSettings
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
    return PipelineConfig(
        source=source,
        file=file,
        engine=ext.engine,
        stream_mode=stream,
        collector_format=None if stream or file.collectors is None else file.collectors.format,
        locations=Locations(
            raw_in=tuple(raw.in_) if raw else (),
            raw_processing=raw.processing if raw else None,
            raw_archive=raw.archive if raw else None,
            enriched_good=buckets.enriched.good,
            enriched_bad=buckets.enriched.bad,
            enriched_archive=buckets.enriched.archive,
            enriched_stream=buckets.enriched.stream,
            manifests=_manifests_location(file),
            log=buckets.log,
            assets=buckets.assets,
        ),
        claim=ClaimSettings(
            quiet_period_seconds=ext.quiet_period_seconds,
            max_files_per_batch=ext.max_files_per_batch,
            max_bytes_per_batch=int(ext.max_bytes_per_batch),
        ),
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


# ---------------------------------------------------------------------- resolver, enrichments


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


__all__ = [
    "AwsCredentials",
    "ClaimSettings",
    "ConfigError",
    "ConfigFile",
    "ConfigIssue",
    "Locations",
    "PipelineConfig",
    "SnowplowDagsterSettings",
    "check_enrichments_dir",
    "is_secret_name",
    "load_config",
    "load_config_text",
    "load_resolver",
    "location_conflicts",
    "normalise_location",
    "parse_config",
    "render_erb",
    "reveal",
]
