"""Asset checks: what a batch must satisfy before its raw data leaves processing.

- ``line_conservation`` (blocking): every object of the batch's manifest was read as a file of
  its own, every one of its lines (as counted in the JVM alone) reached the enrichment, and each
  was skipped (a header) or produced output.
- ``bad_row_ratio`` (WARN): bad rows / (events + bad rows) above ``bad_row_ratio_warning``.
- ``output_schema``: sampled good lines have 131 fields and parse with the analytics SDK.
- ``archive_completeness`` (blocking): every manifest object is in the raw archive, once.
"""

import gzip
import io
from collections import Counter
from collections.abc import Collection
from itertools import islice

import dagster as dg
from snowplow_analytics_sdk.event_transformer import transform

from snowplow_dagster.assets.archived import archived_logs
from snowplow_dagster.assets.enriched import enriched_events, output_folders, read_counts
from snowplow_dagster.batches.audit import archive_problems
from snowplow_dagster.batches.manifest import BatchState
from snowplow_dagster.engines.steps import raw_copy_name
from snowplow_dagster.enrich.counts import JobCounts
from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.storage import Location, Storage

SAMPLE_LINES = 1000
"""Lines the schema check parses, from the smallest data file of the good folder: bounded however
large the batch (S3DistCp cuts enriched files near 24 MB)."""

_SHOWN = 10


def conservation_problems(counts: JobCounts, expected: Collection[str]) -> dict[str, list[str]]:
    """What breaks line conservation, by kind, each naming its files; none when nothing is lost.

    ``expected`` are the names the batch's manifest objects have in the job's input folder. Each
    must have been read as a file of its own (a file that joins several objects, as a byte-for-byte
    ``--groupBy`` makes, can merge their lines and is never one of them), with as many lines
    reaching the enrichment as Spark's reader counted in it with no Python involved, and each of
    those skipped or given output. The totals must agree with the per-file counts too.
    """
    objects = counts.objects
    lost = [
        f"{name} ({n['lines']} lines, {n['input_lines']} enriched, "
        f"{n['skipped_lines'] + n['lines_with_output']} accounted for)"
        for name, n in sorted(objects.items())
        if not n["lines"] == n["input_lines"] == n["skipped_lines"] + n["lines_with_output"]
    ]
    totals = [
        f"{key} {total} but {sum(n[key] for n in objects.values())} over the files"
        for key, total in (
            ("input_lines", counts.input_lines),
            ("skipped_lines", counts.skipped_lines),
            ("lines_with_output", counts.lines_with_output),
        )
        if total != sum(n[key] for n in objects.values())
    ]
    accounted = counts.skipped_lines + counts.lines_with_output
    if counts.input_lines != accounted:
        totals.append(f"input_lines {counts.input_lines} but {accounted} skipped or with output")
    return {
        "objects_not_read": sorted(set(expected) - objects.keys()),
        "unexpected_files": sorted(objects.keys() - set(expected)),
        "objects_losing_lines": lost,
        "totals": totals,
    }


@dg.asset_check(asset=enriched_events, blocking=True, partitions_def=batches)
def line_conservation(
    context: dg.AssetCheckExecutionContext, pipeline: SnowplowPipeline
) -> dg.AssetCheckResult:
    """No line lost between the manifest's objects and the output (``conservation_problems``)."""
    config = pipeline.config
    storage = pipeline.storage()
    batch = context.partition_key
    counts = read_counts(storage, config, batch)
    manifest = pipeline.manifest_store(storage).load(batch)
    assert config.collector_format is not None  # batch mode: enriched_events requires it
    expected = [raw_copy_name(config.collector_format, entry.path) for entry in manifest.entries]
    problems = conservation_problems(counts, expected)
    accounted = counts.skipped_lines + counts.lines_with_output
    return dg.AssetCheckResult(
        passed=not any(problems.values()),
        description="; ".join(
            f"{name}: {', '.join(items[:_SHOWN])}" for name, items in problems.items() if items
        )
        or None,
        metadata={
            "manifest_objects": dg.MetadataValue.int(manifest.files),
            "input_lines": dg.MetadataValue.int(counts.input_lines),
            "skipped_lines": dg.MetadataValue.int(counts.skipped_lines),
            "lines_with_output": dg.MetadataValue.int(counts.lines_with_output),
            "lost_lines": dg.MetadataValue.int(counts.input_lines - accounted),
            **{name: dg.MetadataValue.int(len(items)) for name, items in problems.items()},
        },
    )


@dg.asset_check(asset=enriched_events, partitions_def=batches)
def bad_row_ratio(
    context: dg.AssetCheckExecutionContext, pipeline: SnowplowPipeline
) -> dg.AssetCheckResult:
    """A warning, not a stop: a spike of bad rows wants a look, but the good events are good."""
    config = pipeline.config
    counts = read_counts(pipeline.storage(), config, context.partition_key)
    rows = counts.good_events + counts.bad_rows
    ratio = counts.bad_rows / rows if rows else 0.0
    return dg.AssetCheckResult(
        passed=ratio <= config.bad_row_ratio_warning,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "bad_row_ratio": dg.MetadataValue.float(ratio),
            "threshold": dg.MetadataValue.float(config.bad_row_ratio_warning),
        },
    )


def sample_lines(storage: Storage, folder: Location, limit: int = SAMPLE_LINES) -> list[str]:
    """Up to ``limit`` lines of the folder's smallest data file, decompressed only that far."""
    files = [
        info
        for info in storage.list(folder, etags=False)
        if not info.key.rpartition("/")[2].startswith(("_", "."))
    ]
    if not files:
        return []
    smallest = min(files, key=lambda info: (info.size, info.key))
    data = io.BytesIO(storage.read(folder.object(smallest.key)).data)
    stream = gzip.GzipFile(fileobj=data) if smallest.key.endswith(".gz") else data
    return [line.decode("utf-8").rstrip("\n") for line in islice(stream, limit)]


@dg.asset_check(asset=enriched_events, partitions_def=batches)
def output_schema(
    context: dg.AssetCheckExecutionContext, pipeline: SnowplowPipeline
) -> dg.AssetCheckResult:
    """Sampled good lines have the 131 enriched-event fields and parse with the analytics SDK,
    i.e. what Snowplow's loaders will accept."""
    good, _ = output_folders(pipeline.config, context.partition_key)
    lines = sample_lines(pipeline.storage(), good)
    problems: list[str] = []
    event_types: Counter[str] = Counter()
    for number, line in enumerate(lines, 1):
        fields = line.split("\t")
        if len(fields) != len(ENRICHED_EVENT_FIELDS):
            problems.append(f"line {number}: {len(fields)} fields")
            continue
        try:
            event_types[transform(line).get("event", "")] += 1
        except Exception as error:  # the SDK raises several types for a malformed field
            problems.append(f"line {number}: {error}")
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems[:_SHOWN]) or None,
        metadata={
            "sampled_lines": dg.MetadataValue.int(len(lines)),
            "invalid_lines": dg.MetadataValue.int(len(problems)),
            "sample_event_types": dg.MetadataValue.json(dict(event_types)),
        },
    )


@dg.asset_check(asset=archived_logs, blocking=True, partitions_def=batches)
def archive_completeness(
    context: dg.AssetCheckExecutionContext, pipeline: SnowplowPipeline
) -> dg.AssetCheckResult:
    """Every manifest object is in archive/raw/run=<id>/ with its size and ETag, none is left
    in processing, and nothing else is in the archive's run folder (``archive_problems``)."""
    batch = context.partition_key
    storage = pipeline.storage()
    store = pipeline.manifest_store(storage)
    settings = pipeline.claim_settings()
    manifest = store.load(batch)
    problems = archive_problems(storage, manifest, settings.archive, settings.processing)
    return dg.AssetCheckResult(
        passed=not any(problems.values()) and store.state(batch) is BatchState.ARCHIVED,
        description="; ".join(
            f"{name}: {', '.join(paths[:_SHOWN])}" for name, paths in problems.items() if paths
        )
        or None,
        metadata={
            "manifest_files": dg.MetadataValue.int(manifest.files),
            **{name: dg.MetadataValue.int(len(paths)) for name, paths in problems.items()},
        },
    )


asset_checks = [line_conservation, bad_row_ratio, output_schema, archive_completeness]
