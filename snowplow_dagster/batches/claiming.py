"""Claiming: cut the objects waiting in the in-locations into batches, each with a durable manifest.

The decision is a pure function of a listing (``plan_batches``); ``claim`` is the shell around it
that lists, reserves batch ids and commits.

Overlapping claim passes (two sensor ticks, a sensor and a cron ``run``) need no lock. A pass reads
the pending index together with its ETag, plans against the manifests it names, writes its own
manifests, then commits them by replacing the index on the condition that its ETag is unchanged.
Of two passes that read the same index only one commit succeeds; the other discards its manifests
and plans again, now seeing the winner's objects as claimed. An object stays claimed until its batch
is staged, by which time it has left the in-location, so no object is ever in two batches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from snowplow_dagster.batches.manifest import (
    EntryTotals,
    Manifest,
    ManifestEntry,
    ManifestStore,
    batch_id,
    batch_time,
)
from snowplow_dagster.storage import (
    Location,
    ObjectInfo,
    Storage,
    Stray,
    UnsafeKey,
    check_relative,
    list_tree,
)
from snowplow_dagster.storage.conflicts import check_locations

CLJ_TOMCAT_PATTERN = r".*localhost\_access\_log.*\.txt.*"
"""EmrEtlRunner's ``--srcPattern`` for the Clojure collector: Tomcat access logs only."""
STREAM_ENRICHED_PATTERN = r".*\.gz"
"""EmrEtlRunner's ``--srcPattern`` for Stream Enrich mode (R102+): the S3 Loader's gzipped enriched
files only, so ``_SUCCESS``-style and other side files are left in the stream location."""

_COMMIT_ATTEMPTS = 10


def source_pattern(settings: ClaimSettings) -> re.Pattern[str]:
    """Which keys below an in-location are wanted. ``.`` matches a line break too, so a wanted
    name with one is recognised, and reported as one that cannot be claimed (``untakeable``)."""
    if settings.stream_mode:
        return re.compile(STREAM_ENRICHED_PATTERN, re.DOTALL)
    pattern = CLJ_TOMCAT_PATTERN if settings.collector_format == "clj-tomcat" else ".+"
    return re.compile(pattern, re.DOTALL)


def untakeable(location: Location, relative: str) -> str | None:
    """Why the object at ``relative`` below ``location`` cannot be claimed, or None.

    A line break cannot be carried by the line-based lists and logs a batch goes through, and a
    ``.``/``..`` segment would leave its folder once staged (``Location.join`` refuses both).
    """
    if "\n" in relative or "\r" in relative:
        return "a line break in its name"
    try:
        check_relative(location, relative)
    except UnsafeKey:
        return "a '.' or '..' segment in its name"
    return None


@dataclass(frozen=True)
class ClaimSettings:
    """Where raw files wait, move and rest, and how they are cut into batches.

    Locations are normalised to folders and checked to be disjoint on construction, so a bad
    configuration fails before anything moves.
    """

    in_locations: tuple[Location, ...]
    """EmrEtlRunner's ``raw.in``: one or more locations collectors write to."""
    processing: Location
    archive: Location
    manifests: Location
    stream_mode: bool = False
    """Stream Enrich mode (``PipelineConfig.stream_mode``): the in-location holds enriched ``.gz``
    files, and staging is a batch's last step."""
    collector_format: str | None = "cloudfront"
    """Batch mode: picks ``source_pattern``. Not read in Stream Enrich mode."""
    quiet_period_seconds: float = 0.0
    """Objects modified more recently than this are left for a later batch: still being written
    (a local folder; on S3 an object is listed only once whole, see ``quiet_period_default``)."""
    max_files_per_batch: int = 100_000
    max_bytes_per_batch: int = 100 * 1024**3
    """A larger object still gets a batch of its own rather than waiting forever."""

    def __post_init__(self) -> None:
        if not self.in_locations:
            raise ValueError("at least one in-location is needed")
        if self.max_files_per_batch < 1 or self.max_bytes_per_batch < 1:
            raise ValueError("max_files_per_batch and max_bytes_per_batch must be positive")
        if self.quiet_period_seconds < 0:
            raise ValueError("quiet_period_seconds must not be negative")
        folders = {
            "in_locations": tuple(location.folder() for location in self.in_locations),
            "processing": self.processing.folder(),
            "archive": self.archive.folder(),
            "manifests": self.manifests.folder(),
        }
        for name, folder in folders.items():
            object.__setattr__(self, name, folder)
        check_locations(self.named_locations())

    def named_locations(self) -> dict[str, Location]:
        """Every location by the name its errors use."""
        named = {f"in_locations[{i}]": loc for i, loc in enumerate(self.in_locations)}
        named.update(processing=self.processing, archive=self.archive, manifests=self.manifests)
        return named


@dataclass(frozen=True, slots=True)
class BatchPlan(EntryTotals):
    entries: tuple[ManifestEntry, ...]


class ClaimContention(RuntimeError):
    """Other claim passes kept committing first; the next pass will pick the objects up."""


def staged_path(relative_key: str) -> str:
    """Where an object lives under ``run=<id>/``: its path below the in-location, keeping instance
    sub-folders, with leading underscores stripped from every name because Hadoop input formats
    skip ``_`` files and folders (a name that is only underscores is kept as it is)."""
    return "/".join(segment.lstrip("_") or segment for segment in relative_key.split("/"))


def plan_batches(
    listing: Sequence[Iterable[ObjectInfo]],
    claimed: Set[Location],
    settings: ClaimSettings,
    now: datetime,
    held: list[ObjectInfo] | None = None,
) -> list[BatchPlan]:
    """Cut what waits into batches, oldest first, each within the file and byte caps.

    ``listing[i]`` is what ``settings.in_locations[i]`` holds. Folder markers, ``$folder$`` files,
    objects not matching the collector's pattern, objects modified within the quiet period and
    ``claimed`` objects are left out, and so are those that cannot be claimed (``find_strays``
    names them); those held back only by the quiet period are appended to ``held``, so a caller
    can say what waits and since when. Two objects that would land on the same staged path are
    never put in one pass: the later one waits for the next pass, whose run folder is a different
    one.
    """
    cutoff = now - timedelta(seconds=settings.quiet_period_seconds)
    waiting = []
    for source, location, info, relative in _wanted(listing, settings):
        if untakeable(location, relative) or location.object(info.key) in claimed:
            continue
        if info.last_modified > cutoff:
            if held is not None:
                held.append(info)
            continue
        waiting.append((info.last_modified, source, info.key, relative, info))
    waiting.sort(key=lambda item: item[:3])

    plans: list[BatchPlan] = []
    batch: list[ManifestEntry] = []
    batch_bytes = 0
    paths: set[str] = set()
    for _, source, key, relative, info in waiting:
        path = staged_path(relative)
        if path in paths:
            continue
        paths.add(path)
        full = (
            len(batch) >= settings.max_files_per_batch
            or batch_bytes + info.size > settings.max_bytes_per_batch
        )
        if batch and full:
            plans.append(BatchPlan(tuple(batch)))
            batch, batch_bytes = [], 0
        batch.append(ManifestEntry(source, key, info.size, info.etag, path))
        batch_bytes += info.size
    if batch:
        plans.append(BatchPlan(tuple(batch)))
    return plans


def find_strays(
    listing: Sequence[Iterable[ObjectInfo]],
    hidden: Sequence[Iterable[Stray]],
    settings: ClaimSettings,
) -> tuple[Stray, ...]:
    """What the collector's pattern wants but no pass can claim, with why, by name: the listed
    objects that are ``untakeable``, and what the storage keeps out of its listings (``hidden[i]``
    is ``Storage.strays`` of ``settings.in_locations[i]``: links, reserved names)."""
    pattern = source_pattern(settings)
    found = [
        Stray(Location(location.scheme, location.bucket, info.key), reason)
        for _, location, info, relative in _wanted(listing, settings)
        if (reason := untakeable(location, relative))
    ]
    for location, strays in zip(settings.in_locations, hidden, strict=True):
        found.extend(s for s in strays if pattern.fullmatch(location.relative(s.location.key)))
    return tuple(sorted(found, key=lambda stray: stray.location.uri))


@dataclass(frozen=True)
class ClaimPass:
    manifests: list[Manifest]
    """The new batches, committed and durable; ``[]`` when nothing waits."""
    strays: tuple[Stray, ...] = ()
    """Objects left where they are because they cannot be claimed (``find_strays``): every pass
    reports them again until someone renames or removes them."""


def describe_strays(strays: Sequence[Stray], *, limit: int = 20) -> str:
    """One line for a console or a sensor's skip reason: how many, and the first ``limit`` by
    name (control characters escaped) with why."""
    named = ", ".join(stray.describe() for stray in strays[:limit])
    more = f" and {len(strays) - limit} more" if len(strays) > limit else ""
    return (
        f"{len(strays)} object(s) cannot be claimed and stay where they are until renamed or "
        f"removed: {named}{more}"
    )


def claim(
    storage: Storage,
    settings: ClaimSettings,
    *,
    now: datetime | None = None,
    held: list[ObjectInfo] | None = None,
) -> list[Manifest]:
    """One claim pass: the new batches, committed and durable, or ``[]`` when nothing waits."""
    return claim_pass(storage, settings, now=now, held=held).manifests


def claim_pass(
    storage: Storage,
    settings: ClaimSettings,
    *,
    now: datetime | None = None,
    held: list[ObjectInfo] | None = None,
) -> ClaimPass:
    """One claim pass: the new batches and what could not be claimed. Objects left for a later
    pass by the quiet period are put in ``held`` (``plan_batches``).

    Costs one listing of each in-location plus reads of the pending manifests; neither the
    processing folder, the archive nor past manifests are listed.
    """
    store = ManifestStore(storage, settings.manifests)
    for _ in range(_COMMIT_ATTEMPTS):
        clock = now or datetime.now(UTC)
        attempt_held: list[ObjectInfo] = []
        plans, strays, pending, version = _plan(store, settings, clock, attempt_held)
        if held is not None:
            held[:] = attempt_held
        if not plans:
            return ClaimPass([], strays)
        created = _create_manifests(store, settings, plans, clock)
        ids = tuple(m.batch_id for m in created)
        # A refused commit may be our own, retried after its response was lost: ids are unique, so
        # finding them all in the index proves that.
        if store.replace_pending(pending + ids, version) or set(ids) <= set(store.pending()[0]):
            return ClaimPass(created, strays)
        for manifest in created:
            store.discard(manifest.batch_id)
    raise ClaimContention(f"no claim committed after {_COMMIT_ATTEMPTS} attempts")


def _wanted(
    listing: Sequence[Iterable[ObjectInfo]], settings: ClaimSettings
) -> Iterator[tuple[int, Location, ObjectInfo, str]]:
    """(source index, in-location, object, key below it) of every listed object the collector's
    pattern wants, folder markers and ``$folder$`` files left out."""
    pattern = source_pattern(settings)
    for source, objects in enumerate(listing):
        location = settings.in_locations[source]
        for info in objects:
            if info.key.endswith(("/", "$folder$")):
                continue
            relative = location.relative(info.key)
            if pattern.fullmatch(relative):
                yield source, location, info, relative


def preview_claim(
    storage: Storage, settings: ClaimSettings, now: datetime, held: list[ObjectInfo]
) -> list[BatchPlan]:
    """What ``claim`` would cut into batches now, writing nothing (a sensor preview)."""
    return _plan(ManifestStore(storage, settings.manifests), settings, now, held)[0]


def _plan(
    store: ManifestStore, settings: ClaimSettings, clock: datetime, held: list[ObjectInfo]
) -> tuple[list[BatchPlan], tuple[Stray, ...], tuple[str, ...], str | None]:
    """The plans, what cannot be claimed, and the pending index (with its version) they were
    planned against."""
    storage = store.storage
    # The pending index must be read before listing: an object whose batch is staged and
    # released in between is then already gone from the listing, never seen unclaimed.
    pending, version = store.pending()
    locations = settings.in_locations
    with ThreadPoolExecutor(max(1, 2 * len(locations) + len(pending))) as pool:
        listing_futures = [pool.submit(list_tree, storage, where) for where in locations]
        hidden_futures = [pool.submit(storage.strays, where) for where in locations]
        manifests = list(pool.map(store.load, pending))
        listing = [future.result() for future in listing_futures]
        hidden = [future.result() for future in hidden_futures]
    strays = find_strays(listing, hidden, settings)
    claimed = {m.source_of(entry) for m in manifests for entry in m.entries}
    plans = plan_batches(listing, claimed, settings, clock, held)
    return plans, strays, pending, version


def _create_manifests(
    store: ManifestStore, settings: ClaimSettings, plans: list[BatchPlan], clock: datetime
) -> list[Manifest]:
    """Write each plan's manifest under the first free id from ``clock`` on.

    The id stays EmrEtlRunner's ``YYYY-MM-DD-HH-MM-SS`` (tools parse it), so a batch cut in a second
    that already has one takes the next free second instead; creating the manifest only if absent
    is what makes the id this batch's alone, even against another process.
    """
    created = []
    candidate = batch_time(batch_id(clock))
    for plan in plans:
        while True:
            manifest = Manifest(batch_id(candidate), settings.in_locations, plan.entries)
            candidate += timedelta(seconds=1)
            if store.create(manifest):
                created.append(manifest)
                break
    return created


@dataclass(frozen=True)
class QuietWait:
    """Objects a pass left for later because they changed within the quiet period."""

    objects: int
    since: datetime
    """The oldest one's last modification: it becomes claimable once the quiet period has passed."""
    quiet_period_seconds: float

    @classmethod
    def of(cls, held: Sequence[ObjectInfo], settings: ClaimSettings) -> QuietWait | None:
        if not held:
            return None
        oldest = min(info.last_modified for info in held)
        return cls(len(held), oldest, settings.quiet_period_seconds)

    def describe(self) -> str:
        ready = self.since + timedelta(seconds=self.quiet_period_seconds)
        return (
            f"{self.objects} object(s) modified since {self.since:%Y-%m-%d %H:%M:%S} UTC wait for "
            f"the quiet period ({self.quiet_period_seconds:g} s, "
            f"snowplow_dagster.quiet_period_seconds); the first is claimable from "
            f"{ready:%H:%M:%S} UTC"
        )
