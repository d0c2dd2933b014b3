"""The contract between step builders and execution engines: EMR's own ``StepConfig``.

A batch's work is a list of steps in exactly the shape boto3's ``add_job_flow_steps`` takes, so the
AWS engine submits it unchanged and the local engine executes the same list on this machine; what
runs locally is what would run on EMR. Both engines implement ``ExecutionEngine``:

- ``run_steps`` returns one ``StepResult`` per step, in order, only when every step completed.
- A failed step raises ``StepFailed`` and an interrupted run ``StepsCancelled``; both carry the
  result of every step (steps never started are ``CANCELLED``), so a caller can report what ran.
- ``ActionOnFailure`` is honoured as on EMR: ``CONTINUE`` goes on with the next step (the first
  failure is raised once the list is done); ``CANCEL_AND_WAIT`` and ``TERMINATE_CLUSTER`` stop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypedDict

ActionOnFailure = Literal["CANCEL_AND_WAIT", "TERMINATE_CLUSTER", "CONTINUE"]
StepState = Literal["COMPLETED", "FAILED", "CANCELLED"]


class HadoopJarStepConfig(TypedDict):
    Jar: str
    Args: list[str]


class StepConfig(TypedDict):
    """One item of ``add_job_flow_steps(Steps=[...])``, as EMR's API spells it."""

    Name: str
    ActionOnFailure: ActionOnFailure
    HadoopJarStep: HadoopJarStepConfig


@dataclass(frozen=True, slots=True)
class StepResult:
    name: str
    state: StepState
    started_at: datetime | None = None
    ended_at: datetime | None = None
    step_id: str | None = None
    """EMR's step id; None for the local engine."""
    exit_code: int | None = None
    message: str | None = None
    """Why the step failed or was cancelled, readable without opening a log."""
    log_tail: str | None = None
    """The last lines of the step's output: the part of a log that usually says what went wrong."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Engine-specific facts worth showing (copy counts, log URIs, console links)."""

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class StepError(Exception):
    """A step list did not complete; ``results`` has one entry per step, in order."""

    def __init__(self, message: str, results: Sequence[StepResult]) -> None:
        super().__init__(message)
        self.results = list(results)


class StepFailed(StepError):
    """A step failed; ``failed`` is the first step that did."""

    @property
    def failed(self) -> StepResult:
        return next(result for result in self.results if result.state == "FAILED")


class StepsCancelled(StepError):
    """The run was stopped (cancel event, or the process was interrupted) before the list ended."""


class ExecutionEngine(Protocol):
    def run_steps(
        self,
        steps: Sequence[StepConfig],
        *,
        log: logging.Logger,
        cancel_event: threading.Event | None = None,
    ) -> list[StepResult]:
        """Run the steps in order; see the module docstring for results, errors and failures.

        ``log`` takes a Dagster ``context.log`` (a ``logging.Logger``). Setting ``cancel_event``
        stops the running step and cancels the rest.
        """
        ...
