"""EMR step builders: the exact arguments EmrEtlRunner 1.0.4 gave each step, per collector."""

from __future__ import annotations

from pathlib import Path

import pytest

from snowplow_dagster.config import PipelineConfig, load_config, load_config_text
from snowplow_dagster.engines.steps import (
    counts_location,
    enrich_steps,
    raw_copy_name,
    s3_dist_cp_step,
    spark_enrich_step,
)
from snowplow_dagster.samples import SAMPLE_CONFIGS
from snowplow_dagster_tests.test_config import BATCH_FILL, ENV, filled

SAMPLES = SAMPLE_CONFIGS
BATCH = "2026-11-21-10-00-00"
RUN = f"run={BATCH}/"
ENDPOINT = "s3-eu-west-1.amazonaws.com"


def steps_for(config: PipelineConfig) -> list:
    return enrich_steps(
        config,
        batch_id=BATCH,
        input_folder=f"{config.locations.raw_processing}{RUN}",
        enrichments_b64="RU5S",
        resolver_b64="SUdMVQ",
        etl_tstamp_ms=1_700_000_000_000,
        app_uri="s3://assets/snowplow-dagster/0.1.0/job.py",
        py_files_uri="s3://assets/snowplow-dagster/0.1.0/deps.zip",
    )


def emretlrunner_sample(*replacements: tuple[str, str]) -> PipelineConfig:
    text = filled("emretlrunner_sample.yml", BATCH_FILL)
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    return load_config_text(text, env=ENV)


def args(steps: list) -> list[list[str]]:
    return [step["HadoopJarStep"]["Args"] for step in steps]


def test_emr_sample_cloudfront_gzip_is_emretlrunners_sequence() -> None:
    steps = steps_for(load_config(SAMPLES / "config.emr.yml", env=ENV))

    assert [(s["Name"], s["ActionOnFailure"], s["HadoopJarStep"]["Jar"]) for s in steps] == [
        ("[enrich] s3-dist-cp: Raw S3 -> Raw HDFS", "CANCEL_AND_WAIT", "command-runner.jar"),
        ("[enrich] spark: Enrich Raw Events", "CANCEL_AND_WAIT", "command-runner.jar"),
        ("[enrich] spark: Enriched HDFS -> S3", "CANCEL_AND_WAIT", "command-runner.jar"),
        ("[enrich] spark: Enriched HDFS _SUCCESS -> S3", "CANCEL_AND_WAIT", "command-runner.jar"),
    ]
    good = f"s3://acme-snowplow-data/enriched/good/{RUN}"
    assert args(steps) == [
        [
            "s3-dist-cp",
            "--src", f"s3://acme-snowplow-etl/processing/{RUN}",
            "--dest", "hdfs:///local/snowplow/raw-events/",
            "--s3Endpoint", ENDPOINT,
        ],
        [
            "spark-submit", "--deploy-mode", "cluster", "--master", "yarn",
            "--py-files", "s3://assets/snowplow-dagster/0.1.0/deps.zip",
            "s3://assets/snowplow-dagster/0.1.0/job.py",
            "--input-folder", "hdfs:///local/snowplow/raw-events/",
            "--input-format", "cloudfront",
            "--output-folder", "hdfs:///local/snowplow/enriched-events/",
            "--bad-folder", f"s3://acme-snowplow-data/enriched/bad/{RUN}",
            "--enrichments", "RU5S",
            "--iglu-config", "SUdMVQ",
            "--etl-timestamp", "1700000000000",
            "--counts-file", f"s3://acme-snowplow-logs/emr/manifests/enrich_counts/{BATCH}.json",
        ],
        [
            "s3-dist-cp",
            "--src", "hdfs:///local/snowplow/enriched-events/",
            "--dest", good,
            "--groupBy", r".*(part-)\d+-(.*)",
            "--targetSize", "24",
            "--outputCodec", "gz",
            "--s3Endpoint", ENDPOINT,
        ],
        [
            "s3-dist-cp",
            "--src", "hdfs:///local/snowplow/enriched-events/",
            "--dest", good,
            "--srcPattern", ".*_SUCCESS",
            "--s3Endpoint", ENDPOINT,
        ],
    ]  # fmt: skip


def test_emretlrunner_sample_filled_in_gives_the_same_steps_on_its_buckets() -> None:
    raw, spark, enriched, success = args(steps_for(emretlrunner_sample()))

    assert raw[:5] == ["s3-dist-cp", "--src", f"s3://acme-etl/processing/{RUN}", "--dest", raw[4]]
    assert raw[5:] == ["--s3Endpoint", ENDPOINT]
    assert spark[spark.index("--bad-folder") + 1] == f"s3://acme-out/enriched/bad/{RUN}"
    assert spark[spark.index("--counts-file") + 1] == (
        f"s3://acme-logs/manifests/enrich_counts/{BATCH}.json"
    )
    assert enriched[enriched.index("--dest") + 1] == f"s3://acme-out/enriched/good/{RUN}"
    assert enriched[-4:] == ["--outputCodec", "gz", "--s3Endpoint", ENDPOINT]
    assert success[-4:] == ["--srcPattern", ".*_SUCCESS", "--s3Endpoint", ENDPOINT]


@pytest.mark.parametrize(
    ("collector_format", "extras", "hdfs_name"),
    [
        ("cloudfront", [], "E2.2026-11-21-10.a.gz"),
        ("tsv/com.amazon.aws.cloudfront/wd_access_log", [], "E2.2026-11-21-10.a.gz"),
        ("ndjson/com.urbanairship.connect/v1", [], "E2.2026-11-21-10.a.gz"),
        ("clj-tomcat", ["--outputCodec", "none"], "E2.2026-11-21-10.a"),
        ("ndjson/com.acme/v1", [], "E2.2026-11-21-10.a.gz"),
    ],
)
def test_the_raw_copy_never_groups_files(
    collector_format: str, extras: list[str], hdfs_name: str
) -> None:
    """S3DistCp's --groupBy concatenates byte for byte, joining the last line of a file without a
    final newline to the next file's first: raw objects are copied one file each."""
    config = emretlrunner_sample(("format: cloudfront", f"format: {collector_format}"))
    raw, spark, *_ = args(steps_for(config))

    assert raw[5:] == [*extras, "--s3Endpoint", ENDPOINT]
    assert spark[spark.index("--input-format") + 1] == collector_format
    assert raw_copy_name(collector_format, "E2.2026-11-21-10.a.gz") == hdfs_name


def test_no_compression_leaves_the_codec_out_of_the_enriched_copy() -> None:
    config = emretlrunner_sample(('output_compression: "GZIP"', 'output_compression: "NONE"'))
    enriched = args(steps_for(config))[2]

    assert "--outputCodec" not in enriched
    assert enriched[-2:] == ["--s3Endpoint", ENDPOINT]


def test_encrypted_buckets_add_sse_to_every_copy_and_us_east_1_its_endpoint() -> None:
    config = emretlrunner_sample(
        ("encrypted: false", "encrypted: true"), ("region: eu-west-1", "region: us-east-1")
    )
    copies = [a for a in args(steps_for(config)) if a[0] == "s3-dist-cp"]

    assert len(copies) == 3
    for copy in copies:
        assert copy[-3:] == ["--s3Endpoint", "s3.amazonaws.com", "--s3ServerSideEncryption"]


def test_local_locations_get_no_s3_endpoint(tmp_path: Path) -> None:
    config = load_config(SAMPLES / "config.yml", env={"SNOWPLOW_DAGSTER_HOME": str(tmp_path)})
    raw, _, enriched, success = args(steps_for(config))

    assert raw[2] == f"file://{tmp_path}/raw/processing/{RUN}"
    assert "--s3Endpoint" not in raw + enriched + success


def test_a_re_enrichment_reads_the_folder_it_is_given_and_writes_the_same_outputs() -> None:
    config = load_config(SAMPLES / "config.emr.yml", env=ENV)
    archive = f"s3://acme-snowplow-archive/raw/{RUN}"

    from_archive = enrich_steps(
        config,
        batch_id=BATCH,
        input_folder=archive,
        enrichments_b64="RU5S",
        resolver_b64="SUdMVQ",
        etl_tstamp_ms=1_700_000_000_000,
        app_uri="s3://assets/snowplow-dagster/0.1.0/job.py",
        py_files_uri="s3://assets/snowplow-dagster/0.1.0/deps.zip",
    )

    staged = steps_for(config)
    first = args(from_archive)[0]
    assert first[first.index("--src") + 1] == archive
    assert from_archive[1:] == staged[1:]
    assert [a for a in first if a != archive] == [
        a for a in args(staged)[0] if "processing" not in a
    ]


def test_counts_file_lives_with_the_manifests() -> None:
    config = load_config(SAMPLES / "config.emr.yml", env=ENV)

    assert counts_location(config, BATCH) == (
        f"s3://acme-snowplow-logs/emr/manifests/enrich_counts/{BATCH}.json"
    )


def test_max_line_length_reaches_the_job_only_when_set() -> None:
    """``snowplow_dagster.max_line_length`` becomes the job's ``--max-line-length``; unset, the job
    keeps its own default."""
    text = (SAMPLES / "config.emr.yml").read_text()
    assert "snowplow_dagster:\n" in text
    limited = load_config_text(
        text.replace("snowplow_dagster:\n", "snowplow_dagster:\n  max_line_length: 65536\n"),
        env=ENV,
    )
    enrich = args(steps_for(limited))[1]
    assert enrich[enrich.index("--max-line-length") + 1] == "65536"
    assert (
        "--max-line-length"
        not in args(steps_for(load_config(SAMPLES / "config.emr.yml", env=ENV)))[1]
    )


def test_validate_derived_contexts_reaches_the_job_only_when_set() -> None:
    """``snowplow_dagster.validate_derived_contexts: true`` becomes the job's
    ``--validate-derived-contexts``; unset or false, the job trusts its derived contexts."""
    text = (SAMPLES / "config.emr.yml").read_text()
    assert "snowplow_dagster:\n" in text

    def enrich_args(setting: str) -> list[str]:
        config = load_config_text(
            text.replace("snowplow_dagster:\n", f"snowplow_dagster:\n{setting}"), env=ENV
        )
        return args(steps_for(config))[1]

    on = enrich_args("  validate_derived_contexts: true\n")
    assert on.count("--validate-derived-contexts") == 1
    assert "--validate-derived-contexts" not in enrich_args("  validate_derived_contexts: false\n")
    assert "--validate-derived-contexts" not in enrich_args("")
    # The rest of the step is unchanged.
    assert [a for a in on if a != "--validate-derived-contexts"] == enrich_args("")


def test_stream_mode_has_no_enrich_steps(tmp_path: Path) -> None:
    config = load_config(
        SAMPLES / "stream_config.yml", env={"SNOWPLOW_DAGSTER_HOME": str(tmp_path)}
    )

    with pytest.raises(ValueError, match="Stream Enrich mode"):
        steps_for(config)


def test_s3_dist_cp_step_with_every_option() -> None:
    step = s3_dist_cp_step(
        "copy",
        src="s3://a/in/",
        dest="hdfs:///x/",
        src_pattern=".*\\.gz",
        group_by="(.*)",
        target_size_mb=64,
        output_codec="gz",
        delete_on_success=True,
        s3_endpoint="s3.amazonaws.com",
        s3_server_side_encryption=True,
        action_on_failure="CONTINUE",
    )

    assert step == {
        "Name": "copy",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "s3-dist-cp", "--src", "s3://a/in/", "--dest", "hdfs:///x/",
                "--srcPattern", ".*\\.gz", "--groupBy", "(.*)", "--targetSize", "64",
                "--outputCodec", "gz", "--deleteOnSuccess", "--s3Endpoint", "s3.amazonaws.com",
                "--s3ServerSideEncryption",
            ],
        },
    }  # fmt: skip


def test_spark_enrich_step_without_counts_file() -> None:
    step = spark_enrich_step(
        app_uri="s3://a/job.py",
        py_files_uri="s3://a/deps.zip",
        input_folder="hdfs:///in/",
        input_format="clj-tomcat",
        output_folder="hdfs:///out/",
        bad_folder="s3://b/bad/",
        enrichments_b64="E",
        resolver_b64="R",
        etl_tstamp_ms=5,
    )

    assert step["Name"] == "[enrich] spark: Enrich Raw Events"
    assert step["HadoopJarStep"]["Args"][-2:] == ["--etl-timestamp", "5"]
