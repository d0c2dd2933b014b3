"""Waiting for EMR steps: the per-poll decisions, and whole runs against moto's EMR and S3.

Step states are moved in moto's backend between polls by an injected ``sleep`` (``Moves``), or
answered at the HTTP boundary for what moto cannot express (``FailureDetails``, ``CancelSteps``,
throttling); the clock is injected too, so nothing here depends on time passing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from snowplow_dagster.config import parse_config
from snowplow_dagster.engines.contract import StepFailed, StepsCancelled
from snowplow_dagster.engines.emr.api import LAUNCH_TAG, EmrApi
from snowplow_dagster.engines.emr.runner import (
    EmrBootstrapFailed,
    EmrClusterEnded,
    EmrRunner,
    EmrSettings,
    EmrTimeout,
)
from snowplow_dagster.engines.emr.wait import (
    ClusterStatus,
    FailureDetails,
    Observation,
    Outcome,
    PollSettings,
    StepStatus,
    assess,
    changes,
    next_interval,
    wait_for_steps,
)
from snowplow_dagster_tests.engines.emr_support import (
    Boundary,
    Moves,
    clusters_named,
    edit,
    fail_bootstrap,
    forward,
    json_response,
    moto_cluster,
    persistent_cluster,
    put_stderr,
    sample_data,
    set_cluster,
    set_step,
    steps,
    throttling,
    unavailable,
)

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
BOOTSTRAP_MESSAGE = "On the master instance (i-0f1), bootstrap action 1 returned a non-zero code"


def step(state: str, n: int = 1, **kwargs: Any) -> StepStatus:
    return StepStatus(f"s-{n}", f"step {n}", state, **kwargs)


def seen(
    cluster_state: str, *step_states: str, code: str | None = None, message: str | None = None
) -> Observation:
    return Observation(
        ClusterStatus("j-1", cluster_state, code, message),
        tuple(step(state, n) for n, state in enumerate(step_states, 1)),
    )


# ------------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    ("observation", "outcome"),
    [
        (seen("STARTING", "PENDING", "PENDING"), Outcome.RUNNING),
        (seen("RUNNING", "COMPLETED", "RUNNING"), Outcome.RUNNING),
        (seen("TERMINATING", "COMPLETED", "COMPLETED"), Outcome.SUCCEEDED),
        (seen("WAITING", "COMPLETED", "COMPLETED"), Outcome.SUCCEEDED),
        # CANCEL_AND_WAIT: over once EMR has cancelled the rest, not before.
        (seen("RUNNING", "FAILED", "PENDING"), Outcome.RUNNING),
        (seen("WAITING", "FAILED", "CANCELLED"), Outcome.STEP_FAILED),
        # CONTINUE: the failure waits for the rest to run.
        (seen("RUNNING", "FAILED", "RUNNING"), Outcome.RUNNING),
        (seen("TERMINATED_WITH_ERRORS", "COMPLETED", "FAILED"), Outcome.STEP_FAILED),
        (seen("TERMINATED_WITH_ERRORS", "FAILED", "PENDING"), Outcome.STEP_FAILED),
        (
            seen("TERMINATED_WITH_ERRORS", "CANCELLED", "CANCELLED", code="BOOTSTRAP_FAILURE"),
            Outcome.BOOTSTRAP_FAILED,
        ),
        (
            seen("TERMINATED_WITH_ERRORS", "PENDING", message=BOOTSTRAP_MESSAGE),
            Outcome.BOOTSTRAP_FAILED,
        ),
        (
            seen("TERMINATED_WITH_ERRORS", "CANCELLED", code="INSTANCE_FAILURE", message="Spot"),
            Outcome.CLUSTER_ENDED,
        ),
        (seen("TERMINATED", "COMPLETED", "CANCELLED", code="USER_REQUEST"), Outcome.CLUSTER_ENDED),
        (seen("WAITING", "COMPLETED", "CANCELLED"), Outcome.STEPS_CANCELLED),
        (seen("RUNNING", "INTERRUPTED"), Outcome.STEPS_CANCELLED),
        (seen("STARTING"), Outcome.RUNNING),
    ],
)
def test_assess(observation: Observation, outcome: Outcome) -> None:
    assert assess(observation) is outcome


def test_a_bootstrap_reason_after_a_step_ran_is_not_a_bootstrap_failure() -> None:
    """Relaunching is safe only while no step ran: no data can have moved."""
    ran = Observation(
        ClusterStatus("j-1", "TERMINATED_WITH_ERRORS", "BOOTSTRAP_FAILURE", None),
        (step("CANCELLED", started_at=T0),),
    )
    assert assess(ran) is Outcome.CLUSTER_ENDED


def test_changes_name_every_transition_once() -> None:
    first = seen("STARTING", "PENDING", "PENDING")
    failed = Observation(
        ClusterStatus("j-1", "TERMINATING", "STEP_FAILURE", "Shut down as step failed"),
        (
            step("COMPLETED", 1, started_at=T0, ended_at=T0 + timedelta(seconds=3725)),
            step(
                "FAILED",
                2,
                started_at=T0,
                ended_at=T0 + timedelta(seconds=61),
                failure=FailureDetails("Unknown Error", "Exit code 1", "s3://l/stderr.gz"),
            ),
        ),
    )

    assert changes(None, first) == [
        "EMR cluster j-1 is STARTING",
        "EMR step 'step 1' (s-1) is PENDING",
        "EMR step 'step 2' (s-2) is PENDING",
    ]
    assert changes(first, first) == []
    assert changes(first, failed) == [
        "EMR cluster j-1: STARTING -> TERMINATING (STEP_FAILURE: Shut down as step failed)",
        "EMR step 'step 1' (s-1): PENDING -> COMPLETED after 1:02:05",
        "EMR step 'step 2' (s-2): PENDING -> FAILED after 0:01:01: "
        "Unknown Error: Exit code 1 (log file s3://l/stderr.gz)",
    ]


def test_polls_back_off_while_nothing_changes_and_reset_on_a_change() -> None:
    settings = PollSettings(interval_seconds=10, max_interval_seconds=30, backoff=2)
    assert next_interval(10, changed=False, settings=settings) == 20
    assert next_interval(20, changed=False, settings=settings) == 30
    assert next_interval(30, changed=False, settings=settings) == 30
    assert next_interval(30, changed=True, settings=settings) == 10


class Script:
    """An ``observe`` that plays observations (or raises errors) in order."""

    def __init__(self, *items: Observation | Exception) -> None:
        self.items = list(items)

    def __call__(self) -> Observation:
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def loop(observe: Script, moves: Moves, *, timeout: float = 1000, cancelled: Any = None) -> Any:
    return wait_for_steps(
        observe,
        settings=PollSettings(interval_seconds=10, max_interval_seconds=40, backoff=2),
        deadline=timeout,
        log=logging.getLogger("test"),
        clock=moves.clock,
        sleep=moves.sleep,
        cancelled=cancelled or (lambda: False),
        retryable=lambda error: isinstance(error, TimeoutError),
    )


def test_the_loop_logs_changes_and_backs_off(caplog: pytest.LogCaptureFixture) -> None:
    moves = Moves()
    running = seen("RUNNING", "RUNNING")
    with caplog.at_level(logging.INFO):
        result = loop(Script(running, running, running, seen("RUNNING", "COMPLETED")), moves)

    assert result.outcome is Outcome.SUCCEEDED
    assert moves.slept == [10, 20, 40]
    assert caplog.messages == [
        "EMR cluster j-1 is RUNNING",
        "EMR step 'step 1' (s-1) is RUNNING",
        "EMR step 'step 1' (s-1): RUNNING -> COMPLETED",
    ]


def test_the_loop_tolerates_retryable_poll_errors(caplog: pytest.LogCaptureFixture) -> None:
    moves = Moves()
    result = loop(Script(TimeoutError("read timeout"), seen("RUNNING", "COMPLETED")), moves)

    assert result.outcome is Outcome.SUCCEEDED
    assert moves.slept == [40]  # the longest interval after an error
    assert "Could not poll EMR, trying again: read timeout" in caplog.messages


def test_the_loop_raises_other_poll_errors() -> None:
    with pytest.raises(PermissionError):
        loop(Script(PermissionError("AccessDenied")), Moves())


def test_the_loop_times_out_after_a_last_poll() -> None:
    moves = Moves()
    running = seen("RUNNING", "RUNNING")
    result = loop(Script(running, running, running), moves, timeout=25)

    assert result.outcome is Outcome.TIMED_OUT
    assert moves.slept == [10, 15]
    assert result.last == running


def test_the_loop_stops_when_cancelled() -> None:
    event = threading.Event()
    moves = Moves([event.set])
    result = loop(Script(seen("RUNNING", "RUNNING")), moves, cancelled=event.is_set)
    assert result.outcome is Outcome.CANCELLED


# ------------------------------------------------------------------------- runs on moto


@pytest.fixture
def log_uri(s3_bucket: str) -> str:
    return f"s3://{s3_bucket}/emr/"


@pytest.fixture
def name() -> str:
    return f"Snowplow ETL {uuid.uuid4().hex[:8]}"


def settings_for(name: str, log_uri: str, **overrides: Any) -> EmrSettings:
    data = edit(sample_data(), {"aws.emr.jobflow.job_name": name})
    emr = parse_config(data, source="config.yml").file.aws.emr
    assert emr is not None
    values: dict[str, Any] = {
        "emr": emr,
        "log_uri": log_uri,
        "region": "eu-west-1",
        "poll": PollSettings(interval_seconds=30, max_interval_seconds=60, backoff=1.5),
        "timeout_seconds": 3600,
        "bootstrap_retry_delay_seconds": 90,
        "step_log_wait_seconds": 0,
    }
    return EmrSettings(**{**values, **overrides})


def runner(settings: EmrSettings, moves: Moves, **api: Any) -> EmrRunner:
    return EmrRunner(
        settings,
        EmrApi(boto3.session.Session(), region="eu-west-1", **api),
        clock=moves.clock,
        sleep=moves.sleep,
    )


def latest(name: str) -> str:
    return clusters_named(name)[-1].id


def moto_state(cluster_id: str) -> str:
    return boto3.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]


LOG = logging.getLogger("snowplow_dagster.test")
TWO = steps("[enrich] s3-dist-cp: Raw S3 -> Raw HDFS", "[enrich] spark: Enrich Raw Events")


def test_success_on_a_transient_cluster(
    name: str, log_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    def first_done() -> None:
        set_step(latest(name), 0, "COMPLETED")
        set_step(latest(name), 1, "RUNNING")

    moves = Moves([first_done, lambda: set_step(latest(name), 1, "COMPLETED")])
    with caplog.at_level(logging.INFO, logger=LOG.name):
        results = runner(settings_for(name, log_uri), moves).run_steps(TWO, log=LOG)

    cluster_id = latest(name)
    assert [(r.name, r.state) for r in results] == [(s["Name"], "COMPLETED") for s in TWO]
    assert all(r.step_id and r.started_at and r.ended_at for r in results)
    assert results[0].metadata["emr_console_url"] == (
        "https://eu-west-1.console.aws.amazon.com/emr/home?region=eu-west-1"
        f"#/clusterDetails/{cluster_id}"
    )
    assert moto_state(cluster_id) == "TERMINATED"  # terminated in finally, as EmrEtlRunner did
    ids = [r.step_id for r in results]
    assert f"EMR step '{TWO[1]['Name']}' ({ids[1]}): PENDING -> RUNNING" in caplog.messages
    done = f"EMR step '{TWO[1]['Name']}' ({ids[1]}): RUNNING -> COMPLETED after 0:00:"
    assert any(message.startswith(done) for message in caplog.messages)
    assert moves.slept == [30, 30]


def test_step_failure_carries_the_tail_of_its_stderr(name: str, log_uri: str) -> None:
    stderr = "\n".join(f"line {n}" for n in range(1, 61))

    def fail() -> None:
        cluster_id = latest(name)
        set_step(cluster_id, 0, "FAILED")
        set_step(cluster_id, 1, "CANCELLED")
        set_cluster(cluster_id, "TERMINATED_WITH_ERRORS", "Steps completed with errors")
        put_stderr(log_uri, cluster_id, moto_cluster(cluster_id).steps[0].id, stderr)

    with pytest.raises(StepFailed) as raised:
        runner(settings_for(name, log_uri), Moves([fail])).run_steps(TWO, log=LOG)

    cluster_id = latest(name)
    failed = raised.value.failed
    assert [r.state for r in raised.value.results] == ["FAILED", "CANCELLED"]
    assert failed.log_tail == "\n".join(f"line {n}" for n in range(11, 61))
    assert raised.value.results[1].message == "not run: an earlier step failed"
    text = str(raised.value)
    assert text.startswith(f"EMR step '{TWO[0]['Name']}' ({failed.step_id}) failed:")
    assert f"EMR cluster {cluster_id}: TERMINATED_WITH_ERRORS (Steps completed with errors)" in text
    assert f"Last lines of stderr ({log_uri}{cluster_id}/steps/{failed.step_id}/stderr.gz):" in text
    assert "  line 60" in text and "line 10\n" not in text


def test_a_missing_stderr_is_reported_after_waiting_for_it(name: str, log_uri: str) -> None:
    def fail() -> None:
        set_step(latest(name), 0, "FAILED")
        set_step(latest(name), 1, "CANCELLED")

    moves = Moves([fail])
    settings = settings_for(name, log_uri, step_log_wait_seconds=60)
    with pytest.raises(StepFailed) as raised:
        runner(settings, moves).run_steps(TWO, log=LOG)

    step_id = raised.value.failed.step_id
    assert f"No stderr at {log_uri}{latest(name)}/steps/{step_id}/stderr.gz" in str(raised.value)
    assert raised.value.failed.log_tail is None
    assert moves.slept == [30, 30, 30]  # one poll, then two waits for the log


def test_failure_details_from_emr_are_in_the_error(log_uri: str, moto_server: str) -> None:
    """moto has no FailureDetails: EMR's answers are stubbed; the log comes from moto's S3."""
    settings = settings_for("Snowplow ETL", log_uri)
    api = EmrApi(boto3.session.Session(), region="eu-west-1")
    put_stderr(log_uri, "j-1", "s-2", "Exception in thread main: java.io.IOException: boom")
    created = {"Status": {"Timeline": {"CreationDateTime": T0}}}
    stub = Stubber(api.emr)
    stub.add_response("run_job_flow", {"JobFlowId": "j-1", "ResponseMetadata": {}})
    listed = [
        {"Id": "s-2", "Name": TWO[1]["Name"], **created},
        {"Id": "s-1", "Name": TWO[0]["Name"], **created},
    ]
    stub.add_response("list_steps", {"Steps": listed}, {"ClusterId": "j-1"})
    stub.add_response(
        "describe_cluster",
        {"Cluster": {"Id": "j-1", "Status": {"State": "TERMINATING", "StateChangeReason": {}}}},
    )
    failure = {
        "Reason": "Unknown Error",
        "Message": "Exception in thread main: java.io.IOException: boom",
        "LogFile": f"{log_uri}j-1/steps/s-2/stderr.gz",
    }
    stub.add_response(
        "list_steps",
        {
            "Steps": [
                {
                    "Id": "s-2",
                    "Name": TWO[1]["Name"],
                    "Status": {"State": "FAILED", "FailureDetails": failure},
                },
                {"Id": "s-1", "Name": TWO[0]["Name"], "Status": {"State": "COMPLETED"}},
            ]
        },
        {"ClusterId": "j-1", "StepIds": ["s-1", "s-2"]},
    )
    stub.add_response("terminate_job_flows", {}, {"JobFlowIds": ["j-1"]})
    with stub, pytest.raises(StepFailed) as raised:
        EmrRunner(settings, api, clock=lambda: 0.0, sleep=lambda _: None).run_steps(TWO, log=LOG)

    assert raised.value.failed.message == (
        "Unknown Error: Exception in thread main: java.io.IOException: boom "
        f"(log file {log_uri}j-1/steps/s-2/stderr.gz)"
    )
    assert str(raised.value).splitlines()[0] == (
        f"EMR step '{TWO[1]['Name']}' (s-2) failed: {raised.value.failed.message}"
    )
    assert raised.value.failed.log_tail == "Exception in thread main: java.io.IOException: boom"
    stub.assert_no_pending_responses()


def test_a_cluster_lost_mid_run_is_not_relaunched(name: str, log_uri: str) -> None:
    """Only a bootstrap failure is retried: once a step ran, data may have moved."""

    def lost() -> None:
        set_step(latest(name), 0, "CANCELLED")
        set_cluster(latest(name), "TERMINATED_WITH_ERRORS", "The master node was terminated")

    with pytest.raises(EmrClusterEnded) as raised:
        runner(settings_for(name, log_uri), Moves([lost])).run_steps(TWO, log=LOG)

    assert len(clusters_named(name)) == 1
    assert "the cluster ended before the steps finished (The master node was terminated)" in str(
        raised.value
    )


def test_a_step_failure_leaves_a_persistent_cluster_up(
    name: str, log_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    cluster_id = persistent_cluster(name)

    def fail() -> None:  # CANCEL_AND_WAIT: EMR cancels the rest, the cluster waits
        set_step(cluster_id, 0, "FAILED")
        set_step(cluster_id, 1, "CANCELLED")
        set_cluster(cluster_id, "WAITING")

    settings = settings_for(name, log_uri, persistent=True)
    with pytest.raises(StepFailed) as raised:
        runner(settings, Moves([fail])).run_steps(TWO, log=LOG)

    assert [r.state for r in raised.value.results] == ["FAILED", "CANCELLED"]
    assert moto_state(cluster_id) == "WAITING"
    assert not [m for m in caplog.messages if "cancel" in m.lower() or "terminat" in m.lower()]


def test_a_bootstrap_failure_launches_a_new_cluster(
    name: str, log_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    def bootstrap_fails() -> None:
        fail_bootstrap(latest(name), BOOTSTRAP_MESSAGE)

    def all_done() -> None:
        set_step(latest(name), 0, "COMPLETED")
        set_step(latest(name), 1, "COMPLETED")

    moves = Moves([bootstrap_fails, lambda: None, all_done])
    results = runner(settings_for(name, log_uri), moves).run_steps(TWO, log=LOG)

    first, second = clusters_named(name)
    assert [r.state for r in results] == ["COMPLETED", "COMPLETED"]
    assert results[0].metadata["emr_cluster_id"] == second.id
    assert moves.slept == [30, 90, 30]  # poll, bootstrap retry delay, poll
    assert (
        f"EMR cluster {first.id} failed to bootstrap ({BOOTSTRAP_MESSAGE}); "
        "launching another in 90s (2 tries left)"
    ) in caplog.messages
    assert moto_state(second.id) == "TERMINATED"


def test_bootstrap_failures_stop_after_bootstrap_failure_tries(name: str, log_uri: str) -> None:
    def bootstrap_fails() -> None:
        fail_bootstrap(latest(name), BOOTSTRAP_MESSAGE)

    settings = settings_for(name, log_uri)
    tries = settings.emr.bootstrap_failure_tries
    moves = Moves([bootstrap_fails, lambda: None] * tries)
    with pytest.raises(EmrBootstrapFailed) as raised:
        runner(settings, moves).run_steps(TWO, log=LOG)

    assert len(clusters_named(name)) == tries == 3
    assert f"failed to bootstrap ({BOOTSTRAP_MESSAGE}), 3 time(s) of 3" in str(raised.value)
    assert [r.state for r in raised.value.results] == ["CANCELLED", "CANCELLED"]


def test_timeout_terminates_the_transient_cluster(name: str, log_uri: str) -> None:
    moves = Moves()
    settings = settings_for(name, log_uri, timeout_seconds=100)
    with pytest.raises(EmrTimeout) as raised:
        runner(settings, moves).run_steps(TWO, log=LOG)

    cluster_id = latest(name)
    assert moves.slept == [30, 45, 25]
    assert moto_state(cluster_id) == "TERMINATED"
    assert raised.value.cluster_id == cluster_id
    assert "not finished within the 100s timeout" in str(raised.value)
    assert [r.state for r in raised.value.results] == ["CANCELLED", "CANCELLED"]


def test_a_cancel_event_terminates_the_transient_cluster(name: str, log_uri: str) -> None:
    event = threading.Event()
    with pytest.raises(StepsCancelled) as raised:
        runner(settings_for(name, log_uri), Moves([event.set])).run_steps(
            TWO, log=LOG, cancel_event=event
        )

    assert moto_state(latest(name)) == "TERMINATED"
    assert "the run was stopped" in str(raised.value)


def test_an_interrupted_run_terminates_the_transient_cluster(name: str, log_uri: str) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(StepsCancelled) as raised:
        runner(settings_for(name, log_uri), Moves([interrupt])).run_steps(TWO, log=LOG)

    assert isinstance(raised.value.__cause__, KeyboardInterrupt)
    assert moto_state(latest(name)) == "TERMINATED"


def test_a_cancel_event_cancels_the_steps_on_a_persistent_cluster(name: str, log_uri: str) -> None:
    cluster_id = persistent_cluster(name)
    event = threading.Event()
    settings = settings_for(name, log_uri, persistent=True)
    run = runner(settings, Moves([event.set]))
    cancelled = {"CancelStepsInfoList": []}
    boundary = Boundary(run.api.emr)  # moto has no CancelSteps; EMR's answer is given here
    boundary.on("CancelSteps", lambda request: json_response(request.url, 200, cancelled))

    with pytest.raises(StepsCancelled) as raised:
        run.run_steps(TWO, log=LOG, cancel_event=event)

    ids = [r.step_id for r in raised.value.results]
    assert boundary.requests["CancelSteps"] == [
        {"ClusterId": cluster_id, "StepIds": ids, "StepCancellationOption": "SEND_INTERRUPT"}
    ]
    assert moto_state(cluster_id) == "RUNNING"  # a persistent cluster lives on


def complete_all(name: str) -> None:
    for index in (0, 1):
        set_step(latest(name), index, "COMPLETED")


def test_throttled_polls_are_retried_by_the_client(name: str, log_uri: str) -> None:
    run = runner(settings_for(name, log_uri), Moves([lambda: complete_all(name)]))
    answers = [throttling]
    Boundary(run.api.emr).on(
        "DescribeCluster", lambda request: answers.pop(0)(request.url) if answers else None
    )

    results = run.run_steps(TWO, log=LOG)

    assert [r.state for r in results] == ["COMPLETED", "COMPLETED"]
    assert not answers  # the throttled request was sent again by botocore, and then answered


def test_poll_errors_beyond_the_client_retries_are_waited_out(
    name: str, log_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    moves = Moves([lambda: None, lambda: None, lambda: complete_all(name)])
    run = runner(settings_for(name, log_uri), moves, max_attempts=0)
    answers = [unavailable, unavailable]
    Boundary(run.api.emr).on(
        "DescribeCluster", lambda request: answers.pop(0)(request.url) if answers else None
    )

    results = run.run_steps(TWO, log=LOG)

    assert [r.state for r in results] == ["COMPLETED", "COMPLETED"]
    warnings = [m for m in caplog.messages if m.startswith("Could not poll EMR")]
    assert len(warnings) == 2 and "ServiceUnavailable" in warnings[0]
    assert moves.slept == [60, 60, 30]  # the longest interval after an error, then back to normal


# ------------------------------------------------------------------------------- launching


def test_a_retried_launch_that_had_reached_emr_leaves_one_cluster(
    name: str, log_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    """RunJobFlow is not idempotent: the first request reached EMR, its answer was lost (500),
    botocore sent it again, and EMR launched a second cluster for the same batch."""
    api = EmrApi(boto3.session.Session(), region="eu-west-1")
    lost = [True]

    def lose_the_answer(request: Any) -> Any:
        if lost and lost.pop():
            forward(request)
            return json_response(request.url, 500, {"__type": "InternalServerError"})
        return None

    Boundary(api.emr).on("RunJobFlow", lose_the_answer)
    request = {
        "Name": name,
        "ReleaseLabel": "emr-6.15.0",
        "Instances": {"MasterInstanceType": "m5.xlarge"},
        "Steps": TWO,
        "JobFlowRole": "EMR_EC2_DefaultRole",
        "ServiceRole": "EMR_DefaultRole",
    }
    cluster_id = api.launch(request, log=LOG)

    clusters = {cluster.id: cluster.state for cluster in clusters_named(name)}
    assert len(clusters) == 2 and clusters.pop(cluster_id) == "WAITING"
    (duplicate,) = clusters
    assert clusters[duplicate] == "TERMINATED"
    assert f"terminating {duplicate}" in caplog.text


def test_a_failed_launch_that_had_reached_emr_is_adopted(name: str, log_uri: str) -> None:
    api = EmrApi(boto3.session.Session(), region="eu-west-1", max_attempts=0)

    def lose_the_answer(request: Any) -> Any:
        forward(request)
        return json_response(request.url, 500, {"__type": "InternalServerError"})

    Boundary(api.emr).on("RunJobFlow", lose_the_answer)
    request = {
        "Name": name,
        "ReleaseLabel": "emr-6.15.0",
        "Instances": {"MasterInstanceType": "m5.xlarge"},
        "JobFlowRole": "EMR_EC2_DefaultRole",
        "ServiceRole": "EMR_DefaultRole",
    }
    cluster_id = api.launch(request, log=LOG)

    (only,) = clusters_named(name)
    assert cluster_id == only.id
    assert only._tags[LAUNCH_TAG]


def test_a_launch_refused_by_emr_is_not_retried(name: str) -> None:
    api = EmrApi(boto3.session.Session(), region="eu-west-1")
    Boundary(api.emr).on(
        "RunJobFlow",
        lambda request: json_response(
            request.url, 400, {"__type": "ValidationException", "message": "bad"}
        ),
    )
    with pytest.raises(ClientError, match="ValidationException"):
        api.launch({"Name": name, "Instances": {}, "JobFlowRole": "r", "ServiceRole": "s"}, log=LOG)
    assert clusters_named(name) == []
