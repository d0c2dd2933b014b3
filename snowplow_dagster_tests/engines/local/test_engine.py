"""The local engine: a batch's real EMR step list, run here, end to end on local Spark.

Spark steps start a JVM (tens of seconds on the test machine), so only the tests marked ``spark``
run one; the step-list semantics (refusals, ``ActionOnFailure``, cancellation) are shown with
S3DistCp steps alone.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import logging
import re
import threading
from pathlib import Path

import pytest

from snowplow_dagster.batches.claiming import staged_path
from snowplow_dagster.config import (
    LocalSparkSettings,
    PipelineConfig,
    load_config_text,
    load_resolver,
)
from snowplow_dagster.engines.contract import StepConfig, StepFailed, StepsCancelled
from snowplow_dagster.engines.local.engine import LocalEngine
from snowplow_dagster.engines.steps import enrich_steps, s3_dist_cp_step, spark_enrich_step
from snowplow_dagster.enrich import job as enrich_job
from snowplow_dagster.enrich.enrichments.registry import load_enrichments_directory
from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS
from snowplow_dagster.generator import write_log_files
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS, SAMPLE_RESOLVER
from snowplow_dagster.storage import Location
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.platform.helpers import gunzipped_lines

BATCH = "2026-11-21-10-00-00"
RUN = f"run={BATCH}/"
LOG = logging.getLogger("test-local-engine")


@pytest.fixture
def engine(tmp_path: Path) -> LocalEngine:
    return LocalEngine(
        spark_master="local[2]",
        driver_memory="1g",
        scratch_dir=str(tmp_path / "scratch"),
        spark_conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"},
    )


def encode(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def pipeline_config(root: Location, collector_format: str) -> PipelineConfig:
    def at(relative: str) -> str:
        return root.join(relative).uri

    return load_config_text(
        f"""
        aws:
          s3:
            region: us-east-1
            buckets:
              log: {at("logs/")}
              raw:
                in: ["{at("in/")}"]
                processing: {at("processing/")}
                archive: {at("archive/")}
              enriched: {{good: {at("enriched/good/")}, bad: {at("enriched/bad/")}}}
        collectors: {{format: {collector_format}}}
        enrich: {{output_compression: GZIP}}
        """.replace("\n        ", "\n")
    )


def stage_generated_logs(backend: Backend, tmp_path: Path, collector_format: str) -> int:
    """Generated logs in ``processing/run=ID/`` as staging leaves them; returns their lines."""
    generated = tmp_path / "generated"
    instance = "i-0a1b2c3d" if collector_format == "clj-tomcat" else None
    write_log_files(
        generated, collector_format, 400, files=3, bad_fraction=0.1, instance=instance, seed=4
    )
    lines = 0
    for path in sorted(p for p in generated.rglob("*") if p.is_file()):
        backend.put(
            f"processing/{RUN}{staged_path(str(path.relative_to(generated)))}", path.read_bytes()
        )
        lines += len(gzip.decompress(path.read_bytes()).splitlines())
    return lines


def sample_steps(config: PipelineConfig) -> list[StepConfig]:
    """The batch's EmrEtlRunner step list with the bundled enrichments and resolver."""
    return enrich_steps(
        config,
        batch_id=BATCH,
        input_folder=f"{config.locations.raw_processing}{RUN}",
        enrichments_b64=encode(load_enrichments_directory(SAMPLE_ENRICHMENTS)),
        resolver_b64=encode(load_resolver(SAMPLE_RESOLVER)),
        etl_tstamp_ms=1_700_000_000_000,
        app_uri="s3://assets/snowplow-dagster/job.py",
        py_files_uri="s3://assets/snowplow-dagster/deps.zip",
    )


@pytest.mark.spark
@pytest.mark.parametrize(
    ("backend", "collector_format"),
    [
        ("s3", "cloudfront"),
        ("s3", "clj-tomcat"),
        ("local", "cloudfront"),
        ("local", "clj-tomcat"),
    ],
    indirect=["backend"],
)
def test_a_batch_is_enriched_end_to_end_by_its_emr_steps(
    backend: Backend, collector_format: str, tmp_path: Path, engine: LocalEngine
) -> None:
    input_lines = stage_generated_logs(backend, tmp_path, collector_format)
    config = pipeline_config(backend.root, collector_format)
    steps = sample_steps(config)

    log = logging.getLogger(f"test-local-engine.{collector_format}")
    log.setLevel(logging.DEBUG)
    records: list[logging.LogRecord] = []
    log.addHandler(_Collect(records))

    results = engine.run_steps(steps, log=log)

    assert [(r.name, r.state) for r in results] == [(s["Name"], "COMPLETED") for s in steps]
    shown = [r.getMessage() for r in records if r.levelno >= logging.INFO]
    spark_info = re.compile(r"spark std(out|err): \d\d/\d\d/\d\d \d\d:\d\d:\d\d (INFO|DEBUG) ")
    assert not [line for line in shown if spark_info.match(line)]  # Spark at WARN, chatter DEBUG
    [submitted] = [line for line in shown if line.startswith("spark-submit of ")]
    assert submitted.startswith(f"spark-submit of {Path(enrich_job.__file__)} on local")
    counts = json.loads(backend.objects(f"logs/manifests/enrich_counts/{BATCH}.json").popitem()[1])
    assert counts["input_lines"] == input_lines
    assert counts["input_lines"] == counts["skipped_lines"] + counts["lines_with_output"]
    assert counts["good_events"] > 0 and counts["bad_rows"] > 0

    good = backend.objects(f"enriched/good/{RUN}")
    data = {name: content for name, content in good.items() if not name.endswith("_SUCCESS")}
    assert good[f"enriched/good/{RUN}_SUCCESS"] == b""
    assert all(name.endswith(".gz") for name in data)
    events = gunzipped_lines(data)
    assert len(events) == counts["good_events"]
    assert {len(event.split("\t")) for event in events} == {len(ENRICHED_EVENT_FIELDS)}
    # The data files come from one step and _SUCCESS from the next, once they are all there.
    assert (results[2].metadata["files_out"], results[3].metadata["files_out"]) == (len(data), 1)

    bad_rows = gunzipped_lines(backend.objects(f"enriched/bad/{RUN}"))
    assert len(bad_rows) == counts["bad_rows"]
    assert all(json.loads(row)["errors"] for row in bad_rows)

    assert len(backend.objects(f"processing/{RUN}")) == 3
    assert list((tmp_path / "scratch").iterdir()) == []  # HDFS and scratch went with the run


@pytest.mark.spark
def test_a_failing_spark_step_surfaces_its_exit_code_and_stderr(
    tmp_path: Path, engine: LocalEngine
) -> None:
    out = tmp_path / "out"
    steps = [
        spark_enrich_step(
            app_uri="s3://assets/job.py",
            py_files_uri="s3://assets/deps.zip",
            input_folder="hdfs:///raw-events/",
            input_format="cloudfront",
            output_folder="hdfs:///enriched-events/",
            bad_folder=f"{tmp_path}/bad/",
            enrichments_b64="this is not base64 JSON",
            resolver_b64=encode(load_resolver(SAMPLE_RESOLVER)),
            etl_tstamp_ms=1,
        ),
        s3_dist_cp_step("after", src="hdfs:///enriched-events/", dest=f"{out}/"),
    ]

    with pytest.raises(StepFailed, match="exited with code 2") as raised:
        engine.run_steps(steps, log=LOG)

    failed = raised.value.failed
    assert failed.exit_code == 2
    assert "configuration error: --enrichments is not base64-encoded JSON" in failed.log_tail
    assert failed.log_tail in str(raised.value)
    assert [r.state for r in raised.value.results] == ["FAILED", "CANCELLED"]
    assert not out.exists() and not (tmp_path / "bad").exists()


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _CancelOnFirstSparkLine(logging.Handler):
    def __init__(self, event: threading.Event) -> None:
        super().__init__()
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("spark stderr"):
            self.event.set()


@pytest.mark.spark
def test_cancelling_stops_a_running_spark_step(tmp_path: Path, engine: LocalEngine) -> None:
    cancel = threading.Event()
    log = logging.getLogger("test-local-engine.cancel")
    log.setLevel(logging.INFO)
    log.addHandler(_CancelOnFirstSparkLine(cancel))
    step = spark_enrich_step(
        app_uri="s3://assets/job.py",
        py_files_uri="s3://assets/deps.zip",
        input_folder="hdfs:///raw-events/",
        input_format="cloudfront",
        output_folder="hdfs:///enriched-events/",
        bad_folder=f"{tmp_path}/bad/",
        enrichments_b64=encode({}),
        resolver_b64=encode({}),
        etl_tstamp_ms=1,
    )

    with pytest.raises(StepsCancelled) as raised:
        engine.run_steps([step, step], log=log, cancel_event=cancel)

    assert [r.state for r in raised.value.results] == ["CANCELLED", "CANCELLED"]
    assert raised.value.results[0].message == "spark-submit stopped: cancelled"


# --- the step list's semantics, shown with S3DistCp steps -----------------------------------


def test_hdfs_lives_for_one_call_across_its_steps(tmp_path: Path, engine: LocalEngine) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.gz").write_bytes(gzip.compress(b"a\n"))
    steps = [
        s3_dist_cp_step("in", src=f"{tmp_path}/in/", dest="hdfs:///raw/", output_codec="none"),
        s3_dist_cp_step("out", src="hdfs:///raw/", dest=f"{tmp_path}/out/"),
    ]

    results = engine.run_steps(steps, log=LOG)

    assert (tmp_path / "out" / "a").read_bytes() == b"a\n"
    assert [(r.state, r.metadata["files_out"]) for r in results] == [("COMPLETED", 1)] * 2
    with pytest.raises(StepFailed, match="no file under hdfs:///raw/"):
        engine.run_steps(steps[1:], log=LOG)


def test_a_step_list_it_cannot_run_is_refused_before_any_step(
    tmp_path: Path, engine: LocalEngine
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a").write_bytes(b"a")
    first = s3_dist_cp_step("first", src=f"{tmp_path}/in/", dest=f"{tmp_path}/out/")
    s3_input = spark_enrich_step(
        app_uri="s3://a/job.py",
        py_files_uri="s3://a/deps.zip",
        input_folder="s3://raw/in/",
        input_format="cloudfront",
        output_folder="hdfs:///out/",
        bad_folder="s3://b/bad/",
        enrichments_b64="e",
        resolver_b64="r",
        etl_tstamp_ms=1,
    )
    script: StepConfig = {
        "Name": "[cleanup] Empty Snowplow HDFS",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "s3://x/script-runner.jar", "Args": ["rmr.sh"]},
    }

    with pytest.raises(ValueError, match=r"local Spark cannot read s3://raw/in/ \(--input-folder"):
        engine.run_steps([first, s3_input], log=LOG)
    with pytest.raises(ValueError, match="script-runner"):
        engine.run_steps([first, script], log=LOG)

    assert not (tmp_path / "out").exists()


def test_continue_runs_the_next_step_then_reports_the_failure(
    tmp_path: Path, engine: LocalEngine
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a").write_bytes(b"a")
    steps = [
        s3_dist_cp_step(
            "empty", src=f"{tmp_path}/none/", dest="hdfs:///x/", action_on_failure="CONTINUE"
        ),
        s3_dist_cp_step("fine", src=f"{tmp_path}/in/", dest=f"{tmp_path}/out/"),
    ]

    with pytest.raises(StepFailed, match="empty failed: s3-dist-cp: no file under") as raised:
        engine.run_steps(steps, log=LOG)

    assert [r.state for r in raised.value.results] == ["FAILED", "COMPLETED"]
    assert (tmp_path / "out" / "a").read_bytes() == b"a"


def test_a_failure_cancels_the_steps_after_it(tmp_path: Path, engine: LocalEngine) -> None:
    steps = [
        s3_dist_cp_step("empty", src=f"{tmp_path}/none/", dest="hdfs:///x/"),
        s3_dist_cp_step("never", src="hdfs:///x/", dest=f"{tmp_path}/out/"),
    ]

    with pytest.raises(StepFailed) as raised:
        engine.run_steps(steps, log=LOG)

    assert [(r.state, r.message) for r in raised.value.results][1] == ("CANCELLED", "empty failed")


def test_a_set_cancel_event_runs_nothing(tmp_path: Path, engine: LocalEngine) -> None:
    cancel = threading.Event()
    cancel.set()
    step = s3_dist_cp_step("copy", src=f"{tmp_path}/in/", dest=f"{tmp_path}/out/")

    with pytest.raises(StepsCancelled) as raised:
        engine.run_steps([step, step], log=LOG, cancel_event=cancel)

    assert [r.state for r in raised.value.results] == ["CANCELLED", "CANCELLED"]


def test_what_the_engine_leaves_unset_comes_from_the_configs_local_spark_section(
    tmp_path: Path,
) -> None:
    settings = LocalSparkSettings.model_validate(
        {
            "master": "local[3]",
            "driver_memory": "3g",
            "conf": {"spark.hadoop.fs.s3a.secret.key": "s"},
        }
    )
    config = dataclasses.replace(
        pipeline_config(Location.parse(str(tmp_path)), "cloudfront"), local_spark=settings
    )

    engine = LocalEngine(scratch_dir="/tmp/x").for_config(config)
    overridden = LocalEngine(spark_master="local[1]", spark_conf={}).for_config(config)

    assert (engine.spark_master, engine.driver_memory, engine.scratch_dir) == (
        "local[3]",
        "3g",
        "/tmp/x",
    )
    assert engine.spark_conf == {"spark.hadoop.fs.s3a.secret.key": "s"}
    assert (overridden.spark_master, overridden.driver_memory) == ("local[1]", "3g")
    assert overridden.spark_conf == {}


def stage_same_hour_files(backend: Backend, tmp_path: Path) -> tuple[list[str], list[bytes]]:
    """Two CloudFront files of one hour in ``processing/run=ID/``, the first without a final
    newline (as a truncated or hand-made upload can be): what a byte-for-byte ``--groupBy``
    would join into one line. Returns their names and lines (headers included)."""
    [generated] = write_log_files(tmp_path / "same-hour", "cloudfront", 10, seed=9)
    headers, events = [], []
    for line in gzip.decompress(generated.read_bytes()).splitlines():
        (headers if line.startswith(b"#") else events).append(line)
    names = ["E2SAMEHOUR.2026-11-21-10.aaaaaaaa.gz", "E2SAMEHOUR.2026-11-21-10.bbbbbbbb.gz"]
    first, second = headers + events[:5], headers + events[5:]
    backend.put(f"processing/{RUN}{names[0]}", gzip.compress(b"\n".join(first)))
    backend.put(f"processing/{RUN}{names[1]}", gzip.compress(b"\n".join(second) + b"\n"))
    return names, first + second


@pytest.mark.spark
@pytest.mark.parametrize("backend", ["s3", "local"], indirect=True)
def test_files_of_one_hour_without_a_final_newline_keep_every_event(
    backend: Backend, tmp_path: Path, engine: LocalEngine
) -> None:
    names, lines = stage_same_hour_files(backend, tmp_path)
    config = pipeline_config(backend.root, "cloudfront")
    steps = sample_steps(config)

    engine.run_steps(steps, log=LOG)

    counts = json.loads(backend.objects(f"logs/manifests/enrich_counts/{BATCH}.json").popitem()[1])
    assert (counts["input_lines"], counts["skipped_lines"]) == (len(lines), 4)
    assert (counts["good_events"], counts["bad_rows"]) == (10, 0)
    events = gunzipped_lines(backend.objects(f"enriched/good/{RUN}"))
    assert len(events) == 10
    assert counts["objects"] == {
        names[0]: {"lines": 7, "input_lines": 7, "skipped_lines": 2, "lines_with_output": 5},
        names[1]: {"lines": 7, "input_lines": 7, "skipped_lines": 2, "lines_with_output": 5},
    }
