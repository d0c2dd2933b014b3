"""What a batch's EMR steps came to, for the caller and for a human: pure functions of the state.

``StepResult``s (one per step, in order, as the ``ExecutionEngine`` contract wants them) and
EmrEtlRunner's failure summary (sp#1153): the cluster with its console link, then each step with
its state and time. Known secret values are masked in every text, because a step's stderr or a
failure message may echo anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from snowplow_dagster.engines.contract import StepConfig, StepResult
from snowplow_dagster.engines.emr.wait import Observation, StepStatus, format_duration

_MIN_SECRET_LENGTH = 4
"""Shorter values would mask ordinary words; no real credential or password is that short."""


def console_url(region: str, cluster_id: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/emr/home?region={region}"
        f"#/clusterDetails/{cluster_id}"
    )


class Masker:
    def __init__(self, secrets: Sequence[str]) -> None:
        long_enough = (secret for secret in secrets if len(secret) >= _MIN_SECRET_LENGTH)
        self._secrets = sorted(long_enough, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


@dataclass(frozen=True, slots=True)
class Failure:
    """What to say about the failed step: EMR's details and the tail of its stderr."""

    step_id: str
    message: str
    log_tail: str | None


@dataclass(frozen=True)
class RunState:
    """Where one ``run_steps`` call stands: its steps, their EMR ids, the last poll."""

    steps: Sequence[StepConfig]
    region: str
    log_uri: str
    mask: Masker
    cluster_id: str | None = None
    step_ids: Sequence[str] = ()
    last: Observation | None = None

    def statuses(self) -> list[StepStatus | None]:
        """The last state seen of each step, aligned with ``steps``."""
        seen = {s.step_id: s for s in self.last.steps} if self.last is not None else {}
        ids = [*self.step_ids, *[""] * (len(self.steps) - len(self.step_ids))]
        return [seen.get(step_id) for step_id in ids]

    def step_logs(self, step_id: str) -> str:
        """Where EMR ships a step's ``controller``, ``stdout`` and ``stderr`` logs."""
        return f"{self.log_uri}{self.cluster_id}/steps/{step_id}/"

    def console(self) -> str:
        return console_url(self.region, self.cluster_id or "")

    def results(self, why: str, *, failure: Failure | None = None) -> list[StepResult]:
        """One result per step; whatever neither completed nor failed is ``CANCELLED``, ``why``."""
        results = []
        for index, (step, status) in enumerate(zip(self.steps, self.statuses(), strict=True)):
            state = status.state if status is not None else None
            step_id = self.step_ids[index] if index < len(self.step_ids) else None
            metadata = {}
            if self.cluster_id is not None:
                metadata = {"emr_cluster_id": self.cluster_id, "emr_console_url": self.console()}
                if step_id is not None:
                    metadata["emr_step_logs"] = self.step_logs(step_id)
            message, tail = None, None
            if failure is not None and step_id == failure.step_id:
                message, tail = failure.message, failure.log_tail
            elif state not in ("COMPLETED", "FAILED"):
                message = why or None
            results.append(
                StepResult(
                    name=step["Name"],
                    state=state if state in ("COMPLETED", "FAILED") else "CANCELLED",
                    started_at=status.started_at if status is not None else None,
                    ended_at=status.ended_at if status is not None else None,
                    step_id=step_id,
                    message=self.mask(message) if message else None,
                    log_tail=self.mask(tail) if tail else None,
                    metadata=metadata,
                )
            )
        return results

    def summary(self, headline: str) -> str:
        lines = [headline] if headline else []
        if self.cluster_id is not None:
            cluster = self.last.cluster if self.last is not None else None
            state = f" {cluster.state}" if cluster is not None else ""
            reason = f" ({cluster.reason})" if cluster is not None and cluster.reason else ""
            lines.append(f"EMR cluster {self.cluster_id}:{state}{reason} {self.console()}")
        for number, (step, status) in enumerate(zip(self.steps, self.statuses(), strict=True), 1):
            state = status.state if status is not None else "NOT SUBMITTED"
            took = ""
            if status is not None and status.started_at and status.ended_at:
                took = f" in {format_duration(status.ended_at - status.started_at)}"
            lines.append(f"  {number}. {step['Name']}: {state}{took}")
        return self.mask("\n".join(lines))

    def failure_text(self, failed: StepStatus, failure: Failure, stderr_uri: str) -> str:
        lines = [f"EMR step {failed.name!r} ({failed.step_id}) failed: {failure.message}"]
        lines.append(self.summary(""))
        if failure.log_tail is None:
            lines.append(
                f"No stderr at {stderr_uri} (EMR copies step logs to S3 every few minutes)."
            )
        else:
            lines.append(f"Last lines of stderr ({stderr_uri}):")
            lines += [f"  {line}" for line in failure.log_tail.splitlines()]
        return self.mask("\n".join(lines))
