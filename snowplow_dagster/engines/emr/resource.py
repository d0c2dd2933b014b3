"""``EmrResource``: Amazon EMR as the pipeline's execution engine, configured for Dagster.

The settings a user has are the pipeline's loaded ``config.yml`` (given by ``SnowplowPipeline``
through ``for_config``) plus what EmrEtlRunner had no keys for: cluster mode, polling and timeout
(here, else ``snowplow_dagster.emr`` of the config), instance fleets and several subnets (here
only). ``run_steps`` checks all of it before the first AWS call, then hands over to ``EmrRunner``
(``runner.py``), which owns the clusters.
The request is built in ``request.py``, the wait decided in ``wait.py``, results and
failure summaries written in ``report.py``; ``api.py`` is the only code that calls AWS.

Clusters launched here first run the bundle's bootstrap action (``bundle.bootstrap_uri``, under
the application location, ``config.models.application_location``), which
``SnowplowPipeline.application_uris`` uploads with the application before any step is built.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import boto3
import dagster as dg
from pydantic import Field, PrivateAttr, SecretStr

from snowplow_dagster.config import (
    AwsCredentials,
    ConfigError,
    ConfigIssue,
    EmrConfig,
    PipelineConfig,
)
from snowplow_dagster.engines.bundle import bootstrap_uri
from snowplow_dagster.engines.contract import StepConfig, StepResult
from snowplow_dagster.engines.emr.api import EmrApi
from snowplow_dagster.engines.emr.request import (
    InstanceFleet,
    check_emr_settings,
    cluster_tags,
    python_setting_warnings,
)
from snowplow_dagster.engines.emr.runner import EmrRunner, EmrSettings
from snowplow_dagster.engines.emr.wait import PollSettings
from snowplow_dagster.storage import Location

_T = TypeVar("_T")


class EmrResource(dg.ConfigurableResource):
    """Runs a batch's steps on Amazon EMR, configured by an EmrEtlRunner ``config.yml``.

    An ``ExecutionEngine`` once bound to the pipeline's config (``for_config``): assets call
    ``run_steps`` exactly as on the local engine. Clusters are tagged with ``monitoring.tags``, the
    batch (the run's partition) and the Dagster run id. Credentials: the config's static keys if it
    has them, else the default AWS chain.

    The settings left None take ``snowplow_dagster.emr`` of the config, else their default, so a
    cron user sets them in ``config.yml`` and a Dagster user in either place.
    """

    use_persistent_jobflow: bool | None = Field(
        default=None,
        description="Run on the WAITING cluster named aws.emr.jobflow.job_name. "
        "Default: snowplow_dagster.emr.use_persistent_jobflow, else false.",
    )
    create_persistent_jobflow: bool | None = Field(
        default=None,
        description="With use_persistent_jobflow and no such cluster: launch one and keep it. "
        "Default: snowplow_dagster.emr.create_persistent_jobflow, else true.",
    )
    region_name: str | None = Field(default=None, description="Defaults to aws.emr.region.")
    poll_interval_seconds: float | None = Field(
        default=None,
        gt=0,
        description="EmrEtlRunner polled every 60s, Dataflow Runner 15s. "
        "Default: snowplow_dagster.emr.poll_interval_seconds, else 30.",
    )
    max_poll_interval_seconds: float = Field(default=300.0, gt=0)
    poll_backoff: float = Field(
        default=1.5, ge=1, description="The interval grows so while nothing changes."
    )
    timeout_seconds: float | None = Field(
        default=None,
        ge=0,
        description="For all steps, bootstrap retries included. "
        "Default: snowplow_dagster.emr.timeout_seconds, else 43200 (12 hours).",
    )
    bootstrap_retry_delay_seconds: float = Field(default=120.0, ge=0)
    step_log_wait_seconds: float = Field(
        default=330.0, ge=0, description="EMR ships step logs to S3 about every 5 minutes."
    )
    instance_fleets: list[InstanceFleet] = Field(
        default_factory=list,
        description="Instead of aws.emr.jobflow's instance groups (which are then not used).",
    )
    ec2_subnet_ids: list[str] = Field(
        default_factory=list,
        description="Several subnets for EMR to choose from (instance fleets only); replaces "
        "aws.emr.ec2_subnet_id.",
    )

    _batch_id: str | None = PrivateAttr(default=None)
    _run_id: str | None = PrivateAttr(default=None)
    _config: PipelineConfig | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.run
        if run is not None:
            self._run_id = run.run_id
            self._batch_id = run.tags.get("dagster/partition")

    def for_config(self, config: PipelineConfig) -> EmrResource:
        """This resource bound to the pipeline's loaded config, which it never reads again."""
        bound = copy.copy(self)  # keeps the run and batch ``setup_for_execution`` found
        bound._config = config
        return bound

    def run_steps(
        self,
        steps: Sequence[StepConfig],
        *,
        log: logging.Logger,
        cancel_event: threading.Event | None = None,
    ) -> list[StepResult]:
        runner = self.runner()
        for warning in python_setting_warnings(runner.settings.emr):
            log.warning(warning)
        return runner.run_steps(steps, log=log, cancel_event=cancel_event)

    def runner(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> EmrRunner:
        """Check the settings (``ConfigError`` before any AWS call), then connect."""
        pipeline = self._config
        if pipeline is None:
            raise RuntimeError(
                "EmrResource has no pipeline config: get it from SnowplowPipeline.execution_engine "
                "or bind one with for_config"
            )
        settings = self.settings_for(pipeline)
        api = EmrApi(
            _session(pipeline.credentials),
            region=settings.region,
            s3_region=pipeline.file.aws.s3.region,
        )
        return EmrRunner(settings, api, clock=clock, sleep=sleep)

    def settings_for(self, pipeline: PipelineConfig) -> EmrSettings:
        emr = pipeline.file.aws.emr
        log_uri = pipeline.locations.log
        issues = []
        if emr is None:
            issues.append(ConfigIssue("aws.emr", "is required to run on EMR"))
        if log_uri is None or not log_uri.startswith("s3://"):
            issues.append(
                ConfigIssue(
                    "aws.s3.buckets.log",
                    "must be an s3:// location to run on EMR (cluster logs, failed step output)",
                )
            )
        application = pipeline.locations.application
        if application is None:
            issues.append(
                ConfigIssue(
                    "snowplow_dagster.assets",
                    "is required to run on EMR: an s3:// location you can write, where the "
                    "enrichment application is uploaded",
                )
            )
        if issues or emr is None or log_uri is None or application is None:
            raise ConfigError(issues, pipeline.source)
        check_emr_settings(
            emr,
            instance_fleets=self.instance_fleets,
            ec2_subnet_ids=self.ec2_subnet_ids,
            source=pipeline.source,
        )
        bootstrap = bootstrap_uri(Location.parse(application[1]))
        defaults = pipeline.file.snowplow_dagster.emr
        return EmrSettings(
            emr=emr.model_copy(update={"bootstrap": [bootstrap, *emr.bootstrap]}),
            log_uri=log_uri,
            region=self.region_name or emr.region,
            tags=cluster_tags(
                pipeline.file.monitoring.tags, batch_id=self._batch_id, run_id=self._run_id
            ),
            persistent=_either(self.use_persistent_jobflow, defaults.use_persistent_jobflow),
            create_persistent=_either(
                self.create_persistent_jobflow, defaults.create_persistent_jobflow
            ),
            poll=PollSettings(
                interval_seconds=_either(
                    self.poll_interval_seconds, defaults.poll_interval_seconds
                ),
                max_interval_seconds=self.max_poll_interval_seconds,
                backoff=self.poll_backoff,
            ),
            timeout_seconds=_either(self.timeout_seconds, defaults.timeout_seconds),
            bootstrap_retry_delay_seconds=self.bootstrap_retry_delay_seconds,
            step_log_wait_seconds=self.step_log_wait_seconds,
            instance_fleets=tuple(self.instance_fleets),
            ec2_subnet_ids=tuple(self.ec2_subnet_ids),
            secrets=_secrets(pipeline.credentials, emr),
        )


def _either(setting: _T | None, default: _T) -> _T:
    return default if setting is None else setting


def _session(credentials: AwsCredentials) -> boto3.session.Session:
    if (
        credentials.source == "static"
        and credentials.access_key_id
        and credentials.secret_access_key
    ):
        return boto3.session.Session(
            aws_access_key_id=credentials.access_key_id.get_secret_value(),
            aws_secret_access_key=credentials.secret_access_key.get_secret_value(),
        )
    return boto3.session.Session()


def config_secrets(config: PipelineConfig) -> tuple[str, ...]:
    """Every secret value a config holds, for masking texts shown outside Dagster (the CLI)."""
    return _secrets(config.credentials, config.file.aws.emr)


def _secrets(credentials: AwsCredentials, emr: EmrConfig | None) -> tuple[str, ...]:
    values = [
        value.get_secret_value()
        for value in (credentials.access_key_id, credentials.secret_access_key)
        if value is not None
    ]
    values += [
        value.get_secret_value()
        for properties in (emr.configuration.values() if emr is not None else ())
        for value in properties.values()
        if isinstance(value, SecretStr)
    ]
    return tuple(values)
