"""The enrichment Spark application, end to end on local Spark.

Inputs come from the project's log generator; the per-line core is the real one, so these tests
prove what Spark adds: reading every file, distributing the core without losing or duplicating a
line, writing both outputs, counting, and failing loudly on unreadable input or configuration.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from snowplow_dagster.enrich import job
from snowplow_dagster.enrich.counts import EVENT_TYPES, JobCounts
from snowplow_dagster.enrich.enricher import Enricher
from snowplow_dagster.enrich.enrichments.registry import load_enrichments_directory
from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS, FIELD_INDEX
from snowplow_dagster.enrich.job import InputReadError, UsageError, run_job
from snowplow_dagster.generator import write_log_files
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS

ETL_TIMESTAMP_MS = 1_700_000_000_000
FAILURE_TSTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def enrichments() -> dict:
    return load_enrichments_directory(SAMPLE_ENRICHMENTS)


def encode(document: object) -> str:
    """Base64 the way EmrEtlRunner passes it: URL-safe alphabet, no padding."""
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def job_args(tmp_path: Path, input_format: str, enrichments: dict, *extra: str) -> list[str]:
    return [
        "--input-folder", str(tmp_path / "in"),
        "--input-format", input_format,
        "--output-folder", str(tmp_path / "good"),
        "--bad-folder", f"file://{tmp_path / 'bad'}",
        "--enrichments", encode(enrichments),
        "--etl-timestamp", str(ETL_TIMESTAMP_MS),
        *extra,
    ]  # fmt: skip


def write_staged_tomcat_logs(folder: Path, events: int, **options: object) -> None:
    """Clojure collector logs as staging leaves them: Beanstalk's leading '_' stripped."""
    for path in write_log_files(folder, "clj-tomcat", events, **options):
        path.rename(path.with_name(path.name.lstrip("_")))


def replace_arg(args: list[str], flag: str, value: str) -> list[str]:
    args = list(args)
    args[args.index(flag) + 1] = value
    return args


def input_lines(folder: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            lines.extend(line.rstrip("\r\n") for line in handle)
    return lines


def output_lines(folder: Path) -> list[str]:
    assert (folder / "_SUCCESS").is_file()
    lines: list[str] = []
    for path in sorted(folder.glob("part-*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            lines.extend(handle.read().splitlines())
    return lines


def bad_lines(rows: list[str]) -> Counter[str]:
    return Counter(json.loads(row)["line"] for row in rows)


def core_outcome(input_format: str, enrichments: dict, lines: list[str]) -> tuple:
    """(good events, bad rows' lines, skipped lines) of the per-line core, in one process."""
    enricher = Enricher.from_config(input_format, enrichments, ETL_TIMESTAMP_MS)
    results = [enricher.process_line(line) for line in lines]
    return (
        sum(len(r.good) for r in results),
        bad_lines([row for r in results for row in r.bad]),
        sum(r.skipped for r in results),
    )


def assert_event_counts(counts: JobCounts, good: list[str]) -> None:
    """Per-type and per-unstruct-event counts are the output's, and add up to ``good_events``."""
    event, vendor, name = (FIELD_INDEX[f] for f in ("event", "event_vendor", "event_name"))
    fields = [line.split("\t") for line in good]
    by_type = Counter(f[event] for f in fields)
    unstruct = Counter(f"{f[vendor]}/{f[name]}" for f in fields if f[event] == "unstruct")
    assert list(counts.event_types) == list(EVENT_TYPES)  # every type, 0 or not
    assert counts.event_types == {kind: by_type[kind] for kind in EVENT_TYPES}
    assert sum(counts.event_types.values()) == counts.good_events
    assert counts.unstruct_events == unstruct
    assert sum(counts.unstruct_events.values()) == counts.event_types["unstruct"]


def assert_bad_rows(rows: list[str], inputs: list[str]) -> None:
    known = set(inputs)
    for text in rows:
        row = json.loads(text)
        assert list(row) == ["line", "errors", "failure_tstamp"]
        assert row["line"] in known
        assert row["errors"]
        assert all(set(error) == {"level", "message"} for error in row["errors"])
        assert FAILURE_TSTAMP.match(row["failure_tstamp"])


@pytest.mark.spark
def test_cloudfront_nested_gzip_and_plain_files(spark, tmp_path, enrichments):
    write_log_files(tmp_path / "in" / "i-1", "cloudfront", 300, files=2, bad_fraction=0.2)
    write_log_files(
        tmp_path / "in" / "i-2" / "sub", "cloudfront", 200, gzip=False, seed=1, bad_fraction=0.2
    )
    inputs = input_lines(tmp_path / "in")
    counts_file = tmp_path / "counts" / "counts.json"

    counts = run_job(
        job_args(tmp_path, "cloudfront", enrichments, "--counts-file", str(counts_file)), spark
    )

    good = output_lines(tmp_path / "good")
    bad = output_lines(tmp_path / "bad")
    assert counts.input_lines == len(inputs)
    assert counts.input_lines == counts.skipped_lines + counts.lines_with_output
    assert counts.skipped_lines == sum(line.startswith("#") for line in inputs)
    assert (counts.good_events, counts.bad_rows) == (len(good), len(bad))
    assert counts.bad_rows > 0
    assert (len(good), bad_lines(bad), counts.skipped_lines) == core_outcome(
        "cloudfront", enrichments, inputs
    )
    assert all(len(line.split("\t")) == len(ENRICHED_EVENT_FIELDS) == 131 for line in good)
    assert_bad_rows(bad, inputs)
    assert_event_counts(counts, good)
    assert all(counts.event_types.values())  # the generator's mix has every type
    assert counts.unstruct_events.keys() == {"com.snowplowanalytics.snowplow/link_click"}
    assert json.loads(counts_file.read_text()) == json.loads(counts.to_json())


@pytest.mark.spark
def test_clj_tomcat_post_lines_carry_several_events_gzip_output(spark, tmp_path, enrichments):
    for seed, instance in enumerate(("i-1", "i-2")):
        write_staged_tomcat_logs(
            tmp_path / "in", 200, files=2, seed=seed, bad_fraction=0.1, instance=instance
        )
    inputs = input_lines(tmp_path / "in")

    counts = run_job(
        job_args(tmp_path, "clj-tomcat", enrichments, "--output-compression", "gzip"), spark
    )

    assert all(path.suffix == ".gz" for path in (tmp_path / "good").glob("part-*"))
    good = output_lines(tmp_path / "good")
    bad = output_lines(tmp_path / "bad")
    assert counts.input_lines == len(inputs) == counts.skipped_lines + counts.lines_with_output
    assert counts.good_events + counts.bad_rows > counts.lines_with_output  # TP2 POST batches
    assert (len(good), bad_lines(bad), counts.skipped_lines) == core_outcome(
        "clj-tomcat", enrichments, inputs
    )
    assert all(len(line.split("\t")) == 131 for line in good)
    assert_bad_rows(bad, inputs)
    assert_event_counts(counts, good)


@pytest.mark.spark
def test_rerun_replaces_the_previous_output(spark, tmp_path, enrichments):
    write_log_files(tmp_path / "in", "cloudfront", 100, files=2, bad_fraction=0.2)
    args = job_args(tmp_path, "cloudfront", enrichments)

    first = run_job(args, spark)
    second = run_job(args, spark)

    assert first == second
    assert len(output_lines(tmp_path / "good")) == second.good_events
    assert len(output_lines(tmp_path / "bad")) == second.bad_rows


@pytest.mark.spark
def test_empty_input_still_writes_both_folders(spark, tmp_path, enrichments):
    (tmp_path / "in").mkdir()

    counts = run_job(job_args(tmp_path, "cloudfront", enrichments), spark)

    assert counts == JobCounts()
    assert json.loads(counts.to_json())["event_types"] == dict.fromkeys(EVENT_TYPES, 0)
    assert output_lines(tmp_path / "good") == output_lines(tmp_path / "bad") == []


def truncated_gzip(path: Path) -> None:
    data = gzip.compress(b"".join(b"line %d\n" % i for i in range(5000)))
    path.write_bytes(data[: len(data) // 2])


def not_gzip(path: Path) -> None:
    path.write_text("this file is plain text\nbut its name says gzip\n")


@pytest.mark.spark
@pytest.mark.parametrize("corrupt", [truncated_gzip, not_gzip])
def test_unreadable_gzip_fails_naming_the_file(spark, tmp_path, enrichments, corrupt):
    write_log_files(tmp_path / "in" / "i-1", "cloudfront", 50)
    (tmp_path / "in" / "i-2").mkdir()
    corrupt(tmp_path / "in" / "i-2" / "broken.gz")

    with pytest.raises(InputReadError, match=r"/in/i-2/broken\.gz"):
        run_job(job_args(tmp_path, "cloudfront", enrichments), spark)
    assert not (tmp_path / "good").exists()
    assert not (tmp_path / "bad").exists()


@pytest.mark.spark
@pytest.mark.parametrize(
    ("flag", "folder", "message"),
    [
        ("--output-folder", "in/good", "--input-folder .* overlaps --output-folder"),
        ("--bad-folder", "good", "--output-folder .* overlaps --bad-folder"),
    ],
)
def test_overlapping_folders_are_refused(spark, tmp_path, enrichments, flag, folder, message):
    write_log_files(tmp_path / "in", "cloudfront", 10)
    args = replace_arg(job_args(tmp_path, "cloudfront", enrichments), flag, str(tmp_path / folder))

    with pytest.raises(UsageError, match=message):
        run_job(args, spark)
    assert not (tmp_path / folder).exists()


@pytest.mark.spark
def test_files_spark_would_skip_are_refused(spark, tmp_path, enrichments):
    written = write_log_files(tmp_path / "in", "clj-tomcat", 20, instance="i-1")

    with pytest.raises(InputReadError, match=re.escape(written[0].name) + ".*--groupBy"):
        run_job(job_args(tmp_path, "clj-tomcat", enrichments), spark)


@pytest.mark.spark
def test_compressed_files_without_a_codec_are_refused(spark, tmp_path, enrichments):
    write_log_files(tmp_path / "in", "cloudfront", 20)
    (tmp_path / "in" / "E123.2026-11-21.lzo").write_bytes(b"\x89LZO\x00\r\n\x1a\n")

    with pytest.raises(InputReadError, match=r"codec .*E123\.2026-11-21\.lzo.*LzopCodec"):
        run_job(job_args(tmp_path, "cloudfront", enrichments), spark)


def test_unstruct_event_counts_keep_the_most_frequent_and_sum_the_rest():
    counts = {f"com.acme/e{i:02}": 100 - i for i in range(25)} | {"com.acme/tie": 95}

    top = job.top_counts(counts, shown=6)

    assert list(top) == [*(f"com.acme/e{i:02}" for i in range(5)), "com.acme/e05", "other"]
    assert top["other"] == sum(counts.values()) - sum(100 - i for i in range(6))
    assert job.top_counts({"com.acme/a": 1, "com.acme/b": 2}) == {"com.acme/b": 2, "com.acme/a": 1}


@pytest.mark.parametrize(
    ("path", "invisible"),
    [
        ("i-1/_var_log_tomcat8_rotated_localhost_access_log.txt1502463662.gz", True),
        ("_logs/E123.2026-11-21-10.abc.gz", True),
        (".hidden.gz", True),
        ("i-1/var_log_tomcat8_rotated_localhost_access_log.txt1502463662.gz", False),
        ("run=2026-11-21-10-00-00/E123.2026-11-21-10.abc.gz", False),
        ("_SUCCESS", False),
        ("i-1/.E123.gz.crc", False),
    ],
)
def test_which_files_spark_skips(path, invisible):
    assert job.is_invisible(path) is invisible


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: replace_arg(a, "--input-format", "thrift-ish"), "input format|thrift-ish"),
        (lambda a: replace_arg(a, "--enrichments", "%%%not base64"), "--enrichments"),
        (lambda a: replace_arg(a, "--enrichments", encode({"data": "nope"})), "enrichment"),
        (lambda a: replace_arg(a, "--etl-timestamp", "yesterday"), "--etl-timestamp"),
        (lambda a: [*a, "--iglu-config", encode({"schema": "x"})], "--iglu-config"),
        (lambda a: a[2:], "--input-folder"),
    ],
    ids=["format", "base64", "enrichments", "timestamp", "iglu", "missing"],
)
def test_bad_configuration_fails_before_spark_starts(
    tmp_path, enrichments, monkeypatch, change, message
):
    def no_spark(local: bool) -> None:
        raise AssertionError("Spark was started for a bad configuration")

    monkeypatch.setattr(job, "_session", no_spark)
    with pytest.raises(UsageError, match=message):
        run_job(change(job_args(tmp_path, "cloudfront", enrichments)))


def test_iglu_resolver_config_is_accepted():
    resolver = {
        "schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-1",
        "data": {"cacheSize": 500, "repositories": []},
    }
    args = ["--input-folder", "a", "--input-format", "cloudfront", "--output-folder", "b"]
    args += ["--bad-folder", "c", "--enrichments", encode({"schema": "s", "data": []})]
    args += ["--etl-timestamp", "0", "--iglu-config", encode(resolver)]

    assert job.parse_args(args).iglu_config == resolver


@pytest.mark.parametrize(
    "encoded",
    [
        base64.urlsafe_b64encode(b'{"k":"\xc3\xa9??>"}').decode(),
        base64.urlsafe_b64encode(b'{"k":"\xc3\xa9??>"}').decode().rstrip("="),
        base64.b64encode(b'{"k":"\xc3\xa9??>"}').decode(),
        base64.b64encode(b'{"k":"\xc3\xa9??>"}').decode().rstrip("="),
    ],
    ids=["url-safe padded", "url-safe bare", "standard padded", "standard bare"],
)
def test_base64_in_either_alphabet_with_or_without_padding(encoded):
    assert "-" in encoded or "+" in encoded or "/" in encoded or "_" in encoded
    assert job.decode_base64_json(encoded, "enrichments") == {"k": "é??>"}


def run_command_line(tmp_path: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "snowplow_dagster.enrich.job", "--local", *args]
    env = dict(os.environ, PYSPARK_SUBMIT_ARGS="--master local[2] pyspark-shell")
    env.pop("PYSPARK_PYTHON", None)  # --local must pick this interpreter for the workers
    return subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False
    )


@pytest.mark.spark
def test_command_line_end_to_end(tmp_path, enrichments):
    write_staged_tomcat_logs(tmp_path / "in", 100, files=2, bad_fraction=0.1)
    counts_file = tmp_path / "counts.json"
    args = job_args(tmp_path, "clj-tomcat", enrichments, "--counts-file", f"file://{counts_file}")

    done = run_command_line(tmp_path, args)

    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(counts_file.read_text())
    assert json.loads(done.stdout.strip().splitlines()[-1]) == counts
    assert counts["input_lines"] == counts["skipped_lines"] + counts["lines_with_output"] > 0
    assert len(output_lines(tmp_path / "good")) == counts["good_events"]
    assert len(output_lines(tmp_path / "bad")) == counts["bad_rows"]
    assert sum(counts["event_types"].values()) == counts["good_events"]


def test_main_exit_codes_and_messages(tmp_path, enrichments, monkeypatch, capsys):
    args = job_args(tmp_path, "cloudfront", enrichments)
    assert job.main(replace_arg(args, "--input-format", "nope")) == 2
    assert "snowplow-enrich: configuration error:" in capsys.readouterr().err

    def unreadable(argv):
        raise InputReadError("cannot read input file hdfs:///raw/cut.gz: java.io.EOFException")

    monkeypatch.setattr(job, "run_job", unreadable)
    assert job.main(args) == 1
    assert capsys.readouterr().err.endswith(
        "cannot read input file hdfs:///raw/cut.gz: java.io.EOFException\n"
    )


@pytest.mark.spark
def test_lines_are_counted_per_input_file_empty_and_oddly_named_ones_too(
    spark, tmp_path, enrichments
):
    [generated] = write_log_files(tmp_path / "gen", "cloudfront", 6, seed=3)
    lines = gzip.decompress(generated.read_bytes()).splitlines()  # 2 headers, 6 events
    files = {
        "no-final-newline.gz": gzip.compress(b"\n".join(lines[:5])),
        "i-1/with 100% odd name": b"\n".join(lines[:2] + lines[5:]) + b"\n",
        "i-1/empty.gz": gzip.compress(b""),
        "_SUCCESS": b"",  # markers Spark does not read: not input files
        "i-1/.ghost.crc": b"",
    }
    for name, data in files.items():
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(data)

    counts = run_job(job_args(tmp_path, "cloudfront", enrichments), spark)

    assert counts.objects == {
        "i-1/empty.gz": {"lines": 0, "input_lines": 0, "skipped_lines": 0, "lines_with_output": 0},
        "i-1/with 100% odd name": {
            "lines": 5,
            "input_lines": 5,
            "skipped_lines": 2,
            "lines_with_output": 3,
        },
        "no-final-newline.gz": {
            "lines": 5,
            "input_lines": 5,
            "skipped_lines": 2,
            "lines_with_output": 3,
        },
    }
    assert (counts.input_lines, counts.good_events) == (10, 6)
