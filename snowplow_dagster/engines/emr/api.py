"""The EMR and S3 calls the EMR engine makes: one method per question or command, nothing more.

Every call goes through clients with botocore's adaptive retries (``max_attempts`` 10), so
throttling and transient errors are retried with backoff, and throttling also slows the client
down. Two calls are not safe to retry blindly: ``RunJobFlow`` has no idempotency token, so a retry
after a request that reached EMR but whose answer was lost launches a second cluster that would
run the same batch unsupervised. ``launch`` therefore tags each request with a token and, whenever
a retry happened or the call failed, looks for clusters carrying it: the one EMR answered with (or,
if the call failed, the oldest) is the launch, and any other is terminated.
"""

from __future__ import annotations

import gzip
import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from snowplow_dagster.engines.contract import StepConfig
from snowplow_dagster.engines.emr.wait import ClusterStatus, Observation, StepStatus
from snowplow_dagster.storage import Location

LAUNCH_TAG = "snowplow-dagster/launch-token"
LIVE_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalServerError",
        "InternalServerException",
        "InternalFailure",
        "ServiceUnavailable",
    }
)
_CLOCK_SKEW = timedelta(minutes=5)


def is_transient(error: Exception) -> bool:
    """Throttling, a 5xx or a network failure: worth trying again later, never a wrong request."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in _TRANSIENT_CODES or status >= 500
    return isinstance(error, ConnectionError | HTTPClientError)


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    cluster_id: str
    state: str


class EmrApi:
    def __init__(
        self,
        session: boto3.session.Session,
        *,
        region: str,
        s3_region: str | None = None,
        max_attempts: int = 10,
    ) -> None:
        """Endpoints come from the standard AWS configuration (``AWS_ENDPOINT_URL``,
        ``AWS_ENDPOINT_URL_EMR``, ...), so the same code talks to AWS or to a local emulator."""
        config = Config(retries={"mode": "adaptive", "max_attempts": max_attempts})
        self.emr = session.client("emr", region_name=region, config=config)
        self.s3 = session.client("s3", region_name=s3_region or region, config=config)

    def launch(
        self, request: Mapping[str, Any], *, log: logging.Logger | logging.LoggerAdapter[Any]
    ) -> str:
        """``RunJobFlow``; the cluster id, and never a second cluster (see the module docstring)."""
        token = uuid.uuid4().hex
        tagged = {
            **request,
            "Tags": [*request.get("Tags", ()), {"Key": LAUNCH_TAG, "Value": token}],
        }
        since = datetime.now(UTC) - _CLOCK_SKEW
        try:
            response = self.emr.run_job_flow(**tagged)
        except (ClientError, BotoCoreError) as error:
            if not is_transient(error):
                raise
            launched = self._clusters_with_token(request["Name"], token, since)
            if not launched:
                raise
            log.warning(f"RunJobFlow failed ({error}) but launched {launched[0]}; using it")
        else:
            launched = [response["JobFlowId"]]
            if response["ResponseMetadata"].get("RetryAttempts"):
                found = self._clusters_with_token(request["Name"], token, since)
                launched += [cluster for cluster in found if cluster != launched[0]]
        cluster_id, *duplicates = launched
        if duplicates:
            log.warning(
                f"RunJobFlow was retried and launched {len(duplicates)} more cluster(s) besides "
                f"{cluster_id}; terminating {', '.join(duplicates)}"
            )
            self.emr.terminate_job_flows(JobFlowIds=duplicates)
        return cluster_id

    def _clusters_with_token(self, name: str, token: str, since: datetime) -> list[str]:
        """Clusters of this name launched since ``since`` and tagged ``token``, oldest first."""
        candidates = [
            cluster
            for cluster in self._list_clusters(CreatedAfter=since)
            if cluster["Name"] == name
        ]
        candidates.sort(key=lambda cluster: cluster["Status"]["Timeline"]["CreationDateTime"])
        found = []
        for cluster in candidates:
            tags = self.emr.describe_cluster(ClusterId=cluster["Id"])["Cluster"].get("Tags", [])
            if {"Key": LAUNCH_TAG, "Value": token} in tags:
                found.append(cluster["Id"])
        return found

    def live_clusters(self, name: str) -> list[ClusterSummary]:
        """Clusters of this name that are starting, running or waiting."""
        return [
            ClusterSummary(cluster["Id"], cluster["Status"]["State"])
            for cluster in self._list_clusters(ClusterStates=list(LIVE_STATES))
            if cluster["Name"] == name
        ]

    def _list_clusters(self, **filters: Any) -> Iterator[dict[str, Any]]:
        for page in self.emr.get_paginator("list_clusters").paginate(**filters):
            yield from page.get("Clusters", ())

    def add_steps(self, cluster_id: str, steps: Sequence[StepConfig]) -> list[str]:
        return self.emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=list(steps))["StepIds"]

    def step_ids(self, cluster_id: str) -> list[str]:
        """Every step of the cluster, oldest first (EMR lists the newest first)."""
        return [step["Id"] for step in reversed(list(self._list_steps(cluster_id)))]

    def observe(self, cluster_id: str, step_ids: Sequence[str]) -> Observation:
        cluster = self.emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        found = {
            step["Id"]: StepStatus.from_api(step)
            for step in self._list_steps(cluster_id, StepIds=list(step_ids))
        }
        return Observation(
            ClusterStatus.from_api(cluster),
            tuple(found[step_id] for step_id in step_ids if step_id in found),
        )

    def _list_steps(self, cluster_id: str, **filters: Any) -> Iterator[dict[str, Any]]:
        pages = self.emr.get_paginator("list_steps").paginate(ClusterId=cluster_id, **filters)
        for page in pages:
            yield from page.get("Steps", ())

    def cancel_steps(self, cluster_id: str, step_ids: Sequence[str]) -> None:
        """Cancel pending steps and interrupt running ones (EMR 5.28+); finished ones stay."""
        self.emr.cancel_steps(
            ClusterId=cluster_id, StepIds=list(step_ids), StepCancellationOption="SEND_INTERRUPT"
        )

    def terminate(self, cluster_id: str) -> None:
        self.emr.terminate_job_flows(JobFlowIds=[cluster_id])

    def read_log(self, uri: str) -> bytes | None:
        """A log object, gunzipped; None if it is not there (yet)."""
        location = Location.parse(uri)
        try:
            body = self.s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
