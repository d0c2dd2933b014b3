"""Running a step list on EMR: EmrEtlRunner's two cluster modes, and cleaning up after both.

- Transient: one cluster per call, launched with the steps in ``RunJobFlow`` (Dataflow Runner's
  ``run-transient``: fewer API calls), every step ``TERMINATE_CLUSTER``, and the cluster
  terminated in ``finally`` whatever happens, a stopped run included.
- Persistent: the steps go to the one live cluster named ``aws.emr.jobflow.job_name``, which must
  be ``WAITING``; every step ``CANCEL_AND_WAIT``, so a failure leaves the cluster up for the next
  batch. With no such cluster one is launched and left running, as EmrEtlRunner did (unless
  ``create_persistent`` is off); a busy cluster or several namesakes are errors, since guessing
  would run two batches' steps interleaved.

A cluster that fails to bootstrap is replaced, up to ``aws.emr.bootstrap_failure_tries`` clusters
in all (safe: no step ran, so no data moved); an overall timeout bounds everything, retries
included (EmrEtlRunner had none, sp#1615); and a failed step's error carries EMR's
``FailureDetails`` and the tail of the step's stderr from the log bucket (sp#1822, dfr#40).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError

from snowplow_dagster.config import EmrConfig
from snowplow_dagster.engines.contract import (
    StepConfig,
    StepError,
    StepFailed,
    StepResult,
    StepsCancelled,
)
from snowplow_dagster.engines.emr.api import EmrApi, is_transient
from snowplow_dagster.engines.emr.report import Failure, Masker, RunState
from snowplow_dagster.engines.emr.request import (
    InstanceFleet,
    build_run_job_flow_request,
    summary,
    with_action_on_failure,
)
from snowplow_dagster.engines.emr.wait import (
    CLUSTER_ENDED,
    Observation,
    Outcome,
    PollSettings,
    WaitResult,
    wait_for_steps,
)

STDERR_TAIL_LINES = 50
_LOG_RETRY_SECONDS = 30.0


class EmrError(StepError):
    """The steps did not complete for a reason other than a step's own failure."""

    def __init__(
        self, message: str, results: Sequence[StepResult], *, cluster_id: str | None = None
    ) -> None:
        super().__init__(message, results)
        self.cluster_id = cluster_id


class EmrTimeout(EmrError):
    """The steps did not finish within the overall timeout; their cluster was stopped."""


class EmrBootstrapFailed(EmrError):
    """Every cluster launched failed to bootstrap (``aws.emr.bootstrap_failure_tries``)."""


class EmrClusterEnded(EmrError):
    """The cluster terminated before the steps finished (instance or capacity failure, or
    terminated from outside)."""


class PersistentClusterError(EmrError):
    """``use_persistent_jobflow`` found no usable cluster; nothing was submitted."""


class ClusterNotFound(PersistentClusterError):
    pass


class ClusterBusy(PersistentClusterError):
    """Not WAITING: another batch is most likely running on it (EmrEtlRunner's exit 18)."""


class ClusterAmbiguous(PersistentClusterError):
    pass


@dataclass(frozen=True)
class EmrSettings:
    """Everything an ``EmrRunner`` needs, validated before any AWS call (``EmrResource``
    documents each setting)."""

    emr: EmrConfig
    log_uri: str
    region: str
    poll: PollSettings
    timeout_seconds: float
    bootstrap_retry_delay_seconds: float
    step_log_wait_seconds: float
    tags: Mapping[str, str] = field(default_factory=dict)
    persistent: bool = False
    create_persistent: bool = True
    instance_fleets: tuple[InstanceFleet, ...] = ()
    ec2_subnet_ids: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    """Values masked in every log line and error."""


class EmrRunner:
    """Runs step lists on EMR (an ``ExecutionEngine``); the clock and the sleep are injectable.

    Without an injected sleep the wait sleeps on the cancel event, so a stop is acted on at once.
    """

    def __init__(
        self,
        settings: EmrSettings,
        api: EmrApi,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.settings = settings
        self.api = api
        self._clock = clock
        self._sleep = sleep

    def run_steps(
        self,
        steps: Sequence[StepConfig],
        *,
        log: logging.Logger,
        cancel_event: threading.Event | None = None,
    ) -> list[StepResult]:
        if not steps:
            return []
        sleep = self._sleep or (cancel_event.wait if cancel_event is not None else time.sleep)
        cancelled = cancel_event.is_set if cancel_event is not None else lambda: False
        return _Run(self, list(steps), log, sleep, cancelled).execute()


class _MaskingLog(logging.LoggerAdapter[logging.Logger]):
    """The run's log with known secret values masked."""

    def __init__(self, log: logging.Logger, mask: Masker) -> None:
        super().__init__(log)
        self.mask = mask

    def process(self, msg: object, kwargs: MutableMapping[str, Any]) -> tuple[str, Any]:
        return self.mask(str(msg)), kwargs


class _Run:
    """One ``run_steps`` call: its cluster and the last state seen, for cleanup and errors."""

    def __init__(
        self,
        runner: EmrRunner,
        steps: list[StepConfig],
        log: logging.Logger,
        sleep: Callable[[float], object],
        cancelled: Callable[[], bool],
    ) -> None:
        self.settings = runner.settings
        self.api = runner.api
        self.clock = runner._clock
        self.sleep = sleep
        self.cancelled = cancelled
        self.deadline = self.clock() + self.settings.timeout_seconds
        mask = Masker(self.settings.secrets)
        self.log = _MaskingLog(log, mask)
        self.state = RunState(steps, self.settings.region, self.settings.log_uri, mask)

    def execute(self) -> list[StepResult]:
        try:
            if self.settings.persistent:
                return self._on_persistent_cluster()
            return self._on_new_cluster(keep_alive=False)
        except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError) as interrupt:
            # The cleanup ran on the way up (``_watch``); say what had happened by then.
            why = "the run was interrupted"
            raise StepsCancelled(
                self.state.summary(f"EMR steps stopped: {why}"), self.state.results(why)
            ) from interrupt

    def _update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    # ------------------------------------------------------------------------ cluster modes

    def _on_persistent_cluster(self) -> list[StepResult]:
        name = self.settings.emr.jobflow.job_name
        clusters = self.api.live_clusters(name)
        if len(clusters) > 1:
            found = ", ".join(f"{c.cluster_id} ({c.state})" for c in clusters)
            raise self._refusal(
                ClusterAmbiguous,
                f"{len(clusters)} live EMR clusters are named {name!r}: {found}. "
                "use_persistent_jobflow needs exactly one; terminate or rename the others.",
            )
        if not clusters:
            if not self.settings.create_persistent:
                raise self._refusal(
                    ClusterNotFound,
                    f"No live EMR cluster is named {name!r} (aws.emr.jobflow.job_name); start "
                    "one, or allow create_persistent_jobflow.",
                )
            self.log.info(f"No live EMR cluster named {name!r}: launching one that stays up")
            return self._on_new_cluster(keep_alive=True)
        (cluster,) = clusters
        if cluster.state != "WAITING":
            raise self._refusal(
                ClusterBusy,
                f"EMR cluster {cluster.cluster_id} ({name!r}) is {cluster.state}, not WAITING: "
                "another batch is probably running on it. Try again once it is idle.",
            )
        self._update(cluster_id=cluster.cluster_id)
        steps = with_action_on_failure(self.state.steps, "CANCEL_AND_WAIT")
        step_ids = self.api.add_steps(cluster.cluster_id, steps)
        self.log.info(
            f"Added {len(step_ids)} steps to EMR cluster {cluster.cluster_id} ({name!r}): "
            f"{self.state.console()}"
        )
        return self._conclude(self._watch(cluster.cluster_id, step_ids, transient=False), 1)

    def _on_new_cluster(self, *, keep_alive: bool) -> list[StepResult]:
        settings = self.settings
        request = build_run_job_flow_request(
            settings.emr,
            name=settings.emr.jobflow.job_name,
            log_uri=settings.log_uri,
            tags=settings.tags,
            steps=with_action_on_failure(
                self.state.steps, "CANCEL_AND_WAIT" if keep_alive else "TERMINATE_CLUSTER"
            ),
            keep_alive=keep_alive,
            instance_fleets=settings.instance_fleets,
            ec2_subnet_ids=settings.ec2_subnet_ids,
        )
        tries = settings.emr.bootstrap_failure_tries
        for attempt in range(1, tries + 1):
            cluster_id = self.api.launch(request, log=self.log)
            self._update(cluster_id=cluster_id, step_ids=(), last=None)
            self.log.info(
                f"Launched EMR cluster {cluster_id} ({summary(request)}): {self.state.console()}"
            )
            result = self._watch(cluster_id, None, transient=not keep_alive)
            if result.outcome is not Outcome.BOOTSTRAP_FAILED or attempt == tries:
                return self._conclude(result, attempt)
            delay = settings.bootstrap_retry_delay_seconds
            reason = result.last.cluster.reason if result.last is not None else None
            self.log.warning(
                f"EMR cluster {cluster_id} failed to bootstrap ({reason or 'no reason given'}); "
                f"launching another in {delay:g}s ({tries - attempt} tries left)"
            )
            self.sleep(delay)
            if self.cancelled():
                return self._conclude(WaitResult(Outcome.CANCELLED, None), attempt)
            if self.clock() >= self.deadline:
                return self._conclude(WaitResult(Outcome.TIMED_OUT, None), attempt)
        raise AssertionError("unreachable: the last try always concludes")

    def _refusal(self, error: type[PersistentClusterError], message: str) -> EmrError:
        return error(self.state.mask(message), self.state.results("nothing was submitted"))

    # ---------------------------------------------------------------------------- waiting

    def _watch(self, cluster_id: str, step_ids: list[str] | None, *, transient: bool) -> WaitResult:
        """Wait for the steps; whatever happens, leave nothing of ours running.

        A transient cluster is terminated in ``finally``. On a persistent one our unfinished steps
        are cancelled when this run gives up on them (timeout, stop, interrupt); after a step
        failure ``CANCEL_AND_WAIT`` has already cancelled the rest.
        """
        try:
            ids = step_ids if step_ids is not None else self.api.step_ids(cluster_id)
            self._update(step_ids=tuple(ids))
            result = wait_for_steps(
                lambda: self._observe(cluster_id),
                settings=self.settings.poll,
                deadline=self.deadline,
                log=self.log,
                clock=self.clock,
                sleep=self.sleep,
                cancelled=self.cancelled,
                retryable=is_transient,
            )
        except BaseException:
            if not transient:
                self._cancel_steps(cluster_id)
            raise
        finally:
            if transient:
                self._terminate(cluster_id)
        if not transient and result.outcome in (Outcome.CANCELLED, Outcome.TIMED_OUT):
            self._cancel_steps(cluster_id)
        return result

    def _observe(self, cluster_id: str) -> Observation:
        observation = self.api.observe(cluster_id, self.state.step_ids)
        self._update(last=observation)
        return observation

    def _terminate(self, cluster_id: str) -> None:
        last = self.state.last
        if last is not None and last.cluster.state in CLUSTER_ENDED:
            return
        try:
            self.api.terminate(cluster_id)
        except Exception as error:
            self.log.error(
                f"Could not terminate EMR cluster {cluster_id}; it is billed until it is "
                f"terminated, do it in the console: {self.state.console()} ({error})"
            )
        else:
            self.log.info(f"Terminating EMR cluster {cluster_id}")

    def _cancel_steps(self, cluster_id: str) -> None:
        unfinished = [
            step_id
            for step_id, status in zip(self.state.step_ids, self.state.statuses(), strict=False)
            if status is None or status.state in ("PENDING", "RUNNING")
        ]
        if not unfinished:
            return
        try:
            self.api.cancel_steps(cluster_id, unfinished)
        except Exception as error:
            self.log.error(
                f"Could not cancel EMR steps {', '.join(unfinished)} on cluster {cluster_id}; "
                f"cancel them in the console: {self.state.console()} ({error})"
            )
        else:
            self.log.info(f"Cancelled EMR steps {', '.join(unfinished)} on cluster {cluster_id}")

    # ------------------------------------------------------------------------- conclusions

    def _conclude(self, result: WaitResult, attempts: int) -> list[StepResult]:
        outcome = result.outcome
        if outcome is Outcome.SUCCEEDED:
            self.log.info(
                f"All {len(self.state.steps)} EMR steps completed on cluster "
                f"{self.state.cluster_id}"
            )
            return self.state.results("")
        if outcome is Outcome.STEP_FAILED:
            raise self._step_failed()
        cluster = result.last.cluster if result.last is not None else None
        reason = f" ({cluster.reason})" if cluster is not None and cluster.reason else ""
        if outcome in (Outcome.CANCELLED, Outcome.STEPS_CANCELLED):
            why = (
                "the run was stopped"
                if outcome is Outcome.CANCELLED
                else "cancelled outside this run (EMR console or API)"
            )
            raise StepsCancelled(
                self.state.summary(f"EMR steps did not complete: {why}"), self.state.results(why)
            )
        why, error = {
            Outcome.TIMED_OUT: (
                f"not finished within the {self.settings.timeout_seconds:g}s timeout",
                EmrTimeout,
            ),
            Outcome.BOOTSTRAP_FAILED: (
                f"the cluster failed to bootstrap{reason}, {attempts} time(s) of "
                f"{self.settings.emr.bootstrap_failure_tries} (aws.emr.bootstrap_failure_tries)",
                EmrBootstrapFailed,
            ),
            Outcome.CLUSTER_ENDED: (
                f"the cluster ended before the steps finished{reason}",
                EmrClusterEnded,
            ),
        }[outcome]
        raise error(
            self.state.summary(f"EMR steps did not complete: {why}"),
            self.state.results(why),
            cluster_id=self.state.cluster_id,
        )

    def _step_failed(self) -> StepFailed:
        failed = next(s for s in self.state.statuses() if s is not None and s.state == "FAILED")
        stderr_uri = f"{self.state.step_logs(failed.step_id)}stderr.gz"
        details = str(failed.failure) if failed.failure is not None else "EMR gave no details"
        failure = Failure(failed.step_id, details, self._tail(stderr_uri))
        return StepFailed(
            self.state.failure_text(failed, failure, stderr_uri),
            self.state.results("not run: an earlier step failed", failure=failure),
        )

    def _tail(self, uri: str) -> str | None:
        """The last lines of a step log, waiting a while for EMR to ship it to S3."""
        give_up = self.clock() + self.settings.step_log_wait_seconds
        while True:
            try:
                data = self.api.read_log(uri)
            except (ClientError, BotoCoreError) as error:
                return f"(could not read it: {error})"
            if data is not None:
                lines = data.decode("utf-8", errors="replace").splitlines()
                return "\n".join(lines[-STDERR_TAIL_LINES:])
            remaining = give_up - self.clock()
            if remaining <= 0 or self.cancelled():
                return None
            self.log.info(f"Waiting for EMR to copy the failed step's stderr to {uri}")
            self.sleep(min(_LOG_RETRY_SECONDS, remaining))
