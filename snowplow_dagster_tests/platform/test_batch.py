"""Whole batches through Dagster on the embedded default: claim, stage, enrich (local Spark),
archive, checks; a re-enrichment backfill; Stream Enrich mode; and the same on the S3 server."""

import gzip
import json
import logging
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pytest
from pydantic import Field

from snowplow_dagster.assets import all_assets, archived, asset_checks, enriched
from snowplow_dagster.assets.checks import conservation_problems
from snowplow_dagster.engines.contract import StepConfig, StepFailed, StepResult
from snowplow_dagster.engines.emr.runner import EmrClusterEnded
from snowplow_dagster.engines.steps import ENRICH, ENRICHED_TO_S3, RAW_TO_HDFS, enrich_steps
from snowplow_dagster.enrich.counts import JobCounts
from snowplow_dagster.generator import write_log_files
from snowplow_dagster.jobs import jobs
from snowplow_dagster.passes import PassResult, run_pass
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.storage import Location, storage_for
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.platform.helpers import (
    gunzipped_lines,
    pipeline_for,
    put_raw_logs,
    step_arg,
    write_config,
)


def check_outcomes(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def enriched_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    [materialization] = result.asset_materializations_for_node("enriched_events")
    return {key: value.value for key, value in materialization.metadata.items()}


def assert_enriched_batch(backend: Backend, batch: str, metadata: dict[str, object]) -> None:
    """Good events and bad rows on storage are exactly what the counts say: none twice. Good
    events by type are in the metadata, every standard type, and add up to the events."""
    counts = json.loads(backend.objects(f"manifests/enrich_counts/{batch}.json").popitem()[1])
    good = backend.objects(f"enriched/good/run={batch}/")
    assert f"enriched/good/run={batch}/_SUCCESS" in good
    assert len(gunzipped_lines(good)) == counts["good_events"] == metadata["events"]
    bad = gunzipped_lines(backend.objects(f"enriched/bad/run={batch}/"))
    assert len(bad) == counts["bad_rows"] == metadata["bad_rows"]
    assert counts["input_lines"] == counts["skipped_lines"] + counts["lines_with_output"]
    by_type = Counter(line.split("\t")[5] for line in gunzipped_lines(good))
    types = ("page_view", "page_ping", "struct", "unstruct", "transaction", "transaction_item")
    per_type = {key: value for key, value in metadata.items() if key.startswith("events_")}
    assert per_type == {f"events_{kind}": by_type[kind] for kind in types}
    assert sum(per_type.values()) == metadata["events"]
    unstruct = {r.data["event"]: r.data["events"] for r in metadata["unstruct_events"].records}
    assert unstruct == {"com.snowplowanalytics.snowplow/link_click": metadata["events_unstruct"]}


@pytest.mark.spark
@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_batch_runs_end_to_end_and_a_backfill_replaces_its_output(
    backend: Backend, tmp_path: Path
) -> None:
    with dg.instance_for_test() as instance:
        pipeline = pipeline_for(tmp_path, backend.root)
        lines = put_raw_logs(backend, tmp_path, "in/", events=300, files=3)

        done = run_pass(instance, pipeline)

        assert done.success and done.job_name == "batch_job"
        [batch] = done.batches
        [result] = done.results
        assert check_outcomes(result) == {
            "line_conservation": True,
            "bad_row_ratio": True,
            "output_schema": True,
            "archive_completeness": True,
        }
        metadata = enriched_metadata(result)
        assert metadata["input_lines"] == lines
        assert metadata["input"] == backend.root.join(f"processing/run={batch}/").uri
        assert_enriched_batch(backend, batch, metadata)
        assert backend.objects("in/") == {} and backend.objects("processing/") == {}
        assert len(backend.objects(f"archive/raw/run={batch}/")) == 3
        assert instance.get_dynamic_partitions("batches") == [batch]
        good_before = backend.objects(f"enriched/good/run={batch}/")

        # Re-enrich the archived batch: staging is a no-op, input is the archive, output replaced.
        resources = {"pipeline": pipeline}
        job = dg.Definitions(
            assets=all_assets, asset_checks=asset_checks, jobs=jobs, resources=resources
        ).resolve_job_def("batch_job")
        again = job.execute_in_process(
            instance=instance,
            partition_key=batch,
            asset_selection=[dg.AssetKey("staged_logs"), dg.AssetKey("enriched_events")],
        )

        assert again.success
        [staged] = again.asset_materializations_for_node("staged_logs")
        archive = backend.root.join(f"archive/raw/run={batch}/").uri
        assert staged.metadata["location"].value == archive
        metadata = enriched_metadata(again)
        assert metadata["input"] == archive
        assert metadata["input_lines"] == lines
        assert metadata["replaced_objects"] > 0
        assert_enriched_batch(backend, batch, metadata)
        assert len(backend.objects(f"enriched/good/run={batch}/")) == len(good_before)
        assert all(check_outcomes(again).values())


@pytest.mark.spark
@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_a_batch_runs_end_to_end_with_the_buckets_on_s3(backend: Backend, tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        pipeline = pipeline_for(tmp_path, backend.root)
        lines = put_raw_logs(backend, tmp_path, "in/", events=200, files=2)

        done = run_pass(instance, pipeline)

        assert done.success
        [batch] = done.batches
        [result] = done.results
        assert all(check_outcomes(result).values()) and len(check_outcomes(result)) == 4
        metadata = enriched_metadata(result)
        assert metadata["input_lines"] == lines
        assert_enriched_batch(backend, batch, metadata)
        assert len(backend.objects(f"archive/raw/run={batch}/")) == 2
        assert backend.objects("in/") == {}


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_stream_mode_stages_enriched_files_into_a_run_folder(
    backend: Backend, tmp_path: Path
) -> None:
    pipeline = pipeline_for(tmp_path, backend.root, stream=True)
    backend.put("stream/2026/11/21/part-1.gz", b"enriched-1")
    backend.put("stream/2026/11/21/part-2.gz", b"enriched-2")
    side_files = {"stream/2026/11/21/_SUCCESS": b"", "stream/2026/11/21/part-3.gz.tmp": b"x"}
    for key, data in side_files.items():
        backend.put(key, data)
    with dg.instance_for_test() as instance:
        done = run_pass(instance, pipeline)

        assert done.success and done.job_name == "stream_job"
        [batch] = done.batches
        [result] = done.results
        [staged] = result.asset_materializations_for_node("staged_enriched")
        assert staged.metadata["files"].value == 2

        assert backend.objects("stream/") == side_files  # only .gz files, as EmrEtlRunner
        assert backend.objects(f"enriched/good/run={batch}/") == {
            f"enriched/good/run={batch}/2026/11/21/part-1.gz": b"enriched-1",
            f"enriched/good/run={batch}/2026/11/21/part-2.gz": b"enriched-2",
            f"enriched/good/run={batch}/_SUCCESS": b"",
        }
        assert run_pass(instance, pipeline).batches == ()  # nothing left: EmrEtlRunner's exit 3


# ------------------------------------------------- enrichment outcomes, with a stand-in engine


FAILURES = {
    "cluster-lost": EmrClusterEnded("EMR steps did not complete: the cluster ended", []),
    "step-failed": StepFailed("[enrich] spark: Enrich Raw Events failed", []),
}


class ScriptedEngine:
    """Writes the counts file and good lines where the steps say (no Spark), or raises one of
    ``FAILURES``. Counts without per-file counts get them: the totals, on the batch's one file."""

    def __init__(self, counts: dict[str, int], good_lines: list[str], failure: str | None) -> None:
        self.counts = counts
        self.good_lines = good_lines
        self.failure = failure

    def run_steps(
        self,
        steps: Sequence[StepConfig],
        *,
        log: logging.Logger,
        cancel_event: threading.Event | None = None,
    ) -> list[StepResult]:
        if self.failure is not None:
            raise FAILURES[self.failure]
        by_name = {step["Name"]: step for step in steps}
        counts_file = Location.parse(step_arg(by_name[ENRICH], "--counts-file"))
        storage = storage_for(counts_file)
        raw = Location.parse(step_arg(by_name[RAW_TO_HDFS], "--src")).folder()
        [name] = [raw.relative(info.key) for info in storage.list(raw)]
        keys = ("input_lines", "skipped_lines", "lines_with_output")
        per_file = {"lines": self.counts["input_lines"], **{k: self.counts[k] for k in keys}}
        counts = {"objects": {name: per_file}, **self.counts}
        storage.write(counts_file, json.dumps(counts).encode())
        good = Location.parse(step_arg(by_name[ENRICHED_TO_S3], "--dest"))
        storage.write(
            good.join("part-00000"), "".join(f"{line}\n" for line in self.good_lines).encode()
        )
        return [StepResult(step["Name"], "COMPLETED") for step in steps]


class ScriptedPipeline(SnowplowPipeline):
    counts_json: str = "{}"
    good_lines: list[str] = Field(default_factory=list)
    failure: str | None = None

    def execution_engine(self) -> ScriptedEngine:
        return ScriptedEngine(json.loads(self.counts_json), self.good_lines, self.failure)


def run_with(
    backend: Backend,
    tmp_path: Path,
    instance: dg.DagsterInstance,
    *,
    counts: dict[str, int] | None = None,
    good_lines: list[str] | None = None,
    failure: str | None = None,
) -> tuple[PassResult, str]:
    config = write_config(tmp_path / "config.yml", backend.root)
    pipeline = ScriptedPipeline(
        config_path=str(config),
        counts_json=json.dumps(counts or {}),
        good_lines=good_lines or [],
        failure=failure,
    )
    backend.put("in/a.gz", b"a")
    done = run_pass(instance, pipeline)
    return done, done.batches[0]


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_lost_lines_block_archiving(backend: Backend, tmp_path: Path) -> None:
    lost = {"input_lines": 10, "skipped_lines": 2, "lines_with_output": 7}
    counts = {**lost, "good_events": 7, "bad_rows": 0}
    with dg.instance_for_test() as instance:
        done, batch = run_with(backend, tmp_path, instance, counts=counts)

        assert not done.success
        [result] = done.results
        assert check_outcomes(result)["line_conservation"] is False
        assert result.asset_materializations_for_node("archived_logs") == []
        assert list(backend.objects(f"processing/run={batch}/")) == [f"processing/run={batch}/a.gz"]


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_many_bad_rows_and_a_malformed_event_warn_without_blocking(
    backend: Backend, tmp_path: Path
) -> None:
    counts = {
        "input_lines": 10,
        "skipped_lines": 0,
        "lines_with_output": 10,
        "good_events": 1,
        "bad_rows": 9,
    }
    with dg.instance_for_test() as instance:
        done, batch = run_with(
            backend, tmp_path, instance, counts=counts, good_lines=["only\tthree\tfields"]
        )

        assert done.success
        [result] = done.results
        evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert evaluations["bad_row_ratio"].passed is False
        assert evaluations["bad_row_ratio"].severity == dg.AssetCheckSeverity.WARN
        assert evaluations["output_schema"].passed is False
        assert evaluations["output_schema"].metadata["invalid_lines"].value == 1
        # A counts file without per-type counts (an older job) leaves them out, not zeros.
        assert not any(key.startswith(("events_", "unstruct")) for key in enriched_metadata(result))
        archived = backend.objects(f"archive/raw/run={batch}/")
        assert list(archived) == [f"archive/raw/run={batch}/a.gz"]


@pytest.mark.parametrize(("failure", "retried"), [("cluster-lost", True), ("step-failed", False)])
@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_only_a_lost_cluster_retries_the_enrichment(
    backend: Backend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
    retried: bool,
) -> None:
    monkeypatch.setattr(enriched, "CLUSTER_LOST_WAIT_SECONDS", 0)
    with dg.instance_for_test() as instance:
        done, _ = run_with(backend, tmp_path, instance, failure=failure)

        [result] = done.results
        events = [e.event_type_value for e in result.all_events if e.step_key == "enriched_events"]
        assert events.count("STEP_UP_FOR_RETRY") == (
            enriched.CLUSTER_LOST_RETRIES if retried else 0
        )
        assert events[-1] == "STEP_FAILURE"


# ---------------------------------------------------------------- resuming an unfinished batch


BALANCED = {
    "input_lines": 1,
    "skipped_lines": 0,
    "lines_with_output": 1,
    "good_events": 1,
    "bad_rows": 0,
}


def materialised(result: dg.ExecuteInProcessResult) -> list[str]:
    return sorted(
        event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    )


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_batch_that_failed_at_archiving_is_resumed_without_enriching_it_again(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refusing(*args: object, **kwargs: object) -> None:
        raise PermissionError("injected: the archive is not writable")

    with dg.instance_for_test() as instance:
        with monkeypatch.context() as broken:
            broken.setattr(archived, "archive_batch", refusing)
            broken.setattr(archived.archived_logs.op, "_retry_policy", None)
            done, batch = run_with(backend, tmp_path, instance, counts=BALANCED)
        assert not done.success
        pipeline = ScriptedPipeline(
            config_path=str(tmp_path / "config.yml"), counts_json=json.dumps(BALANCED)
        )

        again = run_pass(instance, pipeline, resume=[batch])

        assert again.success and again.batches == (batch,)
        [result] = again.results
        assert materialised(result) == ["archived_logs"]
        assert check_outcomes(result) == {"archive_completeness": True}
        assert list(backend.objects(f"archive/raw/run={batch}/")) == [
            f"archive/raw/run={batch}/a.gz"
        ]
        assert run_pass(instance, pipeline, resume=[batch]).batches == ()  # nothing left


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_resume_does_not_go_past_a_failed_blocking_check(
    backend: Backend, tmp_path: Path
) -> None:
    """Enrichment materialised but lost lines: the resume enriches again, checks, then archives."""
    lost = {**BALANCED, "lines_with_output": 0}
    with dg.instance_for_test() as instance:
        done, batch = run_with(backend, tmp_path, instance, counts=lost)
        assert not done.success
        fixed = ScriptedPipeline(
            config_path=str(tmp_path / "config.yml"), counts_json=json.dumps(BALANCED)
        )

        again = run_pass(instance, fixed, resume=[batch])

        assert again.success
        [result] = again.results
        assert materialised(result) == ["archived_logs", "enriched_events"]
        assert check_outcomes(result)["line_conservation"] is True


# ------------------------------------------------------------- line conservation, lines lost


def put_same_hour_files(backend: Backend, tmp_path: Path) -> int:
    """Two CloudFront files of one hour in ``in/``, the first without a final newline; returns
    their physical lines."""
    [generated] = write_log_files(tmp_path / "same-hour", "cloudfront", 10, seed=9)
    lines = gzip.decompress(generated.read_bytes()).splitlines()
    first, second = lines[:7], lines[:2] + lines[7:]
    backend.put("in/E2SAMEHOUR.2026-11-21-10.aaaaaaaa.gz", gzip.compress(b"\n".join(first)))
    backend.put("in/E2SAMEHOUR.2026-11-21-10.bbbbbbbb.gz", gzip.compress(b"\n".join(second)))
    return len(first) + len(second)


CLOUDFRONT_GROUP_BY = r".*([0-9]+-[0-9]+-[0-9]+)-[0-9]+.*"
"""EmrEtlRunner's raw-copy ``--groupBy`` for CloudFront: one group per day (sp#207)."""


def concatenating_raw_copy(*args: object, **kwargs: object) -> list[StepConfig]:
    """The step list with the raw copy grouping files byte for byte, as S3DistCp's ``--groupBy``
    does: an injected loss, the one EmrEtlRunner's CloudFront step list had."""
    steps = enrich_steps(*args, **kwargs)  # type: ignore[arg-type]
    steps[0]["HadoopJarStep"]["Args"] += ["--groupBy", CLOUDFRONT_GROUP_BY, "--outputCodec", "gz"]
    return steps


@pytest.mark.spark
@pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)
def test_a_line_lost_before_the_job_fails_line_conservation(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(enriched, "enrich_steps", concatenating_raw_copy)
    with dg.instance_for_test() as instance:
        lines = put_same_hour_files(backend, tmp_path)

        done = run_pass(instance, pipeline_for(tmp_path, backend.root))

        assert not done.success
        [batch] = done.batches
        [result] = done.results
        [conservation] = [
            e for e in result.get_asset_check_evaluations() if e.check_name == "line_conservation"
        ]
        assert conservation.passed is False
        metadata = {key: value.value for key, value in conservation.metadata.items()}
        assert metadata["manifest_objects"] == 2
        assert metadata["objects_not_read"] == 2  # read as one grouped file instead
        assert metadata["unexpected_files"] == 1
        assert enriched_metadata(result)["input_lines"] == lines - 1
        assert result.asset_materializations_for_node("archived_logs") == []
        assert len(backend.objects(f"processing/run={batch}/")) == 2


def per_file(lines: int, enriched: int, skipped: int, with_output: int) -> dict[str, int]:
    return {
        "lines": lines,
        "input_lines": enriched,
        "skipped_lines": skipped,
        "lines_with_output": with_output,
    }


def totals(*files: dict[str, int]) -> dict[str, int]:
    keys = ("input_lines", "skipped_lines", "lines_with_output")
    return {key: sum(f[key] for f in files) for key in keys}


def test_conservation_names_each_object_that_lost_a_line() -> None:
    a, b = per_file(7, 7, 2, 5), per_file(7, 6, 2, 4)  # b: a line read, never enriched
    counts = JobCounts(**totals(a, b), objects={"a.gz": a, "b.gz": b})

    problems = conservation_problems(counts, ["a.gz", "b.gz"])

    assert problems == {
        "objects_not_read": [],
        "unexpected_files": [],
        "objects_losing_lines": ["b.gz (7 lines, 6 enriched, 6 accounted for)"],
        "totals": [],
    }
    whole = JobCounts(**totals(a, a), objects={"a.gz": a, "c.gz": a})
    assert conservation_problems(whole, ["a.gz", "b.gz", "c.gz"])["objects_not_read"] == ["b.gz"]
    assert not any(conservation_problems(whole, ["a.gz", "c.gz"]).values())


def test_conservation_holds_the_totals_to_the_files_and_to_themselves() -> None:
    a = per_file(3, 3, 0, 3)
    dropped = JobCounts(input_lines=4, skipped_lines=0, lines_with_output=3, objects={"a": a})
    assert conservation_problems(dropped, ["a"])["totals"] == [
        "input_lines 4 but 3 over the files",
        "input_lines 4 but 3 skipped or with output",
    ]
    no_files = JobCounts(**totals(a), objects={})
    assert conservation_problems(no_files, ["a"])["objects_not_read"] == ["a"]
