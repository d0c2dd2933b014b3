"""EMR steps for one batch, as EmrEtlRunner 1.0.4 built them: pure functions of the configuration.

The list is EmrEtlRunner's enrich sequence (``emr_job.rb``): raw ``processing/run=ID/`` (or the
raw archive's, for a re-enrichment) to HDFS,
the Spark enrichment, enriched HDFS to ``enriched/good/run=ID/``, then ``_SUCCESS`` in a step of
its own so that it lands last and marks a complete folder. Staging and archiving are not EMR steps
here: the storage layer moves exactly a batch's manifest, verified.

Where we differ from EmrEtlRunner, and why:

- The application is our PySpark job (``snowplow_dagster.enrich.job``), submitted with its
  dependencies as ``--py-files``; its arguments are Spark Enrich's.
- ``--input-folder`` is the raw HDFS folder itself, not ``raw-events/*``: the job reads folders
  recursively, and a glob is not a folder it can check exists before starting.
- ``--counts-file`` writes the job's line counts to ``<manifests>enrich_counts/<run id>.json``
  (``counts_location``), beside the batch's manifest and markers: the line-conservation check
  reads it, and no Snowplow tool lists the manifests location as data.
- The raw copy never groups files (EmrEtlRunner's ``--groupBy`` for CloudFront): S3DistCp joins a
  group byte for byte, which merges two files' lines when one lacks a final newline. Each raw
  object is one HDFS file; see ``_raw_copy_extras``.
- Every step defaults to ``CANCEL_AND_WAIT``: a failure cancels the rest of the batch's steps on
  a persistent cluster, and a transient cluster with nothing left to run terminates anyway.
"""

from __future__ import annotations

import functools
from typing import TypedDict

from snowplow_dagster.config import PipelineConfig
from snowplow_dagster.engines.contract import ActionOnFailure, StepConfig
from snowplow_dagster.engines.local.s3distcp import copied_name

COMMAND_RUNNER = "command-runner.jar"
DEFAULT_HDFS_ROOT = "hdfs:///local/snowplow"

RAW_TO_HDFS = "[enrich] s3-dist-cp: Raw S3 -> Raw HDFS"
ENRICH = "[enrich] spark: Enrich Raw Events"
ENRICHED_TO_S3 = "[enrich] spark: Enriched HDFS -> S3"
SUCCESS_TO_S3 = "[enrich] spark: Enriched HDFS _SUCCESS -> S3"
"""EmrEtlRunner's names, "spark:" on the copies included, so the EMR console reads as it did."""

PART_GROUP_BY = r".*(part-)\d+-(.*)"
"""Spark's ``part-NNNNN-<job>...`` files of one job into ~24 MB files (sp#3940)."""
SUCCESS_PATTERN = ".*_SUCCESS"


def s3_dist_cp_step(
    name: str,
    *,
    src: str,
    dest: str,
    src_pattern: str | None = None,
    group_by: str | None = None,
    target_size_mb: int | None = None,
    output_codec: str | None = None,
    delete_on_success: bool = False,
    s3_endpoint: str | None = None,
    s3_server_side_encryption: bool = False,
    action_on_failure: ActionOnFailure = "CANCEL_AND_WAIT",
) -> StepConfig:
    """An S3DistCp step (``s3-dist-cp`` through ``command-runner.jar``, EMR 4.0 and later)."""
    args = ["s3-dist-cp", "--src", src, "--dest", dest]
    if src_pattern is not None:
        args += ["--srcPattern", src_pattern]
    if group_by is not None:
        args += ["--groupBy", group_by]
    if target_size_mb is not None:
        args += ["--targetSize", str(target_size_mb)]
    if output_codec is not None:
        args += ["--outputCodec", output_codec]
    if delete_on_success:
        args.append("--deleteOnSuccess")
    if s3_endpoint is not None:
        args += ["--s3Endpoint", s3_endpoint]
    if s3_server_side_encryption:
        args.append("--s3ServerSideEncryption")
    return _step(name, args, action_on_failure)


def spark_enrich_step(
    name: str = ENRICH,
    *,
    app_uri: str,
    py_files_uri: str,
    input_folder: str,
    input_format: str,
    output_folder: str,
    bad_folder: str,
    enrichments_b64: str,
    resolver_b64: str,
    etl_tstamp_ms: int,
    counts_file: str | None = None,
    max_line_length: int | None = None,
    validate_derived_contexts: bool = False,
    action_on_failure: ActionOnFailure = "CANCEL_AND_WAIT",
) -> StepConfig:
    """``spark-submit`` of the enrichment application in YARN cluster mode, Spark Enrich's args.

    ``app_uri`` is the application file and ``py_files_uri`` the archive of our package and its
    pure-Python dependencies, both where the cluster can read them (the assets location).
    """
    args = [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--master",
        "yarn",
        "--py-files",
        py_files_uri,
        app_uri,
        "--input-folder",
        input_folder,
        "--input-format",
        input_format,
        "--output-folder",
        output_folder,
        "--bad-folder",
        bad_folder,
        "--enrichments",
        enrichments_b64,
        "--iglu-config",
        resolver_b64,
        "--etl-timestamp",
        str(etl_tstamp_ms),
    ]
    if counts_file is not None:
        args += ["--counts-file", counts_file]
    if max_line_length is not None:
        args += ["--max-line-length", str(max_line_length)]
    if validate_derived_contexts:
        args.append("--validate-derived-contexts")
    return _step(name, args, action_on_failure)


def counts_location(config: PipelineConfig, batch_id: str) -> str:
    """Where the enrich step writes the batch's line counts (see the module docstring)."""
    return f"{config.locations.manifests}enrich_counts/{batch_id}.json"


def s3_endpoint(region: str | None) -> str | None:
    """EmrEtlRunner's ``--s3Endpoint`` for a region (``utils.rb#get_s3_endpoint``)."""
    if region is None:
        return None
    return "s3.amazonaws.com" if region == "us-east-1" else f"s3-{region}.amazonaws.com"


class _RawCopyExtras(TypedDict, total=False):
    output_codec: str


def _raw_copy_extras(collector_format: str) -> _RawCopyExtras:
    """The per-format ``s3_dist_cp_step`` options of the raw-to-HDFS copy.

    Every raw object becomes one HDFS file of its own: the copy never groups. EmrEtlRunner crushed
    CloudFront (and UrbanAirship) files into ~128 MB files with ``--groupBy``, but S3DistCp
    concatenates a group byte for byte, so a file without a final newline had its last line joined
    to the next file's first, and an event vanished without a count noticing (issue 9). Grouping
    bought fewer, larger Spark tasks; Spark's file source packs small files into tasks of
    ``spark.sql.files.maxPartitionBytes`` (128 MB) by itself, without touching their bytes, and
    gzip files are copied as they are instead of decompressed and compressed again. One file per
    object also lets the job count lines per object, which line conservation compares with the
    batch's manifest.

    Clojure collector logs are still un-gzipped on the way in, since gzip cannot be split
    (sp#3525); each stays its own file.
    """
    if collector_format == "clj-tomcat":
        return {"output_codec": "none"}
    return {}


def raw_copy_name(collector_format: str, path: str) -> str:
    """The name a staged object (``path`` under ``run=ID/``) has on HDFS after the raw copy."""
    codec = _raw_copy_extras(collector_format).get("output_codec")
    return path if codec is None else copied_name(path, codec)


def enrich_steps(
    config: PipelineConfig,
    *,
    batch_id: str,
    input_folder: str,
    enrichments_b64: str,
    resolver_b64: str,
    etl_tstamp_ms: int,
    app_uri: str,
    py_files_uri: str,
    hdfs_root: str = DEFAULT_HDFS_ROOT,
    action_on_failure: ActionOnFailure = "CANCEL_AND_WAIT",
) -> list[StepConfig]:
    """EmrEtlRunner's enrich sequence for one batch (``run=<batch_id>/``), reading its raw objects
    from ``input_folder``: the batch's run folder in processing, or in the raw archive for a
    re-enrichment."""
    if config.stream_mode:
        raise ValueError("Stream Enrich mode has nothing to enrich: its batches have no EMR steps")
    locations = config.locations
    # Batch mode: the configuration has required all three.
    assert config.collector_format and locations.enriched_bad
    run = f"run={batch_id}/"
    raw_hdfs = f"{hdfs_root.rstrip('/')}/raw-events/"
    enriched_hdfs = f"{hdfs_root.rstrip('/')}/enriched-events/"
    good = f"{locations.enriched_good}{run}"
    s3 = config.file.aws.s3
    on_s3 = input_folder.startswith("s3://")
    copy = functools.partial(
        s3_dist_cp_step,
        # An S3 option: meaningless for a pipeline whose locations are local folders.
        s3_endpoint=s3_endpoint(s3.region) if on_s3 else None,
        s3_server_side_encryption=s3.buckets.encrypted,
        action_on_failure=action_on_failure,
    )
    compression = "gz" if config.file.enrich.output_compression == "GZIP" else None
    return [
        copy(
            RAW_TO_HDFS,
            src=input_folder,
            dest=raw_hdfs,
            **_raw_copy_extras(config.collector_format),
        ),
        spark_enrich_step(
            app_uri=app_uri,
            py_files_uri=py_files_uri,
            input_folder=raw_hdfs,
            input_format=config.collector_format,
            output_folder=enriched_hdfs,
            bad_folder=f"{locations.enriched_bad}{run}",
            enrichments_b64=enrichments_b64,
            resolver_b64=resolver_b64,
            etl_tstamp_ms=etl_tstamp_ms,
            counts_file=counts_location(config, batch_id),
            max_line_length=config.file.snowplow_dagster.max_line_length,
            validate_derived_contexts=config.file.snowplow_dagster.validate_derived_contexts,
            action_on_failure=action_on_failure,
        ),
        copy(
            ENRICHED_TO_S3,
            src=enriched_hdfs,
            dest=good,
            group_by=PART_GROUP_BY,
            target_size_mb=24,
            output_codec=compression,
        ),
        copy(SUCCESS_TO_S3, src=enriched_hdfs, dest=good, src_pattern=SUCCESS_PATTERN),
    ]


def _step(name: str, args: list[str], action_on_failure: ActionOnFailure) -> StepConfig:
    return {
        "Name": name,
        "ActionOnFailure": action_on_failure,
        "HadoopJarStep": {"Jar": COMMAND_RUNNER, "Args": args},
    }
