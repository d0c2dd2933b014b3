"""The enrichment Spark application: Spark Enrich's command line, our per-line core, Hadoop I/O.

Run as ``python -m snowplow_dagster.enrich.job`` or ``spark-submit .../job.py`` with Spark
Enrich's arguments. Everything the job touches is named by URI (``hdfs://``, ``s3://``,
``file://`` or a plain path on Hadoop's default file system), so the same command runs on a laptop
and on EMR in cluster deploy mode.

The shape of a run, and why:

- Configuration is decoded and an ``Enricher`` is built on the driver before Spark reads anything,
  so a bad enrichments JSON or input format fails in seconds, not after a cluster has spun up.
- Input is read with Spark's text data source: it streams lines file by file (gzip by extension, as
  Hadoop does), recurses into instance sub-folders, and names the file when one cannot be read.
- Each partition builds (or reuses) one ``Enricher`` per Python worker and turns lines into tagged
  records: good TSV lines, bad-row JSON lines and one tally per partition (line counts, and good
  events by type and by unstruct event, read off each TSV line as it goes by, and the lines that
  took longest). The records are persisted to disk, so the counts and the two outputs are read
  from one computation; counts are exact even when tasks are retried, which accumulators would
  not guarantee.
- A line longer than ``--max-line-length`` characters is a bad row without being parsed, so no
  single line can hold a task for long; the slowest lines are in the counts, to find any that do.
- Outputs are written with Spark's text data source in overwrite mode, as Spark Enrich wrote them:
  lines verbatim (no quoting), ``part-NNNNN-<uuid>-c000.txt[.gz]`` names (what EmrEtlRunner's
  compaction step's ``--groupBy`` expects), the folder and ``_SUCCESS`` even when there is nothing
  to write, and an earlier attempt's output replaced.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import itertools
import json
import logging
import operator
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import unquote

from py4j.java_gateway import is_instance_of
from py4j.protocol import Py4JJavaError
from pyspark import SparkConf, SparkContext, StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from snowplow_dagster.enrich.counts import EVENT_TYPES, JobCounts
from snowplow_dagster.enrich.enricher import DEFAULT_MAX_LINE_LENGTH, Enricher
from snowplow_dagster.enrich.iglu import check_self_describing
from snowplow_dagster.enrich.iglu_resolver import Resolver, ResolverConfigError

APP_NAME = "snowplow-enrich"
_TAGGED_SCHEMA = "tag int, value string"
_RESOLVER_CONFIG = ("com.snowplowanalytics.iglu", "resolver-config", "jsonschema", 1)

# Suffixes Hadoop maps to a codec when one is registered; without it the bytes are read as text.
_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".lzo", ".snappy", ".zst", ".lz4", ".deflate")

# Tags of the records one partition emits: an output line, or the partition's tally.
_GOOD, _BAD, _TALLY = 0, 1, 2

UNSTRUCT_EVENTS_SHOWN = 20
"""Unstruct events counted by name in the counts file; the rest are summed as ``other``. Names
come from trackers (any self-describing schema passes), so they are bounded here, not trusted."""

SLOWEST_LINES_SHOWN = 5
"""Lines reported in the counts as the slowest to enrich."""
SLOW_LINE_START = 60
"""Characters of each slowest line shown, enough to find it in the input (date, time, edge)."""

# Columns of the 131-field TSV: ``event`` from the left; event_vendor and event_name from the
# right (``rsplit`` leaves six columns after the prefix: event_vendor is the first).
_EVENT_COLUMN = 5
_LAST_COLUMNS = 6

logger = logging.getLogger(__name__)


class UsageError(ValueError):
    """The command line or the configuration it carries is unusable; nothing has been read.

    Not ``snowplow_dagster.config.ConfigError``: that one reports ``config.yml`` issues by key, and
    this job runs on EMR from the bundle, which does not carry the config package's pydantic."""


class InputReadError(RuntimeError):
    """An input file cannot be read (corrupt gzip, truncated upload, hidden name); names it."""


@dataclass(frozen=True, slots=True)
class EnricherSpec:
    """Everything a worker needs to build its ``Enricher``; hashable, so it keys the cache."""

    input_format: str
    enrichments_json: str
    etl_timestamp_ms: int
    iglu_config_json: str | None = None
    """The resolver JSON: each worker builds its own resolver, so schemas are fetched and
    compiled once per worker process."""
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH
    validate_derived_contexts: bool = False

    def build(self) -> Enricher:
        iglu = None if self.iglu_config_json is None else json.loads(self.iglu_config_json)
        return Enricher.from_config(
            self.input_format,
            self.enrichments_json,
            self.etl_timestamp_ms,
            iglu,
            max_line_length=self.max_line_length,
            validate_derived_contexts=self.validate_derived_contexts,
        )


@dataclass(frozen=True, slots=True)
class JobConfig:
    """The decoded command line: checked once on the driver, then only the spec travels."""

    input_folder: str
    output_folder: str
    bad_folder: str
    enricher: EnricherSpec
    iglu_config: dict[str, Any] | None
    """The Iglu resolver config, validated; the workers validate with it (``EnricherSpec``)."""
    local: bool
    output_compression: str
    counts_file: str | None


# --- configuration ---------------------------------------------------------------------------


class _ArgumentParser(argparse.ArgumentParser):
    """Raises instead of exiting, so ``run_job`` can be called in-process."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _argument_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog=APP_NAME, description="Snowplow batch enrichment on Spark.")
    parser.add_argument("--input-folder", required=True)
    parser.add_argument("--input-format", required=True)
    parser.add_argument("--output-folder", required=True)
    parser.add_argument("--bad-folder", required=True)
    parser.add_argument("--enrichments", required=True, help="base64 enrichments JSON")
    parser.add_argument("--iglu-config", help="base64 Iglu resolver JSON")
    parser.add_argument("--etl-timestamp", required=True, type=int, help="milliseconds")
    parser.add_argument("--local", action="store_true", help="local master unless one is given")
    parser.add_argument(
        "--output-compression", choices=("none", "gzip"), default="none", help="of good events"
    )
    parser.add_argument("--counts-file", help="URI of a JSON file to write the counts to")
    parser.add_argument(
        "--max-line-length",
        type=int,
        default=DEFAULT_MAX_LINE_LENGTH,
        help="characters; a longer line is a bad row without being enriched",
    )
    parser.add_argument(
        "--validate-derived-contexts",
        action="store_true",
        help="validate the enrichments' derived contexts too (needs --iglu-config)",
    )
    return parser


def decode_base64_json(value: str, what: str) -> Any:
    """Decode base64 JSON as leniently as commons-codec: either alphabet, padding optional."""
    text = "".join(value.split()).translate(str.maketrans("+/", "-_")).rstrip("=")
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"--{what} is not base64-encoded JSON: {error}") from error


def parse_args(argv: Sequence[str]) -> JobConfig:
    """Decode and check the whole command line; raises UsageError naming what is wrong."""
    args = _argument_parser().parse_args(list(argv))
    if args.etl_timestamp < 0:
        raise UsageError(
            f"--etl-timestamp must be milliseconds since the epoch: {args.etl_timestamp}"
        )
    if args.max_line_length < 1:
        raise UsageError(f"--max-line-length must be at least 1: {args.max_line_length}")
    if args.validate_derived_contexts and args.iglu_config is None:
        raise UsageError("--validate-derived-contexts needs --iglu-config")
    enrichments = decode_base64_json(args.enrichments, "enrichments")
    iglu_config = None
    if args.iglu_config is not None:
        iglu_config = decode_base64_json(args.iglu_config, "iglu-config")
        _, errors = check_self_describing(iglu_config, expected=_RESOLVER_CONFIG)
        if errors:
            raise UsageError(f"--iglu-config is not an Iglu resolver config: {'; '.join(errors)}")
        try:
            Resolver.from_config(iglu_config)
        except ResolverConfigError as error:
            raise UsageError(f"--iglu-config: {error}") from error
    return JobConfig(
        input_folder=args.input_folder,
        output_folder=args.output_folder,
        bad_folder=args.bad_folder,
        enricher=EnricherSpec(
            input_format=args.input_format,
            enrichments_json=json.dumps(enrichments, separators=(",", ":"), ensure_ascii=False),
            etl_timestamp_ms=args.etl_timestamp,
            iglu_config_json=None if iglu_config is None else json.dumps(iglu_config),
            max_line_length=args.max_line_length,
            validate_derived_contexts=args.validate_derived_contexts,
        ),
        iglu_config=iglu_config,
        local=args.local,
        output_compression=args.output_compression,
        counts_file=args.counts_file,
    )


def _check_enricher(spec: EnricherSpec) -> None:
    """Build the enricher once on the driver: a bad config fails here, before any Spark work."""
    try:
        _enricher(spec)
    except Exception as error:
        raise UsageError(f"cannot build the enrichment pipeline: {error}") from error


# --- the per-partition work (runs in Python workers) ------------------------------------------


@functools.lru_cache(maxsize=4)
def _enricher(spec: EnricherSpec) -> Enricher:
    """One Enricher per worker process and config: MaxMind readers cannot be pickled, and
    building the registry per task would cost more than enriching a small partition."""
    return spec.build()


def enrich_partition(
    spec: EnricherSpec, rows: Iterable[tuple[str, int]]
) -> Iterator[tuple[int, Any]]:
    """Tagged output records for one partition of ``(value, file)`` rows, then the partition's
    tally; ``file`` is the id of the line's input file (``_file_id``), under which the tally
    counts its lines too.

    A good line's type is read with a split that stops at its column (~0.3 µs, under 1% of what
    the core spends on the event); only unstruct events are split again, from the right, for
    their name. Timing each line costs two clock reads (~0.1 µs).
    """
    process_line = _enricher(spec).process_line
    input_lines = skipped = with_output = good = bad = 0
    types: Counter[str] = Counter()
    unstruct: Counter[str] = Counter()
    file_lines: Counter[int] = Counter()
    file_skipped: Counter[int] = Counter()
    file_output: Counter[int] = Counter()
    slowest: list[tuple[float, int, str]] = []
    slow = 0.0  # how long a line must take to be among the slowest so far
    clock = time.perf_counter
    for line, file in rows:
        input_lines += 1
        file_lines[file] += 1
        started = clock()
        result = process_line(line)
        elapsed = clock() - started
        if elapsed > slow:
            slowest.append((elapsed, len(line), line[:SLOW_LINE_START]))
            slowest.sort(reverse=True)
            del slowest[SLOWEST_LINES_SHOWN:]
            if len(slowest) == SLOWEST_LINES_SHOWN:
                slow = slowest[-1][0]
        if result.good or result.bad:
            with_output += 1
            file_output[file] += 1
            good += len(result.good)
            bad += len(result.bad)
            for tsv in result.good:
                kind = tsv.split("\t", _EVENT_COLUMN + 1)[_EVENT_COLUMN]
                types[kind] += 1
                if kind == "unstruct":
                    _, vendor, name, *_ = tsv.rsplit("\t", _LAST_COLUMNS)
                    unstruct[f"{vendor}/{name}"] += 1
                yield _GOOD, tsv
            for row in result.bad:
                yield _BAD, row
        elif result.skipped:
            skipped += 1
            file_skipped[file] += 1
    tally = (
        input_lines,
        skipped,
        with_output,
        good,
        bad,
        types,
        unstruct,
        file_lines,
        file_skipped,
        file_output,
        slowest,
    )
    yield _TALLY, json.dumps(tally, separators=(",", ":"))


_COUNTERS = 5
"""The tally's counters follow its first five plain counts."""


def _read_tally(text: str) -> tuple[Any, ...]:
    """A partition's tally back from JSON (file ids, JSON object keys, back to ints)."""
    tally = json.loads(text)
    lines, counters, slowest = tally[:_COUNTERS], tally[_COUNTERS:-1], tally[-1]
    types, unstruct, *per_file = counters
    return (
        *lines,
        Counter(types),
        Counter(unstruct),
        *(Counter({int(file): n for file, n in counts.items()}) for counts in per_file),
        slowest,
    )


def _add_tallies(left: tuple[Any, ...], right: tuple[Any, ...]) -> tuple[Any, ...]:
    """Element-wise sum of two tallies: ints and Counters add, the slowest-line lists join."""
    return tuple(map(operator.add, left, right))


def top_counts(counts: Mapping[str, int], shown: int = UNSTRUCT_EVENTS_SHOWN) -> dict[str, int]:
    """The ``shown`` largest counts, most frequent first and ties by name (so a rerun writes the
    same file), with the rest summed as ``other`` when there is a rest.

    ``other`` cannot be taken for a counted name: those are ``vendor/name``.
    """
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    top = dict(ranked[:shown])
    rest = sum(count for _, count in ranked[shown:])
    if rest:
        top["other"] = rest
    return top


def _job_counts(tally: tuple[Any, ...], files: Mapping[str, tuple[int | None, int]]) -> JobCounts:
    """The job's counts from the summed tally and ``files`` (each input file's id and the lines
    the JVM counted in it): every standard type listed, names bounded, every file counted."""
    lines, (types, unstruct, file_lines, file_skipped, file_output, slowest) = (
        tally[:_COUNTERS],
        tally[_COUNTERS:],
    )
    return JobCounts(
        *lines,
        event_types={**dict.fromkeys(EVENT_TYPES, 0), **types},
        unstruct_events=top_counts(unstruct),
        objects={
            path: {
                "lines": physical,
                "input_lines": file_lines[file],
                "skipped_lines": file_skipped[file],
                "lines_with_output": file_output[file],
            }
            for path, (file, physical) in sorted(files.items())
        },
        slowest_lines=[
            {"seconds": round(seconds, 6), "characters": characters, "line_start": start}
            for seconds, characters, start in sorted(slowest, reverse=True)[:SLOWEST_LINES_SHOWN]
        ],
    )


# --- Hadoop file system, through the JVM gateway ----------------------------------------------


def _hadoop_path(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    """The Hadoop FileSystem and Path for a URI: the same code serves hdfs://, s3:// and file:."""
    sc = spark.sparkContext
    path = sc._jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(sc._jsc.hadoopConfiguration()), path


def _qualified(spark: SparkSession, uri: str) -> str:
    fs, path = _hadoop_path(spark, uri)
    return fs.makeQualified(path).toString().rstrip("/") + "/"


def _check_folders(spark: SparkSession, config: JobConfig) -> None:
    """Refuse to start when the input is missing, or when replacing one output folder would
    delete the input or the other output."""
    fs, path = _hadoop_path(spark, config.input_folder)
    if not fs.exists(path):
        raise UsageError(f"--input-folder does not exist: {config.input_folder}")
    folders = {
        "--input-folder": config.input_folder,
        "--output-folder": config.output_folder,
        "--bad-folder": config.bad_folder,
    }
    qualified = {flag: _qualified(spark, folder) for flag, folder in folders.items()}
    for one, other in itertools.combinations(folders, 2):
        if qualified[one].startswith(qualified[other]) or qualified[other].startswith(
            qualified[one]
        ):
            raise UsageError(f"{one} {folders[one]} overlaps {other} {folders[other]}")


def is_invisible(relative_path: str) -> bool:
    """Whether Spark's file readers skip a file (a path component starts with '_' or '.').

    Hadoop's own markers and checksums are expected there and hold no events.
    """
    parts = relative_path.split("/")
    name = parts[-1]
    if name == "_SUCCESS" or (name.startswith(".") and name.endswith(".crc")):
        return False
    return any(part.startswith(("_", ".")) for part in parts)


def _check_input_files(spark: SparkSession, folder: str) -> list[str]:
    """The input files Spark will read (paths below ``folder``); refuses to start when Spark
    would silently leave input files out, or read compressed files as text.

    Clojure collector logs are published as ``_var_log_tomcat8_...``: reading such a folder as
    it is would lose them without a word. A ``.lzo`` file without hadoop-lzo registered would
    be read as binary "lines", each one a bad row.
    """
    sc = spark.sparkContext
    fs, path = _hadoop_path(spark, folder)
    codecs = sc._jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(
        sc._jsc.hadoopConfiguration()
    )
    root = _qualified(spark, folder)
    invisible, undecodable, visible = [], [], []
    files = fs.listFiles(path, True)
    while files.hasNext():
        status = files.next()
        uri = status.getPath().toString()
        relative = uri.removeprefix(root)
        if any(part.startswith(("_", ".")) for part in relative.split("/")):
            if is_invisible(relative) and status.getLen() > 0:
                invisible.append(uri)
            continue
        visible.append(relative)
        if uri.endswith(_COMPRESSED_SUFFIXES) and codecs.getCodec(status.getPath()) is None:
            undecodable.append(uri)
    if invisible:
        raise InputReadError(
            f"{len(invisible)} input file(s) would be skipped because Hadoop and Spark ignore "
            f"names starting with '_' or '.': {_some(invisible)}. Strip the leading characters "
            "when staging, as EmrEtlRunner's --groupBy '.*/_*(.+)' does for Clojure collector logs"
        )
    if undecodable:
        raise InputReadError(
            f"no Hadoop compression codec is registered for {len(undecodable)} input file(s): "
            f"{_some(undecodable)}. Add it to io.compression.codecs (for .lzo, hadoop-lzo's "
            "com.hadoop.compression.lzo.LzopCodec) or stage the files gzip-compressed"
        )
    return visible


def _some(uris: list[str], shown: int = 5) -> str:
    more = f" and {len(uris) - shown} more" if len(uris) > shown else ""
    return ", ".join(uris[:shown]) + more


def _write_text_file(spark: SparkSession, uri: str, text: str) -> None:
    """Write a small text file anywhere Hadoop can (the counts file), replacing what was there."""
    fs, path = _hadoop_path(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def _file_path() -> Column:
    """The file a line was read from, as a URI (%-escaped)."""
    return F.col("_metadata.file_path")


def _file_id() -> Column:
    """A 64-bit id of the file a line was read from, computed in the JVM, for per-file counts."""
    return F.xxhash64(_file_path())


# --- the job ------------------------------------------------------------------------------------


def _read_error(spark: SparkSession, error: Py4JJavaError) -> InputReadError | None:
    """The input file a failed Spark job could not read, from Spark's FAILED_READ_FILE error.

    Spark 4 wraps reader failures in a SparkException with condition ``FAILED_READ_FILE.*`` whose
    ``path`` parameter names the file; the root cause says what was wrong with it.
    """
    gateway = spark.sparkContext._gateway
    path = None
    cause = error.java_exception
    root = cause
    while cause is not None:
        root = cause
        if path is None and is_instance_of(gateway, cause, "org.apache.spark.SparkThrowable"):
            condition = cause.getCondition()
            if condition is not None and condition.startswith("FAILED_READ_FILE"):
                path = cause.getMessageParameters().get("path")
        cause = cause.getCause()
    if path is None:
        return None
    return InputReadError(f"cannot read input file {path}: {root.toString()}")


def _file_lines(
    spark: SparkSession, lines: DataFrame, folder: str, files: Iterable[str]
) -> dict[str, tuple[int | None, int]]:
    """Each input file's id (``_file_id``) and lines, counted in the JVM alone: a second read of
    the files that no Python code takes part in. A file without a line (empty) has no id."""
    root = _qualified(spark, folder)
    counted = (
        lines.select(_file_path().alias("path"), _file_id().alias("file"))
        .groupBy("path", "file")
        .count()
        .collect()
    )
    found = {unquote(row.path).removeprefix(root): (row.file, row["count"]) for row in counted}
    ids = Counter(file for file, _ in found.values())
    clashes = sorted(path for path, (file, _) in found.items() if ids[file] > 1)
    if clashes:  # 64-bit ids: not for any real batch, but a count must never be shared
        raise RuntimeError(f"input files with one id, cannot count them apart: {clashes}")
    return {path: found.get(path, (None, 0)) for path in files} | found


def _enrich(spark: SparkSession, config: JobConfig, files: Iterable[str]) -> JobCounts:
    """Enrich every input line once, in Python; then count and write from the JVM.

    The tagged records become a DataFrame persisted on disk, so the tallies and both outputs are
    read from one computation and filtered by the JVM: Python sees each line once, instead of
    once per output. Each line travels with its file's 64-bit id rather than its path, a few
    bytes instead of a hundred.
    """
    lines = (
        spark.read.option("recursiveFileLookup", "true")
        .option("ignoreCorruptFiles", "false")
        .option("ignoreMissingFiles", "false")
        .text(config.input_folder)
    )
    records = lines.select("value", _file_id().alias("file")).rdd.mapPartitions(
        functools.partial(enrich_partition, config.enricher)
    )
    tagged = spark.createDataFrame(records, _TAGGED_SCHEMA, verifySchema=False)
    tagged.persist(StorageLevel.DISK_ONLY)
    try:
        try:
            tallies = tagged.filter(tagged.tag == _TALLY).select("value").collect()
        except Py4JJavaError as error:
            read_error = _read_error(spark, error)
            if read_error is None:
                raise
            raise read_error from None
        zero = (0, 0, 0, 0, 0, *(Counter() for _ in range(5)), [])
        tally = functools.reduce(_add_tallies, (_read_tally(row.value) for row in tallies), zero)
        physical = _file_lines(spark, lines, config.input_folder, files)
        good_codec = "gzip" if config.output_compression == "gzip" else "none"
        outputs = ((_GOOD, config.output_folder, good_codec), (_BAD, config.bad_folder, "none"))
        for tag, folder, codec in outputs:
            tagged.filter(tagged.tag == tag).select("value").write.mode("overwrite").option(
                "compression", codec
            ).text(folder)
    finally:
        tagged.unpersist()
    return _job_counts(tally, physical)


def _session(local: bool) -> SparkSession:
    """The job's own session; ``--local`` sets ``local[*]`` unless spark-submit gave a master.

    In local mode Python workers must run this interpreter (the one with our packages), not
    whatever ``python3`` is first on PATH.
    """
    builder = SparkSession.builder.appName(APP_NAME)
    if local:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        SparkContext._ensure_initialized()  # loads spark-submit's conf, so SparkConf() sees it
        builder = builder.master(SparkConf().get("spark.master", "local[*]"))
    return builder.getOrCreate()


def run_job(argv: Sequence[str], spark: SparkSession | None = None) -> JobCounts:
    """Run the enrichment job; with ``spark`` given it runs in that session and leaves it open.

    Raises UsageError before any data is read when the command line or configuration is
    unusable, and InputReadError naming the file when an input file cannot be read or would be
    skipped.
    """
    config = parse_args(argv)
    _check_enricher(config.enricher)
    owned = spark is None
    if spark is None:
        spark = _session(config.local)
    try:
        _check_folders(spark, config)
        files = _check_input_files(spark, config.input_folder)
        counts = _enrich(spark, config, files)
        logger.info(counts.to_json())
        if config.counts_file:
            _write_text_file(spark, config.counts_file, counts.to_json() + "\n")
        return counts
    finally:
        if owned:
            spark.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: 0 on success, 2 for a bad configuration, 1 when the input is bad."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        run_job(sys.argv[1:] if argv is None else argv)
    except UsageError as error:
        print(f"{APP_NAME}: configuration error: {error}", file=sys.stderr)
        return 2
    except InputReadError as error:
        print(f"{APP_NAME}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # Run through the importable module, so the functions Spark ships to workers are pickled by
    # reference to ``snowplow_dagster.enrich.job`` rather than by value from ``__main__``.
    from snowplow_dagster.enrich.job import main as _main

    sys.exit(_main())
