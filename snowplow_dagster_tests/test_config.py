"""EmrEtlRunner config loading and validation.

``data/config/emretlrunner_sample.yml`` is ``config/config.yml.sample`` of snowplow/emr-etl-runner
as shipped with R117 / 1.0.4, byte for byte; ``emretlrunner_stream_sample.yml`` is
``3-enrich/emr-etl-runner/config/stream_config.yml.sample`` of snowplow/snowplow. A user fills in
their ``ADD HERE`` placeholders and nothing else; the tests do the same.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from snowplow_dagster.config import (
    ConfigError,
    PipelineConfig,
    check_enrichments_dir,
    load_config,
    load_config_text,
    load_resolver,
    normalise_location,
    parse_config,
    render_erb,
    reveal,
)
from snowplow_dagster.config.models import quiet_period_default
from snowplow_dagster.samples import SAMPLE_CONFIGS

DATA = Path(__file__).parent / "data" / "config"
SAMPLES = SAMPLE_CONFIGS

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ENV = {"AWS_SNOWPLOW_ACCESS_KEY": ACCESS_KEY, "AWS_SNOWPLOW_SECRET_KEY": SECRET_KEY}

# What a user in a VPC types over each ADD HERE of the batch sample, in file order.
BATCH_FILL = [
    "eu-west-1",  # aws.s3.region
    "s3://acme-logs",  # log
    "s3://acme-collector-old",  # raw.in[0]
    "s3://acme-collector-new",  # raw.in[1]
    "s3://acme-etl/processing",
    "s3://acme-archive/raw",
    "s3://acme-out/enriched/good",
    "s3://acme-out/enriched/bad",
    "",  # enriched.errors: "Leave blank unless ..."
    "s3://acme-archive/enriched",
    "s3://acme-out/shredded/good",
    "s3://acme-out/shredded/bad",
    "",  # shredded.errors
    "s3://acme-archive/shredded",
    "eu-west-1",  # aws.emr.region
    "",  # placement: "Leave blank otherwise"
    "subnet-0123456789abcdef0",
    "acme-emr",
    "",  # security_configuration
    "snowplow",
    "collector.acme.example",
]
STREAM_FILL = [
    "eu-west-1",
    "s3://acme-logs",
    "s3://acme-out/enriched/good",
    "s3://acme-archive/enriched",
    "s3://acme-loader/enriched",  # enriched.stream
    "s3://acme-out/shredded/good",
    "s3://acme-out/shredded/bad",
    "",
    "s3://acme-archive/shredded",
    "eu-west-1",
    "eu-west-1a",  # placement (not in a VPC)
    "",  # ec2_subnet_id
    "acme-emr",
    "snowplow",
    "collector.acme.example",
]


def filled(name: str, values: list[str]) -> str:
    text = (DATA / name).read_text()
    assert text.count("ADD HERE") == len(values)
    for value in values:
        text = text.replace("ADD HERE", value, 1)
    return text


def batch_data() -> dict[str, Any]:
    """The filled batch sample as a mapping, to break one rule at a time."""
    return yaml.safe_load(render_erb(filled("emretlrunner_sample.yml", BATCH_FILL), ENV))


def issues_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(data, source="config.yml")
    return [str(issue) for issue in raised.value.issues]


# ------------------------------------------------------------------------------------------ ERB


def test_render_erb_substitutes_both_quote_styles_and_keeps_the_rest() -> None:
    text = "a: <%= ENV['A'] %>\nb: <%=ENV[\"B\"]%> # <%= ENV[ 'A' ] %>\nc: plain\n"
    assert render_erb(text, {"A": "1", "B": "two"}) == "a: 1\nb: two # 1\nc: plain\n"


def test_render_erb_names_every_unset_variable_and_its_line_never_a_value() -> None:
    text = "a: <%= ENV['SET'] %>\nb: <%= ENV['MISSING_ONE'] %> <%= ENV['SET'] %>\n"
    text += "c: <%= ENV['X2'] %>\n"
    with pytest.raises(ConfigError) as raised:
        render_erb(text, {"SET": "hunter2"})
    assert [str(i) for i in raised.value.issues] == [
        "line 2: environment variable MISSING_ONE is not set",
        "line 3: environment variable X2 is not set",
    ]
    assert "hunter2" not in str(raised.value)


def test_render_erb_refuses_other_ruby() -> None:
    with pytest.raises(ConfigError, match="line 2: unsupported ERB tag"):
        render_erb("a: 1\nb: <%= `cat /etc/passwd` %>\n", {})


def test_unset_variable_in_a_config_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text((DATA / "emretlrunner_sample.yml").read_text())
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={})
    assert str(raised.value).startswith(f"Invalid configuration in {path} (2 errors)")
    assert "line 3: environment variable AWS_SNOWPLOW_ACCESS_KEY is not set" in str(raised.value)


# ------------------------------------------------------------------------ Snowplow's samples


def test_unfilled_sample_reports_only_its_placeholders() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(DATA / "emretlrunner_sample.yml", env=ENV)
    keys = [issue.key for issue in raised.value.issues]
    assert {issue.message for issue in raised.value.issues} == {
        "still holds the sample's 'ADD HERE'"
    }
    assert len(keys) == 21
    assert "aws.s3.buckets.raw.in[1]" in keys
    assert "monitoring.snowplow.collector" in keys


def test_emretlrunner_sample_loads_unchanged_once_filled_in() -> None:
    config = load_config_text(
        filled("emretlrunner_sample.yml", BATCH_FILL), source="c.yml", env=ENV
    )

    assert config.warnings == ()
    assert (config.engine, config.stream_mode, config.collector_format) == (
        "local",
        False,
        "cloudfront",
    )
    assert config.locations.raw_in == ("s3://acme-collector-old/", "s3://acme-collector-new/")
    assert config.locations.raw_processing == "s3://acme-etl/processing/"
    assert config.locations.enriched_bad == "s3://acme-out/enriched/bad/"
    assert config.locations.manifests == "s3://acme-logs/manifests/"
    assert config.credentials.source == "static"
    assert config.credentials.secret_access_key.get_secret_value() == SECRET_KEY
    assert config.log_level == logging.DEBUG
    emr = config.file.aws.emr
    assert emr.ec2_subnet_id == "subnet-0123456789abcdef0" and emr.placement is None
    assert emr.jobflow.core_instance_bid == 0.015
    assert emr.jobflow.core_instance_ebs.volume_type == "gp2"
    assert reveal(emr.configuration["spark"]) == {"maximizeResourceAllocation": "true"}
    assert config.file.enrich.output_compression == "GZIP"


def test_stream_sample_needs_no_raw_buckets_and_no_collector_format() -> None:
    config = load_config_text(filled("emretlrunner_stream_sample.yml", STREAM_FILL), env=ENV)

    assert config.stream_mode
    assert config.collector_format is None
    assert config.locations.raw_in == ()
    assert config.locations.enriched_stream == "s3://acme-loader/enriched/"
    assert config.locations.enriched_good == "s3://acme-out/enriched/good/"


def test_stream_mode_ignores_raw_buckets_with_a_warning() -> None:
    data = batch_data()
    data["aws"]["s3"]["buckets"]["enriched"]["stream"] = "s3://acme-loader/enriched"
    data["aws"]["s3"]["buckets"]["raw"]["archive"] = "s3://acme-loader/enriched/raw"  # ignored

    config = parse_config(data, source="config.yml")

    assert config.stream_mode and config.locations.raw_processing is None
    assert config.warnings == ("aws.s3.buckets.raw: ignored because enriched.stream is set",)


@pytest.mark.parametrize("name", ["config.yml", "config.emr.yml", "stream_config.yml"])
def test_shipped_configs_load(name: str, tmp_path: Path) -> None:
    env = {**ENV, "SNOWPLOW_DAGSTER_HOME": str(tmp_path)}
    config = load_config(SAMPLES / name, env=env)
    assert config.warnings == ()
    assert config.engine == ("emr" if name == "config.emr.yml" else "local")
    assert config.stream_mode == (name == "stream_config.yml")
    if config.engine == "local":
        assert config.locations.enriched_good == f"file://{tmp_path}/enriched/good/"


# --------------------------------------------------------------------------------------- rules


_DELETE = object()


def _set(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "aws.emr.jobflow.core_instance_count",
            -1,
            "aws.emr.jobflow.core_instance_count: must be >= 0, got -1",
        ),
        (
            "aws.emr.jobflow.task_instance_count",
            -3,
            "aws.emr.jobflow.task_instance_count: must be >= 0, got -3",
        ),
        (
            "aws.emr.jobflow.task_instance_bid",
            0,
            "aws.emr.jobflow.task_instance_bid: must be > 0, got 0",
        ),
        (
            "aws.emr.jobflow.core_instance_bid",
            -0.5,
            "aws.emr.jobflow.core_instance_bid: must be > 0, got -0.5",
        ),
        (
            "aws.emr.placement",
            "eu-west-1a",
            "aws.emr.ec2_subnet_id: placement and ec2_subnet_id are mutually exclusive; set one",
        ),
        ("aws.s3.buckets.raw.in", [], "aws.s3.buckets.raw.in: must be a non-empty list, got []"),
        (
            "aws.s3.buckets.raw.in",
            "s3://acme-collector",
            "aws.s3.buckets.raw.in: must be a valid list, got 's3://acme-collector'",
        ),
        (
            "aws.s3.buckets.raw",
            _DELETE,
            "aws.s3.buckets.raw: is required unless aws.s3.buckets.enriched.stream is set "
            "(Stream Enrich mode)",
        ),
        (
            "aws.s3.buckets.enriched.bad",
            _DELETE,
            "aws.s3.buckets.enriched.bad: is required unless aws.s3.buckets.enriched.stream is "
            "set (Stream Enrich mode)",
        ),
        (
            "collectors",
            _DELETE,
            "collectors: is required unless aws.s3.buckets.enriched.stream is set "
            "(Stream Enrich mode)",
        ),
        (
            "collectors.format",
            None,
            "collectors.format: is required unless aws.s3.buckets.enriched.stream is set "
            "(Stream Enrich mode)",
        ),
        (
            "collectors.format",
            "thrift",
            "collectors.format: 'thrift' is an EmrEtlRunner format snowplow-dagster does not "
            "support yet; supported: cloudfront, clj-tomcat, "
            "tsv/com.amazon.aws.cloudfront/wd_access_log, ndjson/<vendor>/<version>",
        ),
        (
            "enrich.output_compression",
            "ZIP",
            "enrich.output_compression: must be 'NONE' or 'GZIP', got 'ZIP'",
        ),
        (
            "aws.s3.buckets.enriched.archve",
            "s3://acme-archive/e",
            "aws.s3.buckets.enriched.archve: unknown key (did you mean 'archive'?)",
        ),
        (
            "snowplow_dagstr",
            {"engine": "emr"},
            "snowplow_dagstr: unknown key (did you mean 'snowplow_dagster'?)",
        ),
        (
            "aws.s3.buckets.raw.processing",
            "etl/processing",
            "aws.s3.buckets.raw.processing: must be s3://bucket/prefix, file:///absolute/path or "
            "an absolute path, got 'etl/processing'",
        ),
        (
            "aws.emr.additional_info",
            "{not json",
            "aws.emr.additional_info: must be a JSON string (Expecting property name enclosed in "
            "double quotes)",
        ),
        (
            "snowplow_dagster.bad_row_ratio_warning",
            1.5,
            "snowplow_dagster.bad_row_ratio_warning: must be <= 1, got 1.5",
        ),
        (
            "snowplow_dagster.engine",
            "spark",
            "snowplow_dagster.engine: must be 'local' or 'emr', got 'spark'",
        ),
    ],
)
def test_each_rule_names_its_key(key: str, value: Any, expected: str) -> None:
    assert issues_of(_set(batch_data(), key, value)) == [expected]


def test_blank_values_mean_not_set() -> None:
    data = batch_data()
    data["snowplow_dagster"] = None
    _set(data, "aws.emr.bootstrap", None)
    _set(data, "monitoring.tags", "")
    config = parse_config(data, source="c.yml")
    assert (config.engine, config.file.aws.emr.bootstrap, config.file.monitoring.tags) == (
        "local",
        [],
        {},
    )
    assert issues_of(_set(data, "aws.emr.region", " ")) == ["aws.emr.region: is required"]


def test_task_instances_need_a_type() -> None:
    data = batch_data()
    _set(data, "aws.emr.jobflow.task_instance_count", 2)
    _set(data, "aws.emr.jobflow.task_instance_type", None)
    assert issues_of(data) == [
        "aws.emr.jobflow.task_instance_type: is required when task_instance_count > 0"
    ]


@pytest.mark.parametrize(
    "fmt",
    ["cloudfront", "clj-tomcat", "tsv/com.amazon.aws.cloudfront/wd_access_log", "ndjson/com.x/v1"],
)
def test_supported_collector_formats(fmt: str) -> None:
    config = parse_config(_set(batch_data(), "collectors.format", fmt), source="c.yml")
    assert config.collector_format == fmt


@pytest.mark.parametrize("fmt", ["json/com.acme/v1", "tsv/com.acme/v1"])
def test_emretlrunner_formats_without_an_adapter_are_refused(fmt: str) -> None:
    [issue] = issues_of(_set(batch_data(), "collectors.format", fmt))
    assert issue.startswith(f"collectors.format: {fmt!r} is an EmrEtlRunner format")


def test_unknown_keys_in_emretlrunner_sections_are_warnings() -> None:
    data = batch_data()
    _set(data, "aws.emr.jobflow.core_instance_bidd", 0.2)
    _set(data, "storage.download", {"folder": "/tmp"})  # removed in EmrEtlRunner 0.26.0

    config = parse_config(data, source="config.yml")

    assert config.warnings == (
        "aws.emr.jobflow.core_instance_bidd: unknown key, ignored",
        "storage.download: unknown key, ignored",
    )


def test_engine_emr_needs_an_emr_section_and_s3_locations() -> None:
    data = batch_data()
    _set(data, "snowplow_dagster.engine", "emr")
    _set(data, "aws.emr", _DELETE)
    _set(data, "aws.s3.buckets.raw.archive", "file:///srv/archive/raw")
    assert issues_of(data) == [
        "aws.s3.buckets.raw.archive: must be an s3:// location when snowplow_dagster.engine is emr",
        "aws.emr: is required when snowplow_dagster.engine is emr",
    ]


def test_manifests_need_a_home() -> None:
    data = _set(batch_data(), "aws.s3.buckets.log", None)
    assert issues_of(data) == [
        "snowplow_dagster.manifests: is required when aws.s3.buckets.log is not set"
    ]
    data = _set(data, "snowplow_dagster.manifests", "s3://acme-etl/manifests")
    assert parse_config(data, source="c").locations.manifests == "s3://acme-etl/manifests/"


def test_claim_settings_and_sizes() -> None:
    data = _set(batch_data(), "snowplow_dagster", {"max_bytes_per_batch": "512MiB"})
    config = parse_config(data, source="c.yml")
    claim = config.file.snowplow_dagster
    assert claim.max_bytes_per_batch == 512 * 2**20
    assert claim.max_files_per_batch == 10_000
    assert config.bad_row_ratio_warning == 0.05


def test_the_quiet_period_defaults_to_none_on_s3_and_protects_local_files() -> None:
    """A PUT is atomic (an S3 object is listed only once whole); a local file may still grow."""
    assert parse_config(batch_data(), source="c").quiet_period_seconds == 0
    assert quiet_period_default(("file:///data/in-a/", "file:///data/in-b/")) == 60
    kept = _set(batch_data(), "snowplow_dagster", {"quiet_period_seconds": 30})
    assert parse_config(kept, source="c").quiet_period_seconds == 30


def test_the_application_goes_to_a_bucket_the_user_owns_never_snowplow_s_hosted_one() -> None:
    assert batch_data()["aws"]["s3"]["buckets"]["assets"] == "s3://snowplow-hosted-assets"
    hosted = parse_config(batch_data(), source="c")
    assert hosted.locations.application == (
        "aws.s3.buckets.log",
        "s3://acme-logs/",
    )
    own = _set(batch_data(), "aws.s3.buckets.assets", "s3://acme-jars/")
    assert parse_config(own, source="c").locations.application == (
        "aws.s3.buckets.assets",
        "s3://acme-jars/",
    )
    chosen = _set(own, "snowplow_dagster", {"assets": "s3://acme-etl/app"})
    assert parse_config(chosen, source="c").locations.application == (
        "snowplow_dagster.assets",
        "s3://acme-etl/app/",
    )


def test_duplicate_yaml_keys_are_refused() -> None:
    text = filled("emretlrunner_sample.yml", BATCH_FILL).replace(
        "        good: s3://acme-out/enriched/good",
        "        good: s3://acme-out/enriched/good\n        good: s3://acme-out/enriched/good2",
    )
    with pytest.raises(ConfigError, match=r"line 20: duplicate key 'good'"):
        load_config_text(text, env=ENV)


def test_several_errors_are_reported_together() -> None:
    data = batch_data()
    _set(data, "aws.emr.jobflow.core_instance_count", -1)
    _set(data, "aws.emr.placement", "eu-west-1a")
    _set(data, "collectors.format", "thrift")
    _set(data, "aws.s3.buckets.raw.in", [])
    _set(data, "snowplow_dagster.max_files_per_batch", 0)
    _set(data, "aws.s3.buckets.enriched.bad", _DELETE)

    issues = issues_of(data)

    assert len(issues) == 6
    assert any(i.startswith("aws.s3.buckets.enriched.bad: is required unless") for i in issues)
    assert "aws.emr.jobflow.core_instance_count: must be >= 0, got -1" in issues
    assert any(i.startswith("aws.emr.ec2_subnet_id: placement and") for i in issues)
    assert any(i.startswith("collectors.format: 'thrift'") for i in issues)
    assert "aws.s3.buckets.raw.in: must be a non-empty list, got []" in issues
    assert "snowplow_dagster.max_files_per_batch: must be >= 1, got 0" in issues


# ------------------------------------------------------------------------------------- secrets


def _assert_hidden(text: str) -> None:
    assert ACCESS_KEY not in text
    assert SECRET_KEY not in text


def test_secrets_stay_out_of_repr_and_dumps() -> None:
    config = load_config_text(filled("emretlrunner_sample.yml", BATCH_FILL), env=ENV)
    _assert_hidden(repr(config))
    _assert_hidden(str(config.credentials))
    _assert_hidden(config.file.model_dump_json())


@pytest.mark.parametrize(
    "credentials",
    [
        {"access_key_id": [ACCESS_KEY], "secret_access_key": SECRET_KEY},
        {"access_key_id": ACCESS_KEY, "secret_access_key": {"value": SECRET_KEY}},
        {"access_key_id": "iam", "secret_access_key": SECRET_KEY},
        {"access_key_id": ACCESS_KEY},
    ],
)
def test_credential_errors_never_show_the_credentials(credentials: dict[str, Any]) -> None:
    data = batch_data()
    data["aws"].pop("access_key_id")
    data["aws"].pop("secret_access_key")
    data["aws"].update(credentials)
    data["aws"]["emr"]["jobflow"]["core_instance_count"] = -1  # a second error alongside

    with pytest.raises(ConfigError) as raised:
        parse_config(data, source="config.yml")

    assert len(raised.value.issues) == 2
    assert all(i.key.startswith("aws.") for i in raised.value.issues)
    _assert_hidden(str(raised.value))
    _assert_hidden(repr(raised.value.issues))


@pytest.mark.parametrize(
    ("access", "secret", "source"),
    [(None, None, "default"), ("iam", "iam", "iam"), ("env", "env", "env")],
)
def test_credential_sources(access: str | None, secret: str | None, source: str) -> None:
    data = batch_data()
    data["aws"].update({"access_key_id": access, "secret_access_key": secret})
    config = parse_config(data, source="c.yml")
    assert config.credentials.source == source
    assert config.credentials.access_key_id is None


def test_a_secret_that_breaks_the_yaml_is_not_quoted_back() -> None:
    broken = "wJalrXUtnFEMI: K7MDENG"
    text = filled("emretlrunner_sample.yml", BATCH_FILL)
    with pytest.raises(ConfigError) as raised:
        load_config_text(text, env={**ENV, "AWS_SNOWPLOW_SECRET_KEY": broken})
    assert str(raised.value.issues[0]).startswith("line 4, column")
    assert "wJalrXUtnFEMI" not in str(raised.value)
    assert raised.value.__context__ is None or raised.value.__suppress_context__


def test_secret_looking_properties_are_hidden_until_revealed() -> None:
    data = batch_data()
    data["aws"]["emr"]["configuration"]["core-site"] = {"fs.s3.awsSecretAccessKey": SECRET_KEY}
    data["snowplow_dagster"] = {"local_spark": {"conf": {"spark.hadoop.fs.s3a.secret.key": [1]}}}
    [issue] = issues_of(data)
    assert (
        issue
        == "snowplow_dagster.local_spark.conf: spark.hadoop.fs.s3a.secret.key: must be a string"
    )

    data["snowplow_dagster"] = {}
    config = parse_config(data, source="config.yml")
    _assert_hidden(repr(config))
    _assert_hidden(config.file.model_dump_json())
    assert reveal(config.file.aws.emr.configuration["core-site"]) == {
        "fs.s3.awsSecretAccessKey": SECRET_KEY
    }


def test_unknown_keys_are_named_not_shown() -> None:
    data = _set(batch_data(), "storage.targets", [{"name": "rs", "password": SECRET_KEY}])
    config = parse_config(data, source="config.yml")
    assert config.warnings == ("storage.targets: unknown key, ignored",)
    _assert_hidden(repr(config))


# ----------------------------------------------------------------------------------- locations


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("s3://bucket", "s3://bucket/"),
        ("s3a://bucket/a/b", "s3://bucket/a/b/"),
        ("s3n://bucket/a/", "s3://bucket/a/"),
        ("file:///srv/data/in", "file:///srv/data/in/"),
        ("/srv//data/../in", "file:///srv/in/"),
    ],
)
def test_normalise_location(raw: str, normalised: str) -> None:
    assert normalise_location(raw) == normalised


@pytest.mark.parametrize(
    "bad", ["relative/path", "ADD HERE", "s3://", "file://host/x", "hdfs:///local/snowplow"]
)
def test_normalise_location_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_location(bad)


def test_a_location_with_embedded_credentials_is_refused_without_echo() -> None:
    data = _set(batch_data(), "aws.s3.buckets.raw.archive", f"s3://{ACCESS_KEY}:{SECRET_KEY}@b/x")
    assert issues_of(data) == [
        "aws.s3.buckets.raw.archive: must start with a bucket name (letters, digits, '.', '-', '_')"
    ]


def test_nested_and_shared_locations_are_all_refused() -> None:
    data = batch_data()
    _set(data, "aws.s3.buckets.raw.archive", "s3a://acme-collector-new/archive")
    _set(data, "aws.s3.buckets.raw.processing", "s3://acme-collector-old")
    b = "aws.s3.buckets"
    assert issues_of(data) == [
        f"{b}.raw.processing: {b}.raw.in[0] (s3://acme-collector-old/) and {b}.raw.processing "
        "(s3://acme-collector-old/) are the same location",
        f"{b}.raw.archive: {b}.raw.archive (s3://acme-collector-new/archive/) is inside "
        f"{b}.raw.in[1] (s3://acme-collector-new/)",
    ]


def test_one_storage_backend_per_pipeline() -> None:
    data = _set(batch_data(), "aws.s3.buckets.raw.archive", "/srv/archive/raw")
    assert issues_of(data) == [
        "aws.s3.buckets.raw.archive: aws.s3.buckets.raw.in[0] (s3://acme-collector-old/) and "
        "aws.s3.buckets.raw.archive (file:///srv/archive/raw/) are on different storage backends"
    ]


def test_sibling_prefixes_do_not_clash() -> None:
    data = _set(batch_data(), "aws.s3.buckets.enriched.archive", "s3://acme-out/enriched/good-old")
    assert parse_config(data, source="c.yml").locations.enriched_archive == (
        "s3://acme-out/enriched/good-old/"
    )


def test_manifests_must_not_sit_in_a_data_location() -> None:
    data = _set(batch_data(), "snowplow_dagster.manifests", "s3://acme-collector-new/manifests")
    assert issues_of(data) == [
        "snowplow_dagster.manifests: snowplow_dagster.manifests "
        "(s3://acme-collector-new/manifests/) is inside aws.s3.buckets.raw.in[1] "
        "(s3://acme-collector-new/)"
    ]


# ------------------------------------------------------------------ resolver and enrichments


def test_load_resolver_returns_the_json_as_written() -> None:
    resolver = load_resolver(SAMPLES / "iglu_resolver.json")
    assert resolver["schema"] == "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-1"
    embedded, central = resolver["data"]["repositories"][:2]
    assert embedded["connection"]["embedded"]["path"] == "sample_data/iglu"  # the demo's schemas
    assert central["connection"]["http"]["uri"] == "http://iglucentral.com"


def test_resolver_errors_are_reported_together_without_api_keys(tmp_path: Path) -> None:
    path = tmp_path / "resolver.json"
    path.write_text(
        '{"schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/2-0-0",'
        ' "data": {"cacheSize": -1, "repositories": [{"name": "private", "priority": 0,'
        f' "vendorPrefixes": ["com.acme"], "connection": {{"http": {{"uri": "https://iglu",'
        f' "apikey": ["{SECRET_KEY}"]}}}}}}, {{"name": "none", "priority": 1,'
        ' "vendorPrefixes": [], "connection": {}}]}}'
    )
    with pytest.raises(ConfigError) as raised:
        load_resolver(path)
    assert [str(i) for i in raised.value.issues] == [
        "schema: must be iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-*",
        "data.cacheSize: must be >= 0, got -1",
        "data.repositories[0].connection.http.apikey: must be a valid string",
        "data.repositories[1].connection: must have exactly one of http and embedded",
    ]
    assert str(raised.value).startswith(f"Invalid configuration in {path}")
    _assert_hidden(str(raised.value))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"schema": 1,', "line 1, column 14: invalid JSON: Expecting property name"),
        ("[]", "(top level): must be a self-describing JSON (schema and data)"),
    ],
)
def test_unusable_resolver_files(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "resolver.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_resolver(path)


def test_missing_inputs_name_their_path(tmp_path: Path) -> None:
    for load, name in [
        (load_resolver, "resolver"),
        (load_config, "config"),
        (check_enrichments_dir, "enrichments"),
    ]:
        with pytest.raises(ConfigError, match=f"in {tmp_path}/nope .*\n  {name}: does not exist"):
            load(tmp_path / "nope")
    (tmp_path / "file.json").write_text("{}")
    with pytest.raises(ConfigError, match="is not a directory"):
        check_enrichments_dir(tmp_path / "file.json")
    assert check_enrichments_dir(tmp_path) == tmp_path


def test_pipeline_config_is_immutable() -> None:
    config = load_config_text(filled("emretlrunner_sample.yml", BATCH_FILL), env=ENV)
    assert isinstance(config, PipelineConfig)
    with pytest.raises(AttributeError):
        config.engine = "emr"  # type: ignore[misc]


# ------------------------------------------------------------------------ settings Spark reads


@pytest.mark.parametrize(
    ("local_spark", "expected"),
    [
        (
            {"driver_memory": "lots"},
            "snowplow_dagster.local_spark.driver_memory: must be a JVM heap size such as 512m or "
            "2g (digits, then k, m, g or t), got 'lots'",
        ),
        (
            {"driver_memory": 2048},
            "snowplow_dagster.local_spark.driver_memory: must be a JVM heap size such as 512m or "
            "2g (digits, then k, m, g or t), got '2048'",
        ),
        (
            {"driver_memory": "2gb"},
            "snowplow_dagster.local_spark.driver_memory: must be a JVM heap size such as 512m or "
            "2g (digits, then k, m, g or t), got '2gb'",
        ),
        (
            {"driver_memory": "256m"},
            "snowplow_dagster.local_spark.driver_memory: must be at least 450m: Spark will not "
            "start a driver with a smaller heap, got '256m'",
        ),
        (
            {"master": "yarn"},
            "snowplow_dagster.local_spark.master: must be a Spark master the local engine can "
            "use: local, local[*], local[N], local[N,maxFailures] or spark://host:port (EMR runs "
            "on YARN with snowplow_dagster.engine: emr), got 'yarn'",
        ),
        (
            {"master": "local[0]"},
            "snowplow_dagster.local_spark.master: must be a Spark master the local engine can "
            "use: local, local[*], local[N], local[N,maxFailures] or spark://host:port (EMR runs "
            "on YARN with snowplow_dagster.engine: emr), got 'local[0]'",
        ),
        (
            {"conf": {"spark.executor.memory": "4 GB", "executor.cores": 2}},
            "snowplow_dagster.local_spark.conf: spark.executor.memory: must be a size such as "
            "384m or 2g (digits, then b, k, m, g, t or p, optionally followed by b), got '4 GB'; "
            "executor.cores: is not a spark.* property, which spark-submit ignores",
        ),
        (
            {"conf": {"spark.driver.memory": "2gb"}},
            "snowplow_dagster.local_spark.conf: spark.driver.memory: must be a JVM heap size "
            "such as 512m or 2g (digits, then k, m, g or t), got '2gb'",
        ),
        (
            {"conf": {"spark.driver.maxResultSize": "1.5g"}},
            "snowplow_dagster.local_spark.conf: spark.driver.maxResultSize: must be a size such "
            "as 384m or 2g (digits, then b, k, m, g, t or p, optionally followed by b), got '1.5g'",
        ),
    ],
)
def test_spark_settings_are_checked_as_spark_reads_them(
    local_spark: dict[str, Any], expected: str
) -> None:
    assert issues_of(_set(batch_data(), "snowplow_dagster.local_spark", local_spark)) == [expected]


@pytest.mark.parametrize(
    "local_spark",
    [
        {"master": "local", "driver_memory": "450m"},
        {"master": "local[2]", "driver_memory": "1G"},
        {"master": "local[*,3]", "driver_memory": "4096M"},
        {"master": "spark://spark-a:7077,spark-b:7077", "driver_memory": "1t"},
        {"conf": {"spark.driver.maxResultSize": "2g", "spark.executor.memoryOverhead": "384"}},
        {"conf": {"spark.hadoop.fs.s3a.secret.key": "not a size, and never checked as one"}},
    ],
)
def test_spark_settings_spark_accepts(local_spark: dict[str, Any]) -> None:
    config = parse_config(
        _set(batch_data(), "snowplow_dagster.local_spark", local_spark), source="c.yml"
    )
    assert config.local_spark.master == local_spark.get("master", "local[*]")


def test_spark_defaults_bound_for_emr_are_checked_too() -> None:
    data = batch_data()
    data["aws"]["emr"]["configuration"]["spark-defaults"] = {
        "spark.executor.memory": "lots",
        "spark.executor.memoryOverhead": "1g",
        "spark.driver.memory": "2gb",  # cluster mode: Spark reads it, not the JVM
    }
    assert issues_of(data) == [
        "aws.emr.configuration: spark-defaults: spark.executor.memory: must be a size such as "
        "384m or 2g (digits, then b, k, m, g, t or p, optionally followed by b), got 'lots'"
    ]
