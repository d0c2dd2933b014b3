"""Waiting for a cluster's steps: a pure decision per poll, and a thin loop around it.

Each poll yields an ``Observation`` (the cluster's state and our steps' states). ``assess`` says
whether the wait is over and how, ``changes`` says what changed since the last poll (every change
is logged to the run: EmrEtlRunner's silence while waiting, sp#1822, sent users to the console),
and ``next_interval`` backs off while nothing changes. The loop adds only the clock, the sleep and
cancellation, all injected, so every EMR situation is a plain test.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

CLUSTER_ENDED = frozenset({"TERMINATED", "TERMINATED_WITH_ERRORS"})
STEP_ACTIVE = frozenset({"PENDING", "CANCEL_PENDING", "RUNNING"})
_ENDING = CLUSTER_ENDED | {"TERMINATING"}
_BOOTSTRAP_REASON = re.compile(
    r"BOOTSTRAP_FAILURE|bootstrap action|Master instance startup failed", re.IGNORECASE
)
"""EmrEtlRunner's test (``emr_job.rb#bootstrap_failure?``, sp#354, sp#2150), code or message."""


@dataclass(frozen=True, slots=True)
class FailureDetails:
    """``Step.Status.FailureDetails``: EMR's own diagnosis of a failed step."""

    reason: str | None
    message: str | None
    log_file: str | None

    def __str__(self) -> str:
        text = ": ".join(part for part in (self.reason, self.message) if part) or "no details"
        return f"{text} (log file {self.log_file})" if self.log_file else text


@dataclass(frozen=True, slots=True)
class StepStatus:
    step_id: str
    name: str
    state: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    failure: FailureDetails | None = None

    @classmethod
    def from_api(cls, step: Mapping[str, Any]) -> StepStatus:
        """From an item of ``list_steps``' ``Steps``."""
        status = step["Status"]
        timeline = status.get("Timeline", {})
        details = status.get("FailureDetails")
        return cls(
            step_id=step["Id"],
            name=step["Name"],
            state=status["State"],
            started_at=timeline.get("StartDateTime"),
            ended_at=timeline.get("EndDateTime"),
            failure=None
            if not details
            else FailureDetails(
                details.get("Reason"), details.get("Message"), details.get("LogFile")
            ),
        )


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    cluster_id: str
    state: str
    reason_code: str | None = None
    reason_message: str | None = None

    @classmethod
    def from_api(cls, cluster: Mapping[str, Any]) -> ClusterStatus:
        """From ``describe_cluster``'s ``Cluster``."""
        reason = cluster["Status"].get("StateChangeReason", {})
        return cls(
            cluster["Id"], cluster["Status"]["State"], reason.get("Code"), reason.get("Message")
        )

    @property
    def reason(self) -> str | None:
        text = ": ".join(part for part in (self.reason_code, self.reason_message) if part)
        return text or None


@dataclass(frozen=True, slots=True)
class Observation:
    cluster: ClusterStatus
    steps: tuple[StepStatus, ...]
    """Ours only, in the order they were submitted."""


class Outcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    STEP_FAILED = "step failed"
    BOOTSTRAP_FAILED = "bootstrap failed"
    CLUSTER_ENDED = "cluster ended"
    """The cluster terminated before the steps finished, for a reason other than bootstrapping."""
    STEPS_CANCELLED = "steps cancelled"
    """Cancelled or interrupted by someone else (console, API) on a cluster that lives on."""
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"
    """This run asked to stop."""


def assess(observation: Observation) -> Outcome:
    """Whether the wait is over, from one observation alone.

    A failed step ends the wait once none of ours is still active, or the cluster has ended: a
    ``CONTINUE`` step's failure lets the rest run first (the engine contract), and after a
    ``CANCEL_AND_WAIT`` or ``TERMINATE_CLUSTER`` one EMR cancels the rest within a poll or two.
    """
    states = [step.state for step in observation.steps]
    if states and all(state == "COMPLETED" for state in states):
        return Outcome.SUCCEEDED
    active = any(state in STEP_ACTIVE for state in states)
    ended = observation.cluster.state in CLUSTER_ENDED
    if "FAILED" in states and (ended or not active):
        return Outcome.STEP_FAILED
    if ended:
        return (
            Outcome.BOOTSTRAP_FAILED if is_bootstrap_failure(observation) else Outcome.CLUSTER_ENDED
        )
    if active or not states:
        return Outcome.RUNNING
    return Outcome.STEPS_CANCELLED


def is_bootstrap_failure(observation: Observation) -> bool:
    """The cluster never got as far as running a step, and EMR blames bootstrapping.

    Only then is a relaunch safe: no step ran, so no data moved (EmrEtlRunner's reasoning in R70).
    """
    cluster = observation.cluster
    never_ran = all(
        step.started_at is None and step.state in ("PENDING", "CANCEL_PENDING", "CANCELLED")
        for step in observation.steps
    )
    blamed = _BOOTSTRAP_REASON.search(cluster.reason or "") is not None
    return cluster.state in CLUSTER_ENDED and never_ran and blamed


def changes(previous: Observation | None, current: Observation) -> list[str]:
    """One log line per cluster or step state that differs from the previous poll."""
    lines = []
    cluster = current.cluster
    before = previous.cluster.state if previous is not None else None
    if cluster.state != before:
        line = _transition(f"EMR cluster {cluster.cluster_id}", before, cluster.state)
        if cluster.state in _ENDING and cluster.reason:
            line += f" ({cluster.reason})"
        lines.append(line)
    seen = {step.step_id: step.state for step in previous.steps} if previous is not None else {}
    for step in current.steps:
        if step.state == seen.get(step.step_id):
            continue
        line = _transition(
            f"EMR step {step.name!r} ({step.step_id})", seen.get(step.step_id), step.state
        )
        if step.started_at is not None and step.ended_at is not None:
            line += f" after {format_duration(step.ended_at - step.started_at)}"
        if step.failure is not None:
            line += f": {step.failure}"
        lines.append(line)
    return lines


def _transition(subject: str, before: str | None, after: str) -> str:
    return f"{subject} is {after}" if before is None else f"{subject}: {before} -> {after}"


def format_duration(duration: timedelta) -> str:
    seconds = max(0, round(duration.total_seconds()))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass(frozen=True, slots=True)
class PollSettings:
    interval_seconds: float
    max_interval_seconds: float
    backoff: float
    """The interval grows by this factor while nothing changes, and resets on any change."""


def next_interval(current: float, *, changed: bool, settings: PollSettings) -> float:
    if changed:
        return settings.interval_seconds
    return min(current * settings.backoff, settings.max_interval_seconds)


@dataclass(frozen=True, slots=True)
class WaitResult:
    outcome: Outcome
    last: Observation | None
    """The last successful poll; None if there was none."""


def wait_for_steps(
    observe: Callable[[], Observation],
    *,
    settings: PollSettings,
    deadline: float,
    log: logging.Logger | logging.LoggerAdapter[Any],
    clock: Callable[[], float],
    sleep: Callable[[float], object],
    cancelled: Callable[[], bool],
    retryable: Callable[[Exception], bool],
) -> WaitResult:
    """Poll until ``assess`` ends the wait, ``clock()`` passes ``deadline`` or ``cancelled()``.

    A poll that fails with a ``retryable`` error (throttling, a dropped connection, after the
    client's own retries) is logged and tried again at the longest interval: a status check is
    harmless to repeat, and failing the batch over it was EmrEtlRunner's most common failure
    (sp#3468). Anything else propagates.
    """
    previous: Observation | None = None
    interval = settings.interval_seconds
    while not cancelled():
        try:
            current = observe()
        except Exception as error:
            if not retryable(error):
                raise
            log.warning(f"Could not poll EMR, trying again: {error}")
            interval = settings.max_interval_seconds
        else:
            lines = changes(previous, current)
            for line in lines:
                log.info(line)
            outcome = assess(current)
            if outcome is not Outcome.RUNNING:
                return WaitResult(outcome, current)
            interval = next_interval(interval, changed=bool(lines), settings=settings)
            previous = current
        remaining = deadline - clock()
        if remaining <= 0:
            return WaitResult(Outcome.TIMED_OUT, previous)
        sleep(min(interval, remaining))
    return WaitResult(Outcome.CANCELLED, previous)
