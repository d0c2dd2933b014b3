"""The UI's server on a temporary instance: through its GraphQL API (what the UI itself calls),
the batch assets are listed, a batch partition is added and listed, and the batch job is launched
for it, as an operator does from the UI."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).parents[2]
LOCATION = "snowplow_dagster"  # workspace.yaml's location_name
REPOSITORY = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}
BATCH = "2026-11-21-10-00-00"


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    """``dagster-webserver`` on 127.0.0.1 and a free port; its URL once it answers. Always stopped
    (with the processes it started) at the end."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SNOWPLOW_DAGSTER_HOME": str(tmp_path / "buckets"),
    }
    command = [
        str(Path(sys.executable).with_name("dagster-webserver")),
        *("-h", "127.0.0.1", "-p", str(port), "-w", str(REPO / "workspace.yaml")),
    ]
    with (tmp_path / "webserver.log").open("wb") as log:
        server = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=log, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, server, tmp_path / "webserver.log")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180  # loading the code location takes a while on 2 cores
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"dagster-webserver exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    raise AssertionError(f"dagster-webserver did not answer: {log.read_text()[-2000:]}")


def graphql(url: str, query: str, **variables: Any) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            document = json.loads(response.read())
    except urllib.error.HTTPError as error:  # GraphQL's own errors come with a 4xx/5xx status
        document = json.loads(error.read())
    assert "errors" not in document, document["errors"]
    return document["data"]


ASSETS = "{ assetNodes { assetKey { path } } }"
ADD_PARTITION = """
mutation ($repo: RepositorySelector!, $key: String!) {
  addDynamicPartition(repositorySelector: $repo, partitionsDefName: "batches", partitionKey: $key) {
    __typename
  }
}"""
PARTITIONS = """
{ assetNodeOrError(assetKey: {path: ["raw_logs"]}) { ... on AssetNode { partitionKeys } } }"""
LAUNCH = """
mutation ($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""
RUNS = """
{ runsOrError { ... on Runs { results { runId jobName status tags { key value } } } } }"""


def test_the_ui_lists_the_assets_and_batches_and_launches_the_batch_job(webserver: str) -> None:
    keys = {"/".join(node["assetKey"]["path"]) for node in graphql(webserver, ASSETS)["assetNodes"]}
    assert {"raw_logs", "staged_logs", "enriched_events", "archived_logs"} <= keys

    added = graphql(webserver, ADD_PARTITION, repo=REPOSITORY, key=BATCH)
    assert added["addDynamicPartition"]["__typename"] == "AddDynamicPartitionSuccess"
    assert graphql(webserver, PARTITIONS)["assetNodeOrError"]["partitionKeys"] == [BATCH]

    params = {
        "selector": {**REPOSITORY, "jobName": "batch_job"},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": BATCH}]},
    }
    launched = graphql(webserver, LAUNCH, params=params)["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched

    [run] = graphql(webserver, RUNS)["runsOrError"]["results"]
    assert run["runId"] == launched["run"]["runId"] and run["jobName"] == "batch_job"
    assert {"key": "dagster/partition", "value": BATCH} in run["tags"]


DRY_RUN = """
mutation ($selector: SensorSelector!, $cursor: String) {
  sensorDryRun(selectorData: $selector, cursor: $cursor) {
    __typename
    ... on DryRunInstigationTick {
      evaluationResult { skipReason runRequests { runKey } error { message } }
    }
    ... on PythonError { message }
  }
}"""


def test_the_sensor_preview_claims_nothing_and_the_next_real_tick_requests_the_batch(
    webserver: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from snowplow_dagster.resources import SnowplowPipeline
    from snowplow_dagster.sensors import in_bucket_sensor

    buckets = tmp_path / "buckets"
    (buckets / "raw" / "in").mkdir(parents=True)
    log = buckets / "raw" / "in" / "E1.2026-11-21-10.abc.gz"
    log.write_bytes(b"not read by a preview")
    an_hour_ago = time.time() - 3600  # past the local folder's quiet period
    os.utime(log, (an_hour_ago, an_hour_ago))
    selector = {**REPOSITORY, "sensorName": "in_bucket_sensor"}

    tick = graphql(webserver, DRY_RUN, selector=selector, cursor=None)["sensorDryRun"]

    assert tick["__typename"] == "DryRunInstigationTick", tick
    result = tick["evaluationResult"]
    assert result["error"] is None and result["runRequests"] == []
    assert "Preview, nothing claimed" in result["skipReason"]
    assert "1 object(s) into 1 batch(es)" in result["skipReason"]
    assert not (buckets / "manifests").exists()  # no manifest, no pending index
    assert log.exists()

    monkeypatch.setenv("SNOWPLOW_DAGSTER_HOME", str(buckets))
    # The sensor context is a context manager: the pipeline's nested engine resources make it one.
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(
            instance=instance, resources={"pipeline": SnowplowPipeline()}
        ) as context,
    ):
        real = in_bucket_sensor(context)
    [request] = real.run_requests or []
    pending = json.loads((buckets / "manifests" / "pending.json").read_text())["pending"]
    assert pending == [request.partition_key]
