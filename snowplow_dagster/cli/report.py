"""What a pass did, read back from the instance: step durations, a per-batch summary, progress.

Everything comes from Dagster's event log and materialisations, the records the UI shows, so the
command line and the UI never disagree.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from rich.console import Console
from rich.table import Table

from snowplow_dagster.constants import PARTITION_TAG

STEP_ORDER = ("raw_logs", "staged_logs", "enriched_events", "archived_logs", "staged_enriched")
_STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}
_POLL_SECONDS = 0.5
_VERBS = {
    dg.DagsterEventType.STEP_START: "started",
    dg.DagsterEventType.STEP_SUCCESS: "done",
    dg.DagsterEventType.STEP_FAILURE: "FAILED",
}


def step_durations(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds from each step's start to its success or failure, as the UI's timeline shows."""
    started: dict[str, float] = {}
    durations: dict[str, float] = {}
    for entry in instance.all_logs(run_id, of_type=_STEP_EVENTS):
        key = entry.step_key
        if key is None or entry.dagster_event is None:
            continue
        if entry.dagster_event.event_type is dg.DagsterEventType.STEP_START:
            started.setdefault(key, entry.timestamp)
        elif key in started:
            durations[key] = entry.timestamp - started[key]
    return durations


@dataclass(frozen=True)
class BatchSummary:
    batch: str
    success: bool
    metadata: dict[str, dict[str, object]]
    """Per asset, its materialisation's metadata values."""
    durations: dict[str, float] = field(default_factory=dict)

    def value(self, asset: str, key: str) -> object:
        return self.metadata.get(asset, {}).get(key, "-")


def summarise(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> BatchSummary:
    materializations = [
        event.materialization for event in result.get_asset_materialization_events()
    ]
    metadata = {
        m.asset_key.to_user_string(): {key: value.value for key, value in m.metadata.items()}
        for m in materializations
    }
    return BatchSummary(
        batch=result.dagster_run.tags.get(PARTITION_TAG, "?"),
        success=result.success,
        metadata=metadata,
        durations=step_durations(instance, result.run_id),
    )


def summary_table(summaries: Sequence[BatchSummary]) -> Table:
    """One column per batch, one row per figure: it stays readable on an 80-column terminal."""
    table = Table(title="snowplow-dagster pass")
    table.add_column("")
    for summary in summaries:
        table.add_column(summary.batch, justify="right")
    rows = [
        ("files", "raw_logs", "files"),
        ("input lines", "enriched_events", "input_lines"),
        ("events", "enriched_events", "events"),
        ("bad rows", "enriched_events", "bad_rows"),
        ("skipped lines", "enriched_events", "skipped_lines"),
        ("enriched good", "enriched_events", "good"),
        ("enriched bad", "enriched_events", "bad"),
        ("raw archive", "archived_logs", "location"),
    ]
    for label, asset, key in rows:
        if any(s.value(asset, key) != "-" for s in summaries):
            table.add_row(label, *(_number(s.value(asset, key)) for s in summaries))
    for step in STEP_ORDER:
        if any(step in s.durations for s in summaries):
            table.add_row(
                f"{step} (s)",
                *(f"{s.durations[step]:.1f}" if step in s.durations else "-" for s in summaries),
            )
    table.add_row("status", *("ok" if s.success else "FAILED" for s in summaries))
    return table


@contextlib.contextmanager
def dagster_logs_to(path: Path) -> Iterator[None]:
    """Send the runs' console logs (every event, at DEBUG) to a file: the progress lines and the UI
    say what happened; the file keeps the detail for when something went wrong."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file, contextlib.redirect_stderr(file):
        yield


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


@contextlib.contextmanager
def progress(instance: dg.DagsterInstance, console: Console) -> Iterator[None]:
    """Show each step of the runs started meanwhile as it starts and ends: lines under a spinner
    naming the latest on a terminal, plain lines otherwise (cron mail, CI logs)."""
    since = datetime.now(UTC)
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch, args=(instance, console, since, stop), name="progress", daemon=True
    )
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


def _watch(
    instance: dg.DagsterInstance, console: Console, since: datetime, stop: threading.Event
) -> None:
    seen: set[int] = set()
    status = console.status("Claiming new collector logs") if console.is_terminal else None
    with status if status is not None else contextlib.nullcontext():
        while True:
            final = stop.is_set()
            for line in _new_lines(instance, since, seen):
                console.print(line)
                if status is not None:
                    status.update(line.strip())
            if final:
                return
            stop.wait(_POLL_SECONDS)


def _new_lines(instance: dg.DagsterInstance, since: datetime, seen: set[int]) -> list[str]:
    lines = []
    for record in reversed(instance.get_run_records(dg.RunsFilter(created_after=since))):
        batch = record.dagster_run.tags.get(PARTITION_TAG, "?")
        for event in instance.get_records_for_run(
            record.dagster_run.run_id, of_type=_STEP_EVENTS
        ).records:
            entry = event.event_log_entry
            if event.storage_id in seen or entry.dagster_event is None:
                continue
            seen.add(event.storage_id)
            verb = _VERBS[entry.dagster_event.event_type]
            lines.append(f"  batch {batch}: {entry.step_key} {verb}")
    return lines


FAILURE_LINES = 12
"""Of a failed step's error, what the command line shows: enough for cron mail to say why; the
whole of it is in the UI and the log file."""


def failures(result: dg.ExecuteInProcessResult, mask: Callable[[str], str]) -> list[str]:
    """Each failed step of a run and the first lines of its error (the user's own exception, not
    Dagster's wrapper around it), with ``mask`` applied."""
    lines = []
    for event in result.all_events:
        if not event.is_step_failure or event.step_failure_data is None:
            continue
        data = event.step_failure_data
        error = data.error
        while error is not None and error.cause is not None:
            error = error.cause
        text = error.message if error is not None else "(no error recorded)"
        if data.user_failure_data is not None and data.user_failure_data.description:
            text = data.user_failure_data.description  # a dg.Failure: its words, no class name
        shown = mask(text).strip().splitlines()
        more = len(shown) - FAILURE_LINES
        lines.append(f"  step {event.step_key} failed:")
        lines += [f"    {line}" for line in shown[:FAILURE_LINES]]
        if more > 0:
            lines.append(f"    ... ({more} more lines in the UI and the log file)")
    return lines
