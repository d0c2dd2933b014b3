"""The ``RunJobFlow`` request for a batch's cluster, built from EmrEtlRunner's ``aws.emr`` section.

Pure functions: the request is decided entirely before any AWS call, so a bad setting fails fast
(with its key named) instead of after a cluster has been paid for, and tests compare requests
exactly. What EmrEtlRunner fixed rather than made configurable is fixed here too: Hadoop and Spark
applications, ``VisibleToAllUsers``, on-demand master. Beyond EmrEtlRunner (users asked for both,
dfr#46, sp#3634): instance fleets and several subnets, as ``EmrResource`` settings because
``config.yml`` has no keys for them.

Every cluster runs our PySpark application, which needs Python 3.11: EMR 7.0.0 or later (Amazon
Linux 2023 packages ``python3.11``; EMR 6 has Python 3.7 only), the bundle's bootstrap action
(``EmrResource`` puts it before ``aws.emr.bootstrap``) and ``PYTHON_SETTINGS``, merged into
``aws.emr.configuration`` without overriding what the user set there.

Secrets: configuration properties under secret-looking names are ``SecretStr`` in ``EmrConfig``
and are revealed only into the request itself; ``summary`` is what may be logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any, Literal

import dagster as dg
from pydantic import ConfigDict, Field

from snowplow_dagster.config import ConfigError, ConfigIssue, EmrConfig, reveal
from snowplow_dagster.engines.bundle import CLUSTER_PYTHON
from snowplow_dagster.engines.contract import ActionOnFailure, StepConfig

BATCH_TAG = "snowplow/batch-id"
RUN_TAG = "dagster/run-id"
_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
_IOPS_VOLUME_TYPES = ("io1", "gp3")
"""EmrEtlRunner sent ``volume_iops`` for io1 only (its sample sets it for gp2, where EMR refuses
it); gp3 takes IOPS too."""
_MINIMUM_RELEASE = 7
PYTHON_SETTINGS = {
    "spark-env": {"PYSPARK_PYTHON": CLUSTER_PYTHON},
    "spark-defaults": {
        "spark.pyspark.python": CLUSTER_PYTHON,
        "spark.pyspark.driver.python": CLUSTER_PYTHON,
    },
}
"""What makes Spark's driver and executors run the bootstrap action's Python, by classification.
``spark-env`` properties are sent in its ``export`` sub-classification, as EMR expects them."""


# -------------------------------------------------------------------------- fleet settings


class _Settings(dg.Config):
    # Dagster's Config ignores unknown keys in Python; a misspelt fleet key must not vanish.
    model_config = ConfigDict(extra="forbid")


class EbsVolume(_Settings):
    """One EBS volume per instance, as ``aws.emr.jobflow.core_instance_ebs`` describes one."""

    volume_size: int = Field(gt=0, description="Gigabytes.")
    volume_type: Literal["standard", "gp2", "gp3", "io1", "st1", "sc1"] = "gp3"
    volume_iops: int | None = Field(default=None, gt=0, description="io1 and gp3 only.")


class FleetInstanceType(_Settings):
    instance_type: str
    weighted_capacity: int = Field(default=1, ge=1)
    bid_price_as_percentage_of_on_demand: float | None = Field(
        default=None, gt=0, description="Spot bid; EMR's default is 100 (the on-demand price)."
    )
    ebs: EbsVolume | None = None


class InstanceFleet(_Settings):
    """An EMR instance fleet: capacity from several instance types, spot and on-demand mixed."""

    role: Literal["MASTER", "CORE", "TASK"]
    target_on_demand_capacity: int = Field(default=0, ge=0)
    target_spot_capacity: int = Field(default=0, ge=0)
    instance_types: list[FleetInstanceType] = Field(min_length=1)
    spot_timeout_minutes: int = Field(
        default=20, ge=5, le=1440, description="Then fall back to on-demand capacity."
    )
    spot_allocation_strategy: Literal[
        "price-capacity-optimized",
        "capacity-optimized",
        "capacity-optimized-prioritized",
        "lowest-price",
        "diversified",
    ] = "price-capacity-optimized"


# ---------------------------------------------------------------------------------- checks


def check_emr_settings(
    emr: EmrConfig,
    *,
    instance_fleets: Sequence[InstanceFleet] = (),
    ec2_subnet_ids: Sequence[str] = (),
    source: str | None = None,
) -> None:
    """Refuse what EMR would refuse after a launch attempt, or what we cannot honour.

    ``snowplow_dagster.config.models`` already checks the EmrEtlRunner rules (roles, counts,
    placement xor subnet).
    """
    issues = []
    try:
        release_label(emr.ami_version)
    except ValueError as exc:
        issues.append(ConfigIssue("aws.emr.ami_version", str(exc)))
    if emr.software.lingual is not None:
        issues.append(
            ConfigIssue(
                "aws.emr.software.lingual",
                "Cascading Lingual was installed by a bootstrap action for AMI 3.x clusters, "
                "which EMR no longer offers; remove the key (or install it in aws.emr.bootstrap)",
            )
        )
    if not instance_fleets:
        jobflow = emr.jobflow
        for key, value in (
            ("master_instance_type", jobflow.master_instance_type),
            ("core_instance_type", jobflow.core_instance_type),
            ("task_instance_type", jobflow.task_instance_type),
        ):
            if value is not None and not _INSTANCE_TYPE.fullmatch(value):
                issues.append(
                    ConfigIssue(f"aws.emr.jobflow.{key}", f"{value!r} is not an EC2 instance type")
                )
    issues += _fleet_issues(instance_fleets)
    if ec2_subnet_ids:
        if not instance_fleets:
            issues.append(
                ConfigIssue("ec2_subnet_ids", "EMR takes several subnets with instance_fleets only")
            )
        if emr.ec2_subnet_id is not None or emr.placement is not None:
            issues.append(
                ConfigIssue(
                    "ec2_subnet_ids",
                    "replaces aws.emr.ec2_subnet_id and aws.emr.placement; leave those blank",
                )
            )
    if issues:
        raise ConfigError(issues, source)


def _fleet_issues(fleets: Sequence[InstanceFleet]) -> list[ConfigIssue]:
    if not fleets:
        return []
    issues = []
    roles = [fleet.role for fleet in fleets]
    for role, wanted in (
        ("MASTER", "exactly one"),
        ("CORE", "at most one"),
        ("TASK", "at most one"),
    ):
        count = roles.count(role)
        if count > 1 or (role == "MASTER" and count != 1):
            issues.append(ConfigIssue("instance_fleets", f"needs {wanted} {role} fleet"))
    for i, fleet in enumerate(fleets):
        capacity = fleet.target_on_demand_capacity + fleet.target_spot_capacity
        if fleet.role == "MASTER" and capacity != 1:
            issues.append(ConfigIssue(f"instance_fleets[{i}]", "a MASTER fleet has capacity 1"))
        elif capacity == 0:
            issues.append(
                ConfigIssue(f"instance_fleets[{i}]", "needs target on-demand or spot capacity")
            )
        for j, member in enumerate(fleet.instance_types):
            if not _INSTANCE_TYPE.fullmatch(member.instance_type):
                issues.append(
                    ConfigIssue(
                        f"instance_fleets[{i}].instance_types[{j}].instance_type",
                        f"{member.instance_type!r} is not an EC2 instance type",
                    )
                )
    return issues


# --------------------------------------------------------------------------------- request


def release_label(ami_version: str) -> str:
    """``7.5.0`` (EmrEtlRunner's ``ami_version``) → ``emr-7.5.0``; ``emr-7.5.0`` is kept.

    Releases before 7.0.0 are refused (the module docstring says why): EmrEtlRunner's samples
    name 5.x, so users who bring their config get told what to change.
    """
    version = ami_version.removeprefix("emr-")
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ValueError(f"must be an EMR release such as 7.5.0, got {ami_version!r}")
    if int(version.split(".")[0]) < _MINIMUM_RELEASE:
        raise ValueError(
            f"EMR release {version} is too old: the enrich application needs Python 3.11, which "
            f"EMR installs from Amazon Linux 2023 on {_MINIMUM_RELEASE}.0.0 and later only "
            "(EMR 6.x and earlier have Python 3.7 at most); use e.g. 7.5.0"
        )
    return f"emr-{version}"


def python_setting_warnings(emr: EmrConfig) -> list[str]:
    """One line per ``PYTHON_SETTINGS`` value the user set otherwise, which the request keeps."""
    return [
        f"aws.emr.configuration.{classification}.{name} is {found!r}, not {wanted!r}: that "
        "interpreter must be Python 3.11 or later with boto3, or the enrich step fails"
        for classification, settings in PYTHON_SETTINGS.items()
        for name, wanted in settings.items()
        if (found := reveal(emr.configuration.get(classification, {})).get(name, wanted)) != wanted
    ]


def cluster_tags(
    monitoring_tags: Mapping[str, str], *, batch_id: str | None, run_id: str | None
) -> dict[str, str]:
    """``monitoring.tags`` (as EmrEtlRunner tags clusters) plus the batch and Dagster run."""
    tags = dict(monitoring_tags)
    if batch_id is not None:
        tags[BATCH_TAG] = batch_id
    if run_id is not None:
        tags[RUN_TAG] = run_id
    return tags


def with_action_on_failure(
    steps: Sequence[StepConfig], action: ActionOnFailure
) -> list[StepConfig]:
    """The steps with the cluster mode's way of stopping, as EmrEtlRunner forced one per mode.

    A transient cluster terminates on a failure (``TERMINATE_CLUSTER``); a shared persistent one
    must survive it (``CANCEL_AND_WAIT``). A ``CONTINUE`` step stays one: it asked not to stop.
    """
    return [
        step if step["ActionOnFailure"] == "CONTINUE" else {**step, "ActionOnFailure": action}
        for step in steps
    ]


def build_run_job_flow_request(
    emr: EmrConfig,
    *,
    name: str,
    log_uri: str,
    tags: Mapping[str, str],
    steps: Sequence[StepConfig],
    keep_alive: bool,
    instance_fleets: Sequence[InstanceFleet] = (),
    ec2_subnet_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """The keyword arguments of ``boto3.client("emr").run_job_flow`` for this cluster.

    Call ``check_emr_settings`` first; this assumes settings it would accept.
    """
    request: dict[str, Any] = {
        "Name": name,
        "LogUri": log_uri,
        "ReleaseLabel": release_label(emr.ami_version),
        "Instances": _instances(emr, keep_alive, instance_fleets, ec2_subnet_ids),
        "Steps": list(steps),
        "BootstrapActions": [_bootstrap_action(path) for path in emr.bootstrap],
        "Applications": [{"Name": app} for app in _applications(emr)],
        "Configurations": _configurations(emr),
        "VisibleToAllUsers": True,
        "JobFlowRole": emr.jobflow_role,
        "ServiceRole": emr.service_role,
        "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
    }
    if emr.security_configuration is not None:
        request["SecurityConfiguration"] = emr.security_configuration
    if emr.additional_info is not None:
        request["AdditionalInfo"] = emr.additional_info
    return {key: value for key, value in request.items() if value != []}


def summary(request: Mapping[str, Any]) -> str:
    """What a launch log line says about a request: never its configurations (maybe secrets)."""
    instances = request["Instances"]
    parts = [request["ReleaseLabel"]]
    for group in instances.get("InstanceGroups", ()):
        market = f" spot bid {group['BidPrice']} USD" if group["Market"] == "SPOT" else ""
        parts.append(
            f"{group['InstanceRole'].lower()} {group['InstanceCount']}x {group['InstanceType']}"
            f"{market}"
        )
    for fleet in instances.get("InstanceFleets", ()):
        types = "/".join(c["InstanceType"] for c in fleet["InstanceTypeConfigs"])
        parts.append(
            f"{fleet['InstanceFleetType'].lower()} fleet {types} "
            f"(on-demand {fleet['TargetOnDemandCapacity']}, spot {fleet['TargetSpotCapacity']})"
        )
    where = instances.get("Ec2SubnetId") or ",".join(instances.get("Ec2SubnetIds", ()))
    if where:
        parts.append(f"subnet {where}")
    parts.append(f"{len(request.get('Steps', ()))} steps")
    return ", ".join(parts)


def _configurations(emr: EmrConfig) -> list[dict[str, Any]]:
    """``aws.emr.configuration`` in order, with the ``PYTHON_SETTINGS`` it lacks added."""
    configurations: list[dict[str, Any]] = []
    for classification in dict.fromkeys([*emr.configuration, *PYTHON_SETTINGS]):
        properties = reveal(emr.configuration.get(classification, {}))
        ours = {
            name: value
            for name, value in PYTHON_SETTINGS.get(classification, {}).items()
            if name not in properties
        }
        configuration: dict[str, Any] = {"Classification": classification, "Properties": properties}
        if classification == "spark-env" and ours:
            configuration["Configurations"] = [{"Classification": "export", "Properties": ours}]
        else:
            properties.update(ours)
        configurations.append(configuration)
    return configurations


def _applications(emr: EmrConfig) -> list[str]:
    return ["Hadoop", "Spark"] + (["HBase"] if emr.software.hbase is not None else [])


def _bootstrap_action(path: str) -> dict[str, Any]:
    return {
        "Name": f"Bootstrap action {PurePosixPath(path).name}",
        "ScriptBootstrapAction": {"Path": path, "Args": []},
    }


def _instances(
    emr: EmrConfig,
    keep_alive: bool,
    fleets: Sequence[InstanceFleet],
    subnet_ids: Sequence[str],
) -> dict[str, Any]:
    instances: dict[str, Any] = {
        "KeepJobFlowAliveWhenNoSteps": keep_alive,
        "TerminationProtected": False,
    }
    if fleets:
        instances["InstanceFleets"] = [_fleet(fleet) for fleet in fleets]
    else:
        instances["InstanceGroups"] = _instance_groups(emr)
    if emr.ec2_key_name is not None:
        instances["Ec2KeyName"] = emr.ec2_key_name
    if subnet_ids:
        instances["Ec2SubnetIds"] = list(subnet_ids)
    elif emr.ec2_subnet_id is not None:
        instances["Ec2SubnetId"] = emr.ec2_subnet_id
    elif emr.placement is not None:
        key = "AvailabilityZones" if fleets else "AvailabilityZone"
        instances["Placement"] = {key: [emr.placement] if fleets else emr.placement}
    return instances


def _instance_groups(emr: EmrConfig) -> list[dict[str, Any]]:
    jobflow = emr.jobflow
    groups = [_group("Master", "MASTER", jobflow.master_instance_type, 1, None)]
    if jobflow.core_instance_count > 0:
        core = _group(
            "Core",
            "CORE",
            jobflow.core_instance_type,
            jobflow.core_instance_count,
            jobflow.core_instance_bid,
        )
        ebs = jobflow.core_instance_ebs
        if ebs is not None:
            core["EbsConfiguration"] = {
                "EbsBlockDeviceConfigs": [
                    _ebs_device(ebs.volume_size, ebs.volume_type, ebs.volume_iops)
                ],
                "EbsOptimized": ebs.ebs_optimized,
            }
        groups.append(core)
    if jobflow.task_instance_count > 0 and jobflow.task_instance_type is not None:
        groups.append(
            _group(
                "Task",
                "TASK",
                jobflow.task_instance_type,
                jobflow.task_instance_count,
                jobflow.task_instance_bid,
            )
        )
    return groups


def _group(
    name: str, role: str, instance_type: str, count: int, bid: float | None
) -> dict[str, Any]:
    group: dict[str, Any] = {
        "Name": name,
        "InstanceRole": role,
        "InstanceType": instance_type,
        "InstanceCount": count,
        "Market": "ON_DEMAND" if bid is None else "SPOT",
    }
    if bid is not None:
        group["BidPrice"] = _usd(bid)
    return group


def _usd(amount: float) -> str:
    """A bid as EMR takes it, written as the user did: 0.1 → ``0.1``, never ``1e-07``."""
    return format(Decimal(repr(amount)), "f")


def _ebs_device(size: int, volume_type: str, iops: int | None) -> dict[str, Any]:
    volume: dict[str, Any] = {"VolumeType": volume_type, "SizeInGB": size}
    if iops is not None and volume_type in _IOPS_VOLUME_TYPES:
        volume["Iops"] = iops
    return {"VolumeSpecification": volume, "VolumesPerInstance": 1}


def _fleet(fleet: InstanceFleet) -> dict[str, Any]:
    configs = []
    for member in fleet.instance_types:
        config: dict[str, Any] = {
            "InstanceType": member.instance_type,
            "WeightedCapacity": member.weighted_capacity,
        }
        if member.bid_price_as_percentage_of_on_demand is not None:
            config["BidPriceAsPercentageOfOnDemandPrice"] = (
                member.bid_price_as_percentage_of_on_demand
            )
        if member.ebs is not None:
            ebs = member.ebs
            config["EbsConfiguration"] = {
                "EbsBlockDeviceConfigs": [
                    _ebs_device(ebs.volume_size, ebs.volume_type, ebs.volume_iops)
                ]
            }
        configs.append(config)
    request: dict[str, Any] = {
        "Name": f"{fleet.role.title()} fleet",
        "InstanceFleetType": fleet.role,
        "TargetOnDemandCapacity": fleet.target_on_demand_capacity,
        "TargetSpotCapacity": fleet.target_spot_capacity,
        "InstanceTypeConfigs": configs,
    }
    if fleet.target_spot_capacity > 0:
        request["LaunchSpecifications"] = {
            "SpotSpecification": {
                "TimeoutDurationMinutes": fleet.spot_timeout_minutes,
                "TimeoutAction": "SWITCH_TO_ON_DEMAND",
                "AllocationStrategy": fleet.spot_allocation_strategy,
            }
        }
    return request
