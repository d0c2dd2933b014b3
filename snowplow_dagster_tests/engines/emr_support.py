"""Shared pieces of the EMR tests: configs, step lists, and the AWS boundary made controllable.

moto's server emulates EMR but never moves a step on its own (every first step stays RUNNING,
the rest PENDING) and lacks ``CancelSteps``. So the tests either move moto's backend state (it
serves from this process: ``moto_cluster``) or answer one operation at the HTTP boundary
(``answer``, botocore's ``before-send``), the way EMR itself would; never inside our code.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import urllib3
import yaml
from botocore import handlers
from botocore.awsrequest import AWSResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.emr.models import Cluster, emr_backends

from snowplow_dagster.config import render_erb
from snowplow_dagster.engines.contract import StepConfig
from snowplow_dagster.samples import SAMPLE_CONFIGS

SAMPLE = SAMPLE_CONFIGS / "config.emr.yml"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ENV = {"AWS_SNOWPLOW_ACCESS_KEY": ACCESS_KEY, "AWS_SNOWPLOW_SECRET_KEY": SECRET_KEY}
DELETE = object()


def sample_data() -> dict[str, Any]:
    """The shipped EMR sample (EmrEtlRunner's R117 sample, filled in) as a mapping."""
    return yaml.safe_load(render_erb(SAMPLE.read_text(), ENV))


def edit(data: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Set (or ``DELETE``) values at dotted keys, in place."""
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return data


def write_config(directory: Path, changes: Mapping[str, Any] | None = None) -> Path:
    """The sample with ``changes``, a unique job name (clusters outlive tests on the session's
    server) and a log bucket that exists, written as a ``config.yml``."""
    bucket = f"emr-logs-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    data = edit(
        sample_data(),
        {
            "aws.s3.buckets.log": f"s3://{bucket}/emr/",
            "aws.emr.jobflow.job_name": f"Snowplow ETL {uuid.uuid4().hex[:8]}",
            **(changes or {}),
        },
    )
    path = directory / f"config-{uuid.uuid4().hex[:8]}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def steps(*names: str) -> list[StepConfig]:
    """Step configs as the step builders make them."""
    return [
        {
            "Name": name,
            "ActionOnFailure": "CANCEL_AND_WAIT",
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["s3-dist-cp", "--src", name]},
        }
        for name in names
    ]


# --------------------------------------------------------------------------- moto's state


def moto_cluster(cluster_id: str) -> Cluster:
    """The emulated cluster (moto's server files every cluster under the default region)."""
    for backend in emr_backends[DEFAULT_ACCOUNT_ID].values():
        if cluster_id in backend.clusters:
            return backend.clusters[cluster_id]
    raise KeyError(cluster_id)


def set_step(cluster_id: str, index: int, state: str) -> None:
    step = moto_cluster(cluster_id).steps[index]
    now = datetime.now(UTC)
    if state != "PENDING" and step.start_date_time is None and state != "CANCELLED":
        step.start_date_time = now
    if state in ("COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED"):
        step.end_date_time = now
    step.state = state


def set_cluster(cluster_id: str, state: str, message: str | None = None) -> None:
    cluster = moto_cluster(cluster_id)
    cluster.state = state
    cluster.last_state_change_reason = message


def persistent_cluster(name: str) -> str:
    """A cluster kept alive with no steps: WAITING, as a persistent cluster between batches."""
    return boto3.client("emr").run_job_flow(
        Name=name,
        ReleaseLabel="emr-6.15.0",
        Instances={"MasterInstanceType": "m5.xlarge", "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]


def fail_bootstrap(cluster_id: str, message: str) -> None:
    """As EMR ends a cluster whose bootstrap action failed: no step ever started."""
    cluster = moto_cluster(cluster_id)
    for step in cluster.steps:
        step.state, step.start_date_time = "CANCELLED", None
    set_cluster(cluster_id, "TERMINATED_WITH_ERRORS", message)


def clusters_named(name: str) -> list[Cluster]:
    backend = emr_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return sorted(
        (c for c in backend.clusters.values() if c.name == name),
        key=lambda c: c.creation_datetime,
    )


class Moves:
    """An injected ``sleep`` that plays a script of state changes, one entry per sleep, and a
    clock that the sleeps advance."""

    def __init__(self, script: list[Callable[[], None]] | None = None) -> None:
        self.script = list(script or [])
        self.slept: list[float] = []
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.script:
            self.script.pop(0)()


def steps_back(cluster_id: str) -> list[dict[str, Any]]:
    """The cluster's steps as EMR (moto) keeps them, in ``StepConfig`` form, oldest first."""
    listed = boto3.client("emr").list_steps(ClusterId=cluster_id)["Steps"][::-1]
    return [
        {
            "Name": step["Name"],
            "ActionOnFailure": step["ActionOnFailure"],
            "HadoopJarStep": {"Jar": step["Config"]["Jar"], "Args": step["Config"]["Args"]},
        }
        for step in listed
    ]


def put_stderr(log_uri: str, cluster_id: str, step_id: str, text: str) -> str:
    bucket, _, prefix = log_uri.removeprefix("s3://").partition("/")
    key = f"{prefix}{cluster_id}/steps/{step_id}/stderr.gz"
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=gzip.compress(text.encode()))
    return f"s3://{bucket}/{key}"


# -------------------------------------------------------------------------- HTTP boundary


def json_response(url: str, status: int, body: Mapping[str, Any]) -> AWSResponse:
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "test"}
    return AWSResponse(url, status, headers, _Body(json.dumps(body).encode()))


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def throttling(url: str) -> AWSResponse:
    return json_response(url, 400, {"__type": "ThrottlingException", "message": "Rate exceeded"})


def unavailable(url: str) -> AWSResponse:
    return json_response(url, 503, {"__type": "ServiceUnavailable", "message": "Try again"})


class Boundary:
    """Answers chosen EMR operations of one client at ``before-send`` and records their requests.

    ``reply(request)`` returns an ``AWSResponse`` to answer with, or None to let the request
    through to moto.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.requests: dict[str, list[dict[str, Any]]] = {}

    def on(self, operation: str, reply: Callable[[Any], AWSResponse | None]) -> None:
        def hook(request: Any, **_: Any) -> AWSResponse | None:
            self.requests.setdefault(operation, []).append(json.loads(request.body or b"{}"))
            return reply(request)

        self.client.meta.events.register(f"before-send.emr.{operation}", hook)


def forward(request: Any) -> None:
    """Send the request to the server ourselves, as if it arrived and its answer was then lost."""
    urllib3.PoolManager().request(
        request.method, request.url, body=request.body, headers=dict(request.headers)
    )


class RequestCounter:
    """Counts every request any botocore client created afterwards is about to send."""

    def __init__(self, monkeypatch: Any) -> None:
        self.sent: list[str] = []
        monkeypatch.setattr(
            handlers, "BUILTIN_HANDLERS", [*handlers.BUILTIN_HANDLERS, ("before-send", self._hook)]
        )

    def _hook(self, request: Any, **_: Any) -> None:
        self.sent.append(request.url)


class EmrRequests:
    """Records the body of every EMR request any botocore client created afterwards sends."""

    def __init__(self, monkeypatch: Any) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        monkeypatch.setattr(
            handlers,
            "BUILTIN_HANDLERS",
            [*handlers.BUILTIN_HANDLERS, ("before-send.emr", self._hook)],
        )

    def _hook(self, request: Any, **_: Any) -> None:
        operation = request.headers["X-Amz-Target"].decode().rsplit(".", 1)[-1]
        self.sent.append((operation, json.loads(request.body or b"{}")))

    def bodies(self, operation: str) -> list[dict[str, Any]]:
        return [body for name, body in self.sent if name == operation]
