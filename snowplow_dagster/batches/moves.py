"""Staging and archiving: move exactly a manifest's objects, resumably, with nothing lost.

A move is planned from the manifest and one listing of the destination (``plan_moves``, pure), then
executed by a bounded thread pool: copy and verify every object not yet verified at its destination,
then delete the sources in bulk, each on the condition that it is still the object named. A crash at
any point leaves each object at its source, at its destination, or verified at both; a rerun then
finishes the job, only deleting the source of what is verified at the destination. An object found
at neither end is named in the error, never skipped.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Executor, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from snowplow_dagster.batches.claiming import ClaimSettings
from snowplow_dagster.batches.manifest import BatchState, Manifest, ManifestStore
from snowplow_dagster.storage import (
    CopyNotVerified,
    Location,
    ObjectInfo,
    ObjectMissing,
    PreconditionFailed,
    Storage,
    is_copy_of,
)

DEFAULT_WORKERS = 32
"""Concurrent copies: S3 copies are server-side, so threads mostly wait on the network."""

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class Move:
    src: Location
    dst: Location
    size: int
    etag: str


@dataclass(frozen=True, slots=True)
class MovePlan:
    copy: tuple[Move, ...]
    """Not at the destination (or another object is there): copy from the source."""
    check: tuple[Move, ...]
    """At the destination with the right size but a listed ETag that proves nothing on its own
    (a multipart or KMS copy): its metadata decides."""
    done: tuple[Move, ...]
    """Verified at the destination by the listing; at most the source remains to delete."""


@dataclass(frozen=True, slots=True)
class MoveReport:
    files: int
    bytes: int
    copied: int
    already_there: int
    """Found verified at the destination: moved by an earlier, interrupted attempt."""
    kept_sources: tuple[str, ...]
    """Sources left in place because a newer object replaced them after they were named."""

    def summary(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> MoveReport:
        return cls(**{**summary, "kept_sources": tuple(summary["kept_sources"])})


class MoveError(RuntimeError):
    """Objects of the manifest that could not be moved, every one named; the rest were moved."""

    def __init__(self, missing: Sequence[Move], changed: Sequence[tuple[Move, str]]) -> None:
        self.missing = tuple(missing)
        self.changed = tuple(changed)
        lines = [f"missing at both ends: {m.src.uri} (expected at {m.dst.uri})" for m in missing]
        lines += [f"not moved: {m.src.uri}: {reason}" for m, reason in changed]
        super().__init__(f"{len(lines)} object(s) not moved:\n" + "\n".join(lines))


class BatchStateError(RuntimeError):
    pass


class _Outcome(enum.Enum):
    COPIED = "copied"
    THERE = "there"
    """Verified at the destination already (the source may or may not remain)."""
    REPLACED = "replaced"
    """Verified at the destination, and the source key now holds a newer object: keep it."""
    MISSING = "missing"
    CHANGED = "changed"


def run_folder(base: Location, batch: str) -> Location:
    return base.join(f"run={batch}/")


def staging_moves(manifest: Manifest, processing: Location) -> list[Move]:
    folder = run_folder(processing, manifest.batch_id)
    return [
        Move(manifest.source_of(entry), folder.join(entry.path), entry.size, entry.etag)
        for entry in manifest.entries
    ]


def folder_moves(manifest: Manifest, src: Location, dst: Location) -> list[Move]:
    """Moves of a manifest's objects from one run folder to another (processing to archive)."""
    return [
        Move(src.join(entry.path), dst.join(entry.path), entry.size, entry.etag)
        for entry in manifest.entries
    ]


def plan_moves(moves: Iterable[Move], destination: Mapping[str, ObjectInfo]) -> MovePlan:
    """Sort moves by what the destination listing (by key) shows of them."""
    copy, check, done = [], [], []
    sources_by_destination: dict[Location, Location] = {}
    for move in moves:
        other = sources_by_destination.setdefault(move.dst, move.src)
        if other != move.src:
            raise ValueError(f"{other.uri} and {move.src.uri} would both move to {move.dst.uri}")
        found = destination.get(move.dst.key)
        if found is None or found.size != move.size:
            copy.append(move)
        elif found.etag == move.etag:
            done.append(move)
        else:
            check.append(move)
    return MovePlan(tuple(copy), tuple(check), tuple(done))


def execute(
    storage: Storage,
    moves: Sequence[Move],
    destination: Location,
    *,
    workers: int = DEFAULT_WORKERS,
) -> MoveReport:
    """Move every object to its destination under ``destination``; raises ``MoveError`` naming
    whatever could not be moved, after moving all the rest."""
    plan = plan_moves(moves, {info.key: info for info in storage.list(destination.folder())})
    work = [(move, True) for move in plan.check] + [(move, False) for move in plan.copy]
    with ThreadPoolExecutor(workers) as pool:
        results = _map_all(pool, lambda item: (item[0], *_transfer(storage, *item)), work)
    outcomes: dict[_Outcome, list[tuple[Move, str]]] = {outcome: [] for outcome in _Outcome}
    for move, outcome, reason in results:
        outcomes[outcome].append((move, reason))

    def moved(outcome: _Outcome) -> list[Move]:
        return [move for move, _ in outcomes[outcome]]

    deletable = [*plan.done, *moved(_Outcome.COPIED), *moved(_Outcome.THERE)]
    kept = storage.delete_many([(move.src, move.etag) for move in deletable])
    kept += [move.src for move in moved(_Outcome.REPLACED)]
    if outcomes[_Outcome.MISSING] or outcomes[_Outcome.CHANGED]:
        raise MoveError(moved(_Outcome.MISSING), outcomes[_Outcome.CHANGED])
    copied = len(outcomes[_Outcome.COPIED])
    return MoveReport(
        files=len(moves),
        bytes=sum(move.size for move in moves),
        copied=copied,
        already_there=len(moves) - copied,
        kept_sources=tuple(sorted(location.uri for location in kept)),
    )


def stage_batch(
    storage: Storage, settings: ClaimSettings, batch: str, *, workers: int = DEFAULT_WORKERS
) -> MoveReport:
    """Move a claimed batch from the in-locations to ``processing/run=<id>/``.

    Safe to rerun at any point: a batch already staged (or archived since) is not moved again, and
    the report recorded when it was staged is returned.
    """
    store = ManifestStore(storage, settings.manifests)
    final = _staging_is_final(settings)
    state = _state(store, batch)
    if state is not BatchState.PENDING:
        done = MoveReport.from_summary(store.details(batch, BatchState.STAGED))
        if state is BatchState.STAGED:  # in case the previous attempt stopped inside mark_staged
            store.mark_staged(batch, done.summary(), final=final)
        else:
            store.release(batch)
        return done
    manifest = store.load(batch)
    unknown = [source.uri for source in manifest.sources if source not in settings.in_locations]
    if unknown:
        raise BatchStateError(
            f"{store.manifest_location(batch).uri} claims objects from {', '.join(unknown)}, "
            "which is not a configured in-location: nothing is moved. If the configuration "
            "changed since the batch was claimed, add it back to aws.s3.buckets.raw.in "
            "(or the stream location) to stage this batch"
        )
    moves = staging_moves(manifest, settings.processing)
    report = execute(storage, moves, run_folder(settings.processing, batch), workers=workers)
    store.mark_staged(batch, report.summary(), final=final)
    return report


def archive_batch(
    storage: Storage, settings: ClaimSettings, batch: str, *, workers: int = DEFAULT_WORKERS
) -> MoveReport:
    """Move a staged batch from ``processing/run=<id>/`` to the raw archive's ``run=<id>/``.

    Only the manifest's objects move, so nothing else that sits in processing (sp#1151: unprocessed
    files archived after a resume) is swept along. Safe to rerun at any point.
    """
    store = ManifestStore(storage, settings.manifests)
    state = _state(store, batch)
    if state is BatchState.ARCHIVED:
        return MoveReport.from_summary(store.details(batch, BatchState.ARCHIVED))
    if state is not BatchState.STAGED:
        raise BatchStateError(f"batch {batch} is not staged yet: it cannot be archived")
    manifest = store.load(batch)
    src, dst = run_folder(settings.processing, batch), run_folder(settings.archive, batch)
    report = execute(storage, folder_moves(manifest, src, dst), dst, workers=workers)
    store.mark_archived(batch, report.summary())
    return report


def _transfer(storage: Storage, move: Move, check_first: bool) -> tuple[_Outcome, str]:
    if check_first and _is_there(storage, move):
        return _Outcome.THERE, ""
    try:
        storage.copy(move.src, move.dst, size=move.size, etag=move.etag)
    except ObjectMissing:
        return (_Outcome.THERE, "") if _is_there(storage, move) else (_Outcome.MISSING, "")
    except (PreconditionFailed, CopyNotVerified) as error:
        return (
            (_Outcome.REPLACED, "") if _is_there(storage, move) else (_Outcome.CHANGED, str(error))
        )
    return _Outcome.COPIED, ""


def _is_there(storage: Storage, move: Move) -> bool:
    found = storage.head(move.dst)
    return found is not None and is_copy_of(found, move.size, move.etag)


def _staging_is_final(settings: ClaimSettings) -> bool:
    """Stream Enrich mode: staging is the batch's last step, nothing archives it, so the store need
    not track it until then."""
    return settings.stream_mode


def _state(store: ManifestStore, batch: str) -> BatchState:
    state = store.state(batch)
    if state is None:
        raise BatchStateError(f"batch {batch} was never claimed (no committed manifest)")
    return state


def _map_all(pool: Executor, function: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
    """``pool.map`` that stops at the first error, whichever item has it: what has not started
    is cancelled, so a failing storage is not asked thousands more times."""
    futures = [pool.submit(function, item) for item in items]
    done, _ = wait(futures, return_when=FIRST_EXCEPTION)
    failed = next((future for future in futures if future in done and future.exception()), None)
    if failed is not None:
        for future in futures:
            future.cancel()
        raise failed.exception()  # type: ignore[misc]
    return [future.result() for future in futures]
