"""``EmrResource``: an EmrEtlRunner config in, clusters on (moto's) EMR out.

Transient and persistent modes end to end against moto's server; bad configs refused before a
single request is sent; secrets absent from every error and log line. (No postponed annotations:
Dagster reads the asset's parameter annotations as types.)
"""

import logging
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest
from pydantic import ValidationError

from snowplow_dagster.config import ConfigError, load_config
from snowplow_dagster.engines.bundle import BOOTSTRAP_NAME, release_version
from snowplow_dagster.engines.contract import StepFailed
from snowplow_dagster.engines.emr.request import BATCH_TAG, RUN_TAG, with_action_on_failure
from snowplow_dagster.engines.emr.resource import EmrResource
from snowplow_dagster.engines.emr.runner import (
    ClusterAmbiguous,
    ClusterBusy,
    ClusterNotFound,
    EmrSettings,
    EmrTimeout,
)
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster_tests.engines.emr_support import (
    DELETE,
    ENV,
    SECRET_KEY,
    EmrRequests,
    Moves,
    RequestCounter,
    clusters_named,
    moto_cluster,
    persistent_cluster,
    put_stderr,
    set_cluster,
    set_step,
    steps,
    steps_back,
    write_config,
)

LOG = logging.getLogger("snowplow_dagster.test")
TWO = steps("[enrich] s3-dist-cp: Raw S3 -> Raw HDFS", "[enrich] spark: Enrich Raw Events")
FAST = {"poll_interval_seconds": 1, "step_log_wait_seconds": 0, "bootstrap_retry_delay_seconds": 0}


@pytest.fixture(autouse=True)
def environment(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample's ERB credentials: literal keys, as many EmrEtlRunner users have them."""
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


def resource(config: Path, **settings: Any) -> EmrResource:
    return EmrResource(**{**FAST, **settings}).for_config(load_config(config))


def job_name(resource: EmrResource) -> str:
    return resource.runner().settings.emr.jobflow.job_name


def described(cluster_id: str) -> dict[str, Any]:
    return boto3.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]


def complete(cluster_id: str) -> None:
    for index in range(len(moto_cluster(cluster_id).steps)):
        set_step(cluster_id, index, "COMPLETED")


# ------------------------------------------------------------------------------ transient


def test_transient_cluster_from_an_emretlrunner_config(tmp_path: Path) -> None:
    emr = resource(write_config(tmp_path))
    name = job_name(emr)
    moves = Moves([lambda: complete(clusters_named(name)[-1].id)])

    results = emr.runner(clock=moves.clock, sleep=moves.sleep).run_steps(TWO, log=LOG)

    (cluster,) = clusters_named(name)
    assert [r.state for r in results] == ["COMPLETED", "COMPLETED"]
    description = described(cluster.id)
    assert description["AutoTerminate"] is True  # KeepJobFlowAliveWhenNoSteps=False
    assert steps_back(cluster.id) == with_action_on_failure(TWO, "TERMINATE_CLUSTER")
    assert description["Status"]["State"] == "TERMINATED"
    tags = {tag["Key"]: tag["Value"] for tag in description["Tags"]}
    assert {k: tags[k] for k in ("team", "pipeline")} == {"team": "data", "pipeline": "snowplow"}


def test_in_a_dagster_run_clusters_carry_the_batch_and_run_and_log_to_it(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    name = job_name(resource(config))
    batches = dg.DynamicPartitionsDefinition(name="batches")

    @dg.asset(partitions_def=batches)
    def enriched(context: dg.AssetExecutionContext, pipeline: SnowplowPipeline) -> None:
        pipeline.execution_engine().run_steps(TWO, log=context.log)

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("batches", ["2024-05-01-10-20-30"])
        result = dg.materialize(
            [enriched],
            resources={
                "pipeline": SnowplowPipeline(
                    config_path=str(config), emr=EmrResource(**FAST, timeout_seconds=0)
                )
            },
            partition_key="2024-05-01-10-20-30",
            instance=instance,
            raise_on_error=False,
        )
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]

    (cluster,) = clusters_named(name)
    assert f"EMR cluster {cluster.id} is WAITING" in messages
    assert f"Terminating EMR cluster {cluster.id}" in messages
    description = described(cluster.id)
    tags = {tag["Key"]: tag["Value"] for tag in description["Tags"]}
    assert tags[BATCH_TAG] == "2024-05-01-10-20-30"
    assert tags[RUN_TAG] == result.run_id
    assert description["Status"]["State"] == "TERMINATED"
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    error = failure.step_failure_data.error
    assert error is not None and error.cause is not None
    assert error.cause.cls_name == EmrTimeout.__name__


def test_clusters_install_python_before_the_users_bootstrap_actions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(
        tmp_path,
        {
            "aws.s3.buckets.assets": "s3://acme-assets/hosted",
            "aws.emr.bootstrap": ["s3://acme-assets/bootstrap/tune.sh"],
            "aws.emr.configuration.spark-defaults": {"spark.pyspark.python": "/usr/bin/python3"},
        },
    )
    emr = resource(config, timeout_seconds=0)
    name = job_name(emr)

    with caplog.at_level(logging.WARNING, logger=LOG.name), pytest.raises(EmrTimeout):
        emr.run_steps(TWO, log=LOG)

    (cluster,) = clusters_named(name)
    actions = boto3.client("emr").list_bootstrap_actions(ClusterId=cluster.id)["BootstrapActions"]
    assert [action["ScriptPath"] for action in actions] == [
        f"s3://acme-assets/hosted/snowplow-dagster/{release_version()}/{BOOTSTRAP_NAME}",
        "s3://acme-assets/bootstrap/tune.sh",
    ]
    configurations = {c["Classification"]: c for c in described(cluster.id)["Configurations"]}
    assert configurations["spark-defaults"]["Properties"] == {
        "spark.pyspark.python": "/usr/bin/python3",
        "spark.pyspark.driver.python": "/usr/bin/python3.11",
    }
    assert "aws.emr.configuration.spark-defaults.spark.pyspark.python is '/usr/bin/python3'" in (
        caplog.text
    )


# ----------------------------------------------------------------------------- persistent


def test_persistent_mode_uses_the_waiting_cluster_of_that_name(tmp_path: Path) -> None:
    emr = resource(write_config(tmp_path), use_persistent_jobflow=True)
    cluster_id = persistent_cluster(job_name(emr))
    moves = Moves([lambda: complete(cluster_id)])

    results = emr.runner(clock=moves.clock, sleep=moves.sleep).run_steps(TWO, log=LOG)

    assert [r.state for r in results] == ["COMPLETED", "COMPLETED"]
    assert {r.metadata["emr_cluster_id"] for r in results} == {cluster_id}
    # The AddJobFlowSteps request as EMR keeps it: the steps as built, stopping the batch only.
    assert steps_back(cluster_id) == with_action_on_failure(TWO, "CANCEL_AND_WAIT")
    assert described(cluster_id)["Status"]["State"] != "TERMINATED"  # left for the next batch


def test_persistent_mode_launches_a_lasting_cluster_when_there_is_none(tmp_path: Path) -> None:
    emr = resource(write_config(tmp_path), use_persistent_jobflow=True)
    name = job_name(emr)
    moves = Moves([lambda: complete(clusters_named(name)[-1].id)])

    emr.runner(clock=moves.clock, sleep=moves.sleep).run_steps(TWO, log=LOG)

    (cluster,) = clusters_named(name)
    description = described(cluster.id)
    assert description["AutoTerminate"] is False  # KeepJobFlowAliveWhenNoSteps=True
    assert steps_back(cluster.id) == with_action_on_failure(TWO, "CANCEL_AND_WAIT")
    assert description["Status"]["State"] != "TERMINATED"


def test_persistent_mode_without_a_cluster_can_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emr = resource(
        write_config(tmp_path), use_persistent_jobflow=True, create_persistent_jobflow=False
    )
    name = job_name(emr)
    counter = RequestCounter(monkeypatch)
    with pytest.raises(ClusterNotFound, match=f"No live EMR cluster is named '{name}'"):
        emr.run_steps(TWO, log=LOG)
    assert len(counter.sent) == 1  # ListClusters, nothing launched or added
    assert clusters_named(name) == []


def test_a_busy_persistent_cluster_is_refused(tmp_path: Path) -> None:
    emr = resource(write_config(tmp_path), use_persistent_jobflow=True)
    cluster_id = persistent_cluster(job_name(emr))
    set_cluster(cluster_id, "RUNNING")

    with pytest.raises(ClusterBusy) as raised:
        emr.run_steps(TWO, log=LOG)

    assert f"EMR cluster {cluster_id} ('{job_name(emr)}') is RUNNING, not WAITING" in str(
        raised.value
    )
    assert [r.state for r in raised.value.results] == ["CANCELLED", "CANCELLED"]
    assert moto_cluster(cluster_id).steps == []


def test_several_persistent_clusters_of_one_name_are_refused(tmp_path: Path) -> None:
    emr = resource(write_config(tmp_path), use_persistent_jobflow=True)
    first, second = persistent_cluster(job_name(emr)), persistent_cluster(job_name(emr))

    with pytest.raises(ClusterAmbiguous) as raised:
        emr.run_steps(TWO, log=LOG)

    assert f"{first} (WAITING)" in str(raised.value) and f"{second} (WAITING)" in str(raised.value)
    assert moto_cluster(first).steps == moto_cluster(second).steps == []


# ------------------------------------------------------------------------------ bad configs


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"aws.emr.jobflow_role": DELETE}, "aws.emr.jobflow_role: is required"),
        ({"aws.emr.service_role": DELETE}, "aws.emr.service_role: is required"),
        (
            {"aws.emr.placement": "eu-west-1a"},
            "aws.emr.ec2_subnet_id: placement and ec2_subnet_id are mutually exclusive",
        ),
        (
            {"aws.emr.jobflow.core_instance_count": -2},
            "aws.emr.jobflow.core_instance_count: must be >= 0",
        ),
        (
            {"aws.emr.jobflow.task_instance_count": -1},
            "aws.emr.jobflow.task_instance_count: must be >= 0",
        ),
        (
            {
                "aws.emr.jobflow.core_instance_type": DELETE,
                "aws.emr.jobflow.core_instnce_type": "x",
            },
            "aws.emr.jobflow.core_instance_type: is required",
        ),
        (
            {"aws.emr.jobflow.master_instance_type": "m5-xlarge"},
            "aws.emr.jobflow.master_instance_type: 'm5-xlarge' is not an EC2 instance type",
        ),
        ({"aws.emr.ami_version": "3.11.0"}, "aws.emr.ami_version: EMR release 3.11.0 is too old"),
        (
            {"aws.s3.buckets.log": DELETE},
            "aws.s3.buckets.log: is required when snowplow_dagster.engine is emr",
        ),
        (
            {"aws.s3.buckets.log": DELETE, "snowplow_dagster.engine": "local"},
            "aws.s3.buckets.log: must be an s3:// location to run on EMR",
        ),
    ],
)
def test_a_bad_config_fails_before_any_aws_call(
    changes: dict[str, Any], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes = {
        **changes,
        # A secret that would show if an error quoted the section it sits in.
        "aws.emr.configuration.core-site": {"fs.s3.awsSecretAccessKey": "pr0perty-s3cret"},
    }
    if "snowplow_dagster.engine" in changes:
        changes["snowplow_dagster.manifests"] = "s3://acme-snowplow-etl/manifests/"
    config = write_config(tmp_path, changes)
    counter = RequestCounter(monkeypatch)

    with pytest.raises(ConfigError) as raised:
        resource(config).run_steps(TWO, log=LOG)

    assert counter.sent == []
    assert [str(issue) for issue in raised.value.issues if str(issue).startswith(expected)]
    assert SECRET_KEY not in str(raised.value) and "pr0perty-s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("fleet", "key"),
    [
        ({"instance_types": [{"instance_type": "m5.xlarge", "weigth": 2}]}, "weigth"),
        ({"target_spot_capacity": -1}, "target_spot_capacity"),
        ({"rol": "CORE"}, "rol"),
    ],
)
def test_bad_fleet_settings_fail_when_the_resource_is_made(fleet: dict[str, Any], key: str) -> None:
    base = {"role": "MASTER", "target_on_demand_capacity": 1}
    base["instance_types"] = [{"instance_type": "m5.xlarge"}]
    with pytest.raises(ValidationError) as raised:
        EmrResource(instance_fleets=[{**base, **fleet}])
    (error,) = raised.value.errors()
    assert error["loc"][0] == "instance_fleets" and error["loc"][-1] == key


def test_fleet_rules_fail_before_any_aws_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path)
    counter = RequestCounter(monkeypatch)
    core = {
        "role": "CORE",
        "target_spot_capacity": 4,
        "instance_types": [{"instance_type": "r5.xlarge"}],
    }

    with pytest.raises(ConfigError) as raised:
        resource(config, instance_fleets=[core], ec2_subnet_ids=["subnet-a"]).run_steps(
            TWO, log=LOG
        )

    assert [issue.key for issue in raised.value.issues] == ["instance_fleets", "ec2_subnet_ids"]
    assert counter.sent == []


# --------------------------------------------------------------------------------- secrets


def test_secrets_never_reach_errors_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Static keys and secret-looking EMR properties, even when a step's stderr prints them."""
    secret_property = "pr0perty-s3cret"
    config = write_config(
        tmp_path, {"aws.emr.configuration.core-site": {"fs.s3.awsSecretAccessKey": secret_property}}
    )
    emr = resource(config)
    name = job_name(emr)
    log_uri = emr.runner().settings.log_uri

    def fail() -> None:
        cluster = clusters_named(name)[-1]
        set_step(cluster.id, 0, "FAILED")
        set_step(cluster.id, 1, "CANCELLED")
        echoed = f"aws_secret_access_key={SECRET_KEY}\nfs.s3.awsSecretAccessKey={secret_property}"
        put_stderr(log_uri, cluster.id, cluster.steps[0].id, echoed)

    moves = Moves([fail])
    with caplog.at_level(logging.DEBUG, logger=LOG.name), pytest.raises(StepFailed) as raised:
        emr.runner(clock=moves.clock, sleep=moves.sleep).run_steps(TWO, log=LOG)

    texts = [str(raised.value), raised.value.failed.log_tail or "", caplog.text]
    assert "aws_secret_access_key=***" in texts[0] and "fs.s3.awsSecretAccessKey=***" in texts[1]
    for text in texts:
        assert SECRET_KEY not in text and secret_property not in text
    # Revealed into the request, where EMR needs it, and nowhere else.
    configurations = described(clusters_named(name)[-1].id)["Configurations"]
    assert {"fs.s3.awsSecretAccessKey": secret_property} in [
        c["Properties"] for c in configurations
    ]


# ------------------------------------------------------------- settings from Dagster resources


def test_engine_settings_set_in_definitions_reach_the_cluster_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a ``dagster dev`` user sets them: the EMR engine nested in the pipeline resource."""
    config = write_config(tmp_path, {"aws.emr.ec2_subnet_id": DELETE})
    name = job_name(resource(config))
    sent = EmrRequests(monkeypatch)
    fleets = [
        {
            "role": "MASTER",
            "target_on_demand_capacity": 1,
            "instance_types": [{"instance_type": "m5.xlarge"}],
        },
        {
            "role": "CORE",
            "target_spot_capacity": 4,
            "instance_types": [{"instance_type": "r5.xlarge", "weighted_capacity": 2}],
        },
    ]
    seen: list[EmrSettings] = []

    @dg.asset
    def enriched(context: dg.AssetExecutionContext, pipeline: SnowplowPipeline) -> None:
        engine = pipeline.execution_engine()
        assert isinstance(engine, EmrResource)
        seen.append(engine.runner().settings)
        engine.run_steps(TWO, log=context.log)

    defs = dg.Definitions(
        assets=[enriched],
        resources={
            "pipeline": SnowplowPipeline(
                config_path=str(config),
                emr=EmrResource(
                    use_persistent_jobflow=True,
                    instance_fleets=fleets,
                    ec2_subnet_ids=["subnet-a", "subnet-b"],
                    poll_interval_seconds=0.25,
                    max_poll_interval_seconds=0.25,
                    timeout_seconds=1.5,
                    step_log_wait_seconds=0,
                ),
            )
        },
    )
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(raise_on_error=False)

    (request,) = sent.bodies("RunJobFlow")
    assert request["Name"] == name
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True  # persistent
    assert request["Instances"]["Ec2SubnetIds"] == ["subnet-a", "subnet-b"]
    assert [
        (fleet["InstanceFleetType"], fleet["InstanceTypeConfigs"][0]["InstanceType"])
        for fleet in request["Instances"]["InstanceFleets"]
    ] == [("MASTER", "m5.xlarge"), ("CORE", "r5.xlarge")]
    assert "InstanceGroups" not in request["Instances"]
    # The wait: polled every 0.25s (the default 30s would have looked once), and gave up at 1.5s.
    (settings,) = seen
    assert (settings.poll.interval_seconds, settings.timeout_seconds) == (0.25, 1.5)
    assert len(sent.bodies("DescribeCluster")) >= 3
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    error = failure.step_failure_data.error
    assert error is not None and error.cause is not None
    assert error.cause.cls_name == EmrTimeout.__name__
    assert "within the 1.5s timeout" in error.cause.message
    (cluster,) = clusters_named(name)
    assert described(cluster.id)["Status"]["State"] != "TERMINATED"  # persistent: kept


def test_engine_settings_in_the_config_apply_unless_the_resource_sets_them(tmp_path: Path) -> None:
    """A cron user has only ``config.yml``; a resource setting wins over the config's."""
    config = load_config(
        write_config(
            tmp_path,
            {
                "snowplow_dagster.emr": {
                    "use_persistent_jobflow": True,
                    "poll_interval_seconds": 15,
                    "timeout_seconds": 600,
                }
            },
        )
    )

    from_config = EmrResource().settings_for(config)
    overridden = EmrResource(use_persistent_jobflow=False, timeout_seconds=60).settings_for(config)

    assert (from_config.persistent, from_config.create_persistent) == (True, True)
    assert (from_config.poll.interval_seconds, from_config.timeout_seconds) == (15, 600)
    assert (overridden.persistent, overridden.timeout_seconds) == (False, 60)
    assert overridden.poll.interval_seconds == 15
