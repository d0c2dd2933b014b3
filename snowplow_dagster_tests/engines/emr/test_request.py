"""The ``RunJobFlow`` request: exact for full EmrEtlRunner configs, and as EMR (moto) stores it."""

from __future__ import annotations

import logging
from typing import Any

import boto3
import pytest

from snowplow_dagster.config import ConfigError, EmrConfig, load_config_text, parse_config
from snowplow_dagster.engines.emr.api import LAUNCH_TAG, EmrApi
from snowplow_dagster.engines.emr.request import (
    InstanceFleet,
    build_run_job_flow_request,
    check_emr_settings,
    cluster_tags,
    python_setting_warnings,
    summary,
    with_action_on_failure,
)
from snowplow_dagster_tests.engines.emr_support import ENV, edit, sample_data, steps, steps_back
from snowplow_dagster_tests.test_config import DATA

BATCH = "2024-05-01-10-20-30"
RUN = "4f1c6a0e-8d3b-4f7e-9a39-0d2f2f9b7c11"
STEPS = steps("[enrich] s3-dist-cp: Raw S3 -> Raw HDFS", "[enrich] spark: Enrich Raw Events")
UPSTREAM_SAMPLE = DATA / "emretlrunner_sample.yml"
# A VPC user's values over each ADD HERE of EmrEtlRunner's own config.yml.sample, in file order.
UPSTREAM_FILL = [
    "eu-west-1",
    "s3://acme-logs",
    "s3://acme-collector-old",
    "s3://acme-collector-new",
    "s3://acme-etl/processing",
    "s3://acme-archive/raw",
    "s3://acme-out/enriched/good",
    "s3://acme-out/enriched/bad",
    "",
    "s3://acme-archive/enriched",
    "s3://acme-out/shredded/good",
    "s3://acme-out/shredded/bad",
    "",
    "s3://acme-archive/shredded",
    "eu-west-1",
    "",
    "subnet-0123456789abcdef0",
    "acme-emr",
    "",
    "snowplow",
    "collector.acme.example",
]


def emr_of(data: dict[str, Any]) -> EmrConfig:
    emr = parse_config(data, source="config.yml").file.aws.emr
    assert emr is not None
    return emr


def request_for(emr: EmrConfig, *, keep_alive: bool, **extra: Any) -> dict[str, Any]:
    return build_run_job_flow_request(
        emr,
        name=emr.jobflow.job_name,
        log_uri="s3://acme-snowplow-logs/emr/",
        tags=cluster_tags({"team": "data"}, batch_id=BATCH, run_id=RUN),
        steps=with_action_on_failure(
            STEPS, "CANCEL_AND_WAIT" if keep_alive else "TERMINATE_CLUSTER"
        ),
        keep_alive=keep_alive,
        **extra,
    )


def expected_steps(action: str) -> list[dict[str, Any]]:
    return [{**step, "ActionOnFailure": action} for step in STEPS]


COMMON = {
    "LogUri": "s3://acme-snowplow-logs/emr/",
    "Applications": [{"Name": "Hadoop"}, {"Name": "Spark"}],
    "Configurations": [
        {
            "Classification": "yarn-site",
            "Properties": {"yarn.resourcemanager.am.max-attempts": "1"},
        },
        {"Classification": "spark", "Properties": {"maximizeResourceAllocation": "true"}},
        {
            "Classification": "spark-env",
            "Properties": {},
            "Configurations": [
                {
                    "Classification": "export",
                    "Properties": {"PYSPARK_PYTHON": "/usr/bin/python3.11"},
                }
            ],
        },
        {
            "Classification": "spark-defaults",
            "Properties": {
                "spark.pyspark.python": "/usr/bin/python3.11",
                "spark.pyspark.driver.python": "/usr/bin/python3.11",
            },
        },
    ],
    "VisibleToAllUsers": True,
    "JobFlowRole": "EMR_EC2_DefaultRole",
    "ServiceRole": "EMR_DefaultRole",
    "Tags": [
        {"Key": "team", "Value": "data"},
        {"Key": "snowplow/batch-id", "Value": BATCH},
        {"Key": "dagster/run-id", "Value": RUN},
    ],
}


@pytest.mark.parametrize(
    ("keep_alive", "action"), [(False, "TERMINATE_CLUSTER"), (True, "CANCEL_AND_WAIT")]
)
def test_shipped_emr_sample_in_batch_and_persistent_mode(keep_alive: bool, action: str) -> None:
    request = request_for(emr_of(sample_data()), keep_alive=keep_alive)

    assert request == {
        **COMMON,
        "Name": "Snowplow ETL",
        "ReleaseLabel": "emr-7.5.0",
        "Instances": {
            "KeepJobFlowAliveWhenNoSteps": keep_alive,
            "TerminationProtected": False,
            "InstanceGroups": [
                {
                    "Name": "Master",
                    "InstanceRole": "MASTER",
                    "InstanceType": "m5.xlarge",
                    "InstanceCount": 1,
                    "Market": "ON_DEMAND",
                },
                {
                    "Name": "Core",
                    "InstanceRole": "CORE",
                    "InstanceType": "r5.xlarge",
                    "InstanceCount": 2,
                    "Market": "SPOT",
                    "BidPrice": "0.1",
                    "EbsConfiguration": {
                        "EbsBlockDeviceConfigs": [
                            {
                                "VolumeSpecification": {
                                    "VolumeType": "gp3",
                                    "SizeInGB": 100,
                                    "Iops": 3000,
                                },
                                "VolumesPerInstance": 1,
                            }
                        ],
                        "EbsOptimized": True,
                    },
                },
            ],
            "Ec2KeyName": "snowplow-emr",
            "Ec2SubnetId": "subnet-0123456789abcdef0",
        },
        "Steps": expected_steps(action),
    }


def upstream_emr(*replacements: tuple[str, str]) -> EmrConfig:
    """EmrEtlRunner's own sample, filled in as a user would, then ``replacements``."""
    text = UPSTREAM_SAMPLE.read_text()
    for value in UPSTREAM_FILL:
        text = text.replace("ADD HERE", value, 1)
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    emr = load_config_text(text, env=ENV).file.aws.emr
    assert emr is not None
    return emr


def test_emretlrunner_own_sample_names_a_release_without_python_3_11() -> None:
    assert issues(upstream_emr()) == [
        "aws.emr.ami_version: EMR release 5.29.0 is too old: the enrich application needs "
        "Python 3.11, which EMR installs from Amazon Linux 2023 on 7.0.0 and later only "
        "(EMR 6.x and earlier have Python 3.7 at most); use e.g. 7.5.0"
    ]


def test_emretlrunner_own_sample_as_a_user_fills_it_in() -> None:
    emr = upstream_emr(("ami_version: 5.29.0", "ami_version: 7.5.0"))
    check_emr_settings(emr)

    request = request_for(emr, keep_alive=False)

    assert request["ReleaseLabel"] == "emr-7.5.0"
    assert request["Instances"] == {
        "KeepJobFlowAliveWhenNoSteps": False,
        "TerminationProtected": False,
        "InstanceGroups": [
            {
                "Name": "Master",
                "InstanceRole": "MASTER",
                "InstanceType": "m4.large",
                "InstanceCount": 1,
                "Market": "ON_DEMAND",
            },
            {
                "Name": "Core",
                "InstanceRole": "CORE",
                "InstanceType": "m4.large",
                "InstanceCount": 2,
                "Market": "SPOT",
                "BidPrice": "0.015",
                # The sample's volume_iops: 400 is for io1 only, as its comment says; EMR refuses
                # IOPS on gp2, and EmrEtlRunner dropped it.
                "EbsConfiguration": {
                    "EbsBlockDeviceConfigs": [
                        {
                            "VolumeSpecification": {"VolumeType": "gp2", "SizeInGB": 100},
                            "VolumesPerInstance": 1,
                        }
                    ],
                    "EbsOptimized": False,
                },
            },
        ],
        "Ec2KeyName": "acme-emr",
        "Ec2SubnetId": "subnet-0123456789abcdef0",
    }
    assert {k: v for k, v in request.items() if k in COMMON} == {
        **COMMON,
        "LogUri": COMMON["LogUri"],
    }


def test_every_optional_key_of_aws_emr() -> None:
    data = edit(
        sample_data(),
        {
            "aws.emr.ec2_subnet_id": None,
            "aws.emr.placement": "eu-west-1b",
            "aws.emr.ec2_key_name": None,
            "aws.emr.security_configuration": "snowplow-at-rest",
            "aws.emr.bootstrap": ["s3://acme-assets/bootstrap/tune.sh", "s3://acme-assets/b/x.sh"],
            "aws.emr.software.hbase": "0.92.0",
            "aws.emr.jobflow.core_instance_bid": None,
            "aws.emr.jobflow.core_instance_ebs": None,
            "aws.emr.jobflow.task_instance_count": 3,
            "aws.emr.jobflow.task_instance_type": "c5.2xlarge",
            "aws.emr.jobflow.task_instance_bid": 0.0000125,
            "aws.emr.additional_info": '{"instanceAwsClientConfiguration": {"proxyPort": 8099}}',
        },
    )
    request = request_for(emr_of(data), keep_alive=False)

    instances = request["Instances"]
    assert instances["Placement"] == {"AvailabilityZone": "eu-west-1b"}
    assert "Ec2SubnetId" not in instances and "Ec2KeyName" not in instances
    assert instances["InstanceGroups"][1:] == [
        {
            "Name": "Core",
            "InstanceRole": "CORE",
            "InstanceType": "r5.xlarge",
            "InstanceCount": 2,
            "Market": "ON_DEMAND",
        },
        {
            "Name": "Task",
            "InstanceRole": "TASK",
            "InstanceType": "c5.2xlarge",
            "InstanceCount": 3,
            "Market": "SPOT",
            "BidPrice": "0.0000125",
        },
    ]
    assert request["BootstrapActions"] == [
        {
            "Name": "Bootstrap action tune.sh",
            "ScriptBootstrapAction": {"Path": "s3://acme-assets/bootstrap/tune.sh", "Args": []},
        },
        {
            "Name": "Bootstrap action x.sh",
            "ScriptBootstrapAction": {"Path": "s3://acme-assets/b/x.sh", "Args": []},
        },
    ]
    assert request["Applications"] == [{"Name": "Hadoop"}, {"Name": "Spark"}, {"Name": "HBase"}]
    assert request["SecurityConfiguration"] == "snowplow-at-rest"
    assert request["AdditionalInfo"] == '{"instanceAwsClientConfiguration": {"proxyPort": 8099}}'


def test_a_single_node_cluster_has_no_core_group() -> None:
    data = edit(sample_data(), {"aws.emr.jobflow.core_instance_count": 0})
    groups = request_for(emr_of(data), keep_alive=False)["Instances"]["InstanceGroups"]
    assert [group["InstanceRole"] for group in groups] == ["MASTER"]


def test_instance_fleets_and_several_subnets_replace_the_groups() -> None:
    data = edit(sample_data(), {"aws.emr.ec2_subnet_id": None})
    fleets = [
        InstanceFleet(
            role="MASTER",
            target_on_demand_capacity=1,
            instance_types=[{"instance_type": "m5.xlarge"}],
        ),
        InstanceFleet(
            role="CORE",
            target_on_demand_capacity=2,
            target_spot_capacity=6,
            instance_types=[
                {"instance_type": "r5.xlarge", "weighted_capacity": 2},
                {
                    "instance_type": "r5a.2xlarge",
                    "weighted_capacity": 4,
                    "bid_price_as_percentage_of_on_demand": 60,
                    "ebs": {"volume_size": 200, "volume_type": "gp3", "volume_iops": 4000},
                },
            ],
        ),
    ]
    instances = request_for(
        emr_of(data),
        keep_alive=False,
        instance_fleets=fleets,
        ec2_subnet_ids=["subnet-a", "subnet-b"],
    )["Instances"]

    assert "InstanceGroups" not in instances
    assert instances["Ec2SubnetIds"] == ["subnet-a", "subnet-b"]
    assert instances["InstanceFleets"] == [
        {
            "Name": "Master fleet",
            "InstanceFleetType": "MASTER",
            "TargetOnDemandCapacity": 1,
            "TargetSpotCapacity": 0,
            "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge", "WeightedCapacity": 1}],
        },
        {
            "Name": "Core fleet",
            "InstanceFleetType": "CORE",
            "TargetOnDemandCapacity": 2,
            "TargetSpotCapacity": 6,
            "InstanceTypeConfigs": [
                {"InstanceType": "r5.xlarge", "WeightedCapacity": 2},
                {
                    "InstanceType": "r5a.2xlarge",
                    "WeightedCapacity": 4,
                    "BidPriceAsPercentageOfOnDemandPrice": 60.0,
                    "EbsConfiguration": {
                        "EbsBlockDeviceConfigs": [
                            {
                                "VolumeSpecification": {
                                    "VolumeType": "gp3",
                                    "SizeInGB": 200,
                                    "Iops": 4000,
                                },
                                "VolumesPerInstance": 1,
                            }
                        ]
                    },
                },
            ],
            "LaunchSpecifications": {
                "SpotSpecification": {
                    "TimeoutDurationMinutes": 20,
                    "TimeoutAction": "SWITCH_TO_ON_DEMAND",
                    "AllocationStrategy": "price-capacity-optimized",
                }
            },
        },
    ]


def test_continue_steps_keep_going_whatever_the_cluster_mode() -> None:
    mixed = [*STEPS, {**STEPS[0], "Name": "optional", "ActionOnFailure": "CONTINUE"}]
    assert [s["ActionOnFailure"] for s in with_action_on_failure(mixed, "TERMINATE_CLUSTER")] == [
        "TERMINATE_CLUSTER",
        "TERMINATE_CLUSTER",
        "CONTINUE",
    ]


def test_tags_without_a_dagster_run_are_the_monitoring_tags() -> None:
    assert cluster_tags({"team": "data"}, batch_id=None, run_id=None) == {"team": "data"}


def test_secret_properties_reach_the_request_but_not_the_summary() -> None:
    data = edit(
        sample_data(),
        {"aws.emr.configuration.core-site": {"fs.s3.awsSecretAccessKey": "s3cr3t-v4lue"}},
    )
    request = request_for(emr_of(data), keep_alive=False)

    assert {
        "Classification": "core-site",
        "Properties": {"fs.s3.awsSecretAccessKey": "s3cr3t-v4lue"},
    } in request["Configurations"]
    text = summary(request)
    assert "s3cr3t" not in text
    assert text == (
        "emr-7.5.0, master 1x m5.xlarge, core 2x r5.xlarge spot bid 0.1 USD, "
        "subnet subnet-0123456789abcdef0, 2 steps"
    )


def test_the_python_settings_join_the_users_without_overriding_them() -> None:
    data = edit(
        sample_data(),
        {
            "aws.emr.configuration.spark-defaults": {
                "spark.pyspark.python": "/opt/python/bin/python3",
                "spark.executor.cores": 4,
            },
            "aws.emr.configuration.spark-env": {"SPARK_DAEMON_MEMORY": "2g"},
        },
    )
    emr = emr_of(data)

    configurations = request_for(emr, keep_alive=False)["Configurations"]

    assert configurations[2:] == [
        {
            "Classification": "spark-defaults",
            "Properties": {
                "spark.pyspark.python": "/opt/python/bin/python3",
                "spark.executor.cores": "4",
                "spark.pyspark.driver.python": "/usr/bin/python3.11",
            },
        },
        {
            "Classification": "spark-env",
            "Properties": {"SPARK_DAEMON_MEMORY": "2g"},
            "Configurations": [
                {
                    "Classification": "export",
                    "Properties": {"PYSPARK_PYTHON": "/usr/bin/python3.11"},
                }
            ],
        },
    ]
    assert python_setting_warnings(emr) == [
        "aws.emr.configuration.spark-defaults.spark.pyspark.python is '/opt/python/bin/python3', "
        "not '/usr/bin/python3.11': that interpreter must be Python 3.11 or later with boto3, or "
        "the enrich step fails"
    ]


def test_the_python_settings_set_as_ours_need_no_warning() -> None:
    same = {"spark.pyspark.python": "/usr/bin/python3.11"}
    emr = emr_of(edit(sample_data(), {"aws.emr.configuration.spark-defaults": same}))

    def by_classification(configurations: list[dict[str, Any]]) -> dict[str, Any]:
        return {configuration["Classification"]: configuration for configuration in configurations}

    assert python_setting_warnings(emr) == []
    configurations = request_for(emr, keep_alive=False)["Configurations"]
    assert by_classification(configurations) == by_classification(COMMON["Configurations"])


# ----------------------------------------------------------------------------- refusals


def issues(emr: EmrConfig, **settings: Any) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        check_emr_settings(emr, **settings)
    return [str(issue) for issue in raised.value.issues]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"aws.emr.ami_version": "3.11.0"}, "aws.emr.ami_version: EMR release 3.11.0 is too old"),
        (
            {"aws.emr.ami_version": "emr-6.15.0"},
            "aws.emr.ami_version: EMR release 6.15.0 is too old: the enrich application needs "
            "Python 3.11",
        ),
        ({"aws.emr.ami_version": "latest"}, "aws.emr.ami_version: must be an EMR release"),
        ({"aws.emr.software.lingual": "1.1"}, "aws.emr.software.lingual: Cascading Lingual"),
        (
            {"aws.emr.jobflow.core_instance_type": "r5 xlarge"},
            "aws.emr.jobflow.core_instance_type: 'r5 xlarge' is not an EC2 instance type",
        ),
    ],
)
def test_settings_emr_would_refuse_are_refused_up_front(
    changes: dict[str, Any], expected: str
) -> None:
    found = issues(emr_of(edit(sample_data(), changes)))
    assert len(found) == 1 and found[0].startswith(expected)


def test_release_labels_are_accepted_as_written() -> None:
    emr = emr_of(edit(sample_data(), {"aws.emr.ami_version": "emr-7.1.0"}))
    check_emr_settings(emr)
    assert request_for(emr, keep_alive=False)["ReleaseLabel"] == "emr-7.1.0"


def test_fleet_rules_are_all_reported_with_their_keys() -> None:
    emr = emr_of(sample_data())  # has ec2_subnet_id
    core = {"instance_types": [{"instance_type": "r5.xlarge"}]}
    found = issues(
        emr,
        instance_fleets=[
            InstanceFleet(role="CORE", target_spot_capacity=2, **core),
            InstanceFleet(role="CORE", **core),
            InstanceFleet(
                role="TASK", target_spot_capacity=1, instance_types=[{"instance_type": "big"}]
            ),
        ],
        ec2_subnet_ids=["subnet-a"],
    )
    assert found == [
        "instance_fleets: needs exactly one MASTER fleet",
        "instance_fleets: needs at most one CORE fleet",
        "instance_fleets[1]: needs target on-demand or spot capacity",
        "instance_fleets[2].instance_types[0].instance_type: 'big' is not an EC2 instance type",
        "ec2_subnet_ids: replaces aws.emr.ec2_subnet_id and aws.emr.placement; leave those blank",
    ]


def test_several_subnets_need_fleets() -> None:
    emr = emr_of(edit(sample_data(), {"aws.emr.ec2_subnet_id": None}))
    assert issues(emr, ec2_subnet_ids=["subnet-a"]) == [
        "ec2_subnet_ids: EMR takes several subnets with instance_fleets only"
    ]


# ------------------------------------------------------------------ as EMR (moto) keeps it


def read_back(emr: Any, cluster_id: str) -> dict[str, Any]:
    """The request as far as the emulated service keeps it, from its describe and list calls."""
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    attributes = cluster["Ec2InstanceAttributes"]
    roles = ["MASTER", "CORE", "TASK"]
    groups = sorted(
        emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"],
        key=lambda group: roles.index(group["InstanceGroupType"]),
    )
    back: dict[str, Any] = {
        "Name": cluster["Name"],
        "LogUri": cluster["LogUri"],
        "ReleaseLabel": cluster["ReleaseLabel"],
        "Instances": {
            "KeepJobFlowAliveWhenNoSteps": not cluster["AutoTerminate"],
            "TerminationProtected": cluster["TerminationProtected"],
            "InstanceGroups": [_group_back(group) for group in groups],
            "Ec2KeyName": attributes["Ec2KeyName"],
            "Ec2SubnetId": attributes["Ec2SubnetId"],
        },
        "Steps": steps_back(cluster_id),
        "BootstrapActions": [
            {
                "Name": action["Name"],
                "ScriptBootstrapAction": {"Path": action["ScriptPath"], "Args": action["Args"]},
            }
            for action in emr.list_bootstrap_actions(ClusterId=cluster_id)["BootstrapActions"]
        ],
        "Applications": [{"Name": app["Name"]} for app in cluster["Applications"]],
        "Configurations": cluster["Configurations"],
        "VisibleToAllUsers": cluster["VisibleToAllUsers"],
        "JobFlowRole": attributes["IamInstanceProfile"],
        "ServiceRole": cluster["ServiceRole"],
        "Tags": [tag for tag in cluster["Tags"] if tag["Key"] != LAUNCH_TAG],
        "SecurityConfiguration": cluster["SecurityConfiguration"],
    }
    return back


def _group_back(group: dict[str, Any]) -> dict[str, Any]:
    back = {
        "Name": group["Name"],
        "InstanceRole": group["InstanceGroupType"],
        "InstanceType": group["InstanceType"],
        "InstanceCount": group["RequestedInstanceCount"],
        "Market": group["Market"],
    }
    if "BidPrice" in group:
        back["BidPrice"] = group["BidPrice"]
    if group["EbsBlockDevices"]:
        back["EbsConfiguration"] = {
            "EbsBlockDeviceConfigs": [
                {"VolumeSpecification": device["VolumeSpecification"], "VolumesPerInstance": 1}
                for device in group["EbsBlockDevices"]
            ]
        }
    return back


@pytest.mark.parametrize("keep_alive", [False, True], ids=["transient", "persistent"])
def test_the_request_as_the_emulated_service_stores_it(keep_alive: bool, moto_server: str) -> None:
    data = edit(
        sample_data(),
        {
            "aws.emr.security_configuration": "snowplow-at-rest",
            "aws.emr.bootstrap": ["s3://acme-assets/bootstrap/tune.sh"],
            "aws.emr.jobflow.task_instance_count": 1,
            "aws.emr.additional_info": '{"a": 1}',
        },
    )
    request = request_for(emr_of(data), keep_alive=keep_alive)
    api = EmrApi(boto3.session.Session(), region="eu-west-1")

    cluster_id = api.launch(request, log=logging.getLogger("test"))

    expected = {key: value for key, value in request.items() if key != "AdditionalInfo"}
    expected["Instances"] = {**request["Instances"]}
    # moto keeps neither AdditionalInfo nor EbsOptimized; everything else must round-trip.
    for group in expected["Instances"]["InstanceGroups"]:
        group.get("EbsConfiguration", {}).pop("EbsOptimized", None)
    assert read_back(api.emr, cluster_id) == expected
    tags = api.emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Tags"]
    assert [tag["Key"] for tag in tags].count(LAUNCH_TAG) == 1
