"""EmrEtlRunner's ``--skip`` / ``--resume-from`` turned into an asset selection of the batch job.

EmrEtlRunner's step names map onto our assets: ``staging`` -> ``staged_logs``, ``enrich`` ->
``enriched_events``, ``archive_raw`` -> ``archived_logs``, with a PostgreSQL target (``-t``)
``rdb_load`` -> ``loaded_events``, and in Stream Enrich mode ``staging_stream_enrich`` ->
``staged_enriched``. ``raw_logs`` (the claimed manifest) goes with
staging: without staging nothing new is claimed, and the pass works on the batches left unfinished,
which is what EmrEtlRunner's resumes found in ``processing``.

Its other steps (shred, elasticsearch, and rdb_load without a target, ...) have no counterpart
here: they are accepted, so existing cron lines keep working, and ignored with a note. As in
EmrEtlRunner, ``rdb_load`` runs whenever ``archive_raw`` would, and on ``--resume-from rdb_load``.
The selection follows ``runner.rb#get_steps`` (reference §3.3), stream-mode rules included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BATCH_STEPS = ("staging", "enrich", "archive_raw")
LOAD_STEP = "rdb_load"
STREAM_STEPS = ("staging_stream_enrich",)
FOREIGN_STEPS = (
    "shred",
    "elasticsearch",
    "rdb_load",
    "consistency_check",
    "analyze",
    "load_manifest_check",
    "archive_enriched",
    "archive_shredded",
)
"""EmrEtlRunner steps that snowplow-dagster does not have (no shredding; loading only with a
target)."""
SKIPPABLE = (*BATCH_STEPS, *STREAM_STEPS, *FOREIGN_STEPS)
RESUMABLE = (
    "enrich",
    "shred",
    "elasticsearch",
    "archive_raw",
    "rdb_load",
    "analyze",
    "archive_enriched",
    "archive_shredded",
    "staging_stream_enrich",
)

_ASSETS = {
    "staging": ("raw_logs", "staged_logs"),
    "enrich": ("enriched_events",),
    "archive_raw": ("archived_logs",),
    "rdb_load": ("loaded_events",),
    "staging_stream_enrich": ("raw_logs", "staged_enriched"),
}
_RUNS_WHEN_RESUMING_FROM = {
    # Which of our steps run for each --resume-from (reference §3.3's matrix, our rows only).
    "enrich": ("enrich", "archive_raw", "rdb_load"),
    "shred": ("archive_raw", "rdb_load"),
    "elasticsearch": ("archive_raw", "rdb_load"),
    "archive_raw": ("archive_raw", "rdb_load"),
    "rdb_load": ("rdb_load",),
}


class SelectionError(ValueError):
    """Flags EmrEtlRunner refuses too; the message is what to change."""


@dataclass(frozen=True)
class StepPlan:
    steps: tuple[str, ...]
    """Our steps that run, in pipeline order."""
    notes: tuple[str, ...] = ()

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(asset for step in self.steps for asset in _ASSETS[step])

    @property
    def claims(self) -> bool:
        """Whether new objects are claimed: only when the batch's staging runs."""
        return "staging" in self.steps or "staging_stream_enrich" in self.steps


def parse_steps(value: str) -> tuple[str, ...]:
    """``-x staging,enrich`` as EmrEtlRunner splits it (commas, spaces tolerated)."""
    steps = tuple(step.strip() for step in value.split(",") if step.strip())
    unknown = [step for step in steps if step not in SKIPPABLE]
    if unknown:
        raise SelectionError(
            f"Invalid option: skip steps must be in {', '.join(SKIPPABLE)}; "
            f"got {', '.join(unknown)}"
        )
    return steps


def plan_steps(
    skip: Sequence[str] = (),
    resume_from: str | None = None,
    *,
    stream_mode: bool = False,
    loading: bool = False,
) -> StepPlan:
    """The steps of ours that run, or ``SelectionError`` for what EmrEtlRunner rejects;
    ``loading``: a target is configured, so ``rdb_load`` is ours."""
    if skip and resume_from:
        raise SelectionError("Invalid option: resume-from and skip are mutually exclusive")
    if resume_from is not None and resume_from not in RESUMABLE:
        raise SelectionError(
            f"Invalid option: resume-from must be one of {', '.join(RESUMABLE)}; got {resume_from}"
        )
    if stream_mode:
        _check_stream_flags(skip, resume_from)
    elif resume_from == "staging_stream_enrich" or "staging_stream_enrich" in skip:
        raise SelectionError(
            "staging_stream_enrich is only available in Stream Enrich mode (enriched.stream)"
        )
    foreign = [step for step in FOREIGN_STEPS if not (loading and step == LOAD_STEP)]
    ignored = [step for step in skip if step in foreign]
    if resume_from in foreign:
        ignored.append(resume_from)
    notes = tuple(
        f"Note: snowplow-dagster has no {step} step"
        + (" without a storage target (-t)" if step == LOAD_STEP else "")
        + f"; --skip/--resume-from {step} changes nothing"
        for step in dict.fromkeys(ignored)
    )
    ours = STREAM_STEPS if stream_mode else (*BATCH_STEPS, *((LOAD_STEP,) if loading else ()))
    if resume_from is not None:
        running = _RUNS_WHEN_RESUMING_FROM.get(resume_from, ())
        return StepPlan(tuple(step for step in ours if step in running), notes)
    return StepPlan(tuple(step for step in ours if step not in skip), notes)


def _check_stream_flags(skip: Sequence[str], resume_from: str | None) -> None:
    """EmrEtlRunner's Stream Enrich rules (``cli.rb``, sp#3726)."""
    if resume_from == "enrich":
        raise SelectionError("cannot resume from enrich in stream enrich mode")
    if "staging" in skip or "enrich" in skip:
        raise SelectionError(
            "cannot skip staging nor enrich in stream enrich mode. "
            "Either skip staging_stream_enrich or resume from shred"
        )
    if "archive_raw" in skip or resume_from == "archive_raw":
        raise SelectionError("cannot skip nor resume from archive_raw in stream enrich mode")
