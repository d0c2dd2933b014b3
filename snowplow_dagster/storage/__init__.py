"""Object storage: one small interface, two backends (S3 through boto3, and a local directory).

Every step that touches raw files (claiming, staging, archiving) goes through this interface, so the
pipeline behaves the same on AWS and on the embedded default, and the tests prove the same cases on
both.

Verification is uniform because both backends speak ETags: S3's own, and for local files the MD5
hex digest, which is what S3 reports for a single-part, non-KMS object. A copy is only reported done
once its result is shown to be the object that was asked for, and a source is only ever deleted on
the condition that it is still that object, so a newer file written at the same key is never lost.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Protocol

from snowplow_dagster.storage.local import LocalStorage
from snowplow_dagster.storage.location import (
    S3_SCHEMES,
    Content,
    CopyNotVerified,
    LinkNotFollowed,
    Location,
    ObjectInfo,
    ObjectMissing,
    PreconditionFailed,
    StorageError,
    Stray,
    UnsafeKey,
    check_relative,
    is_copy_of,
)
from snowplow_dagster.storage.s3 import SOURCE_ETAG_METADATA, S3Settings, S3Storage

__all__ = [
    "S3_SCHEMES",
    "SOURCE_ETAG_METADATA",
    "Content",
    "CopyNotVerified",
    "LinkNotFollowed",
    "LocalStorage",
    "Location",
    "ObjectInfo",
    "ObjectMissing",
    "PreconditionFailed",
    "S3Settings",
    "S3Storage",
    "Storage",
    "StorageError",
    "Stray",
    "UnsafeKey",
    "check_relative",
    "is_copy_of",
    "list_tree",
    "storage_for",
]


class Storage(Protocol):
    def list(self, prefix: Location, *, etags: bool = True) -> Iterator[ObjectInfo]:
        """Every object whose key starts with the prefix, however many pages that takes.

        ``etags=False`` is for callers that need names and sizes only: a backend may then leave
        ``etag`` empty (the local one would otherwise read and hash every file it lists, which for
        a batch's enriched output is most of the time a listing takes). An empty ETag matches no
        object's, so one used by mistake fails a verification rather than passing it."""
        ...

    def list_children(self, folder: Location) -> tuple[list[ObjectInfo], list[Location]]:
        """The objects directly in ``folder`` and its sub-folders, one ``/`` level down, so that a
        big tree can be listed a sub-folder per thread (see ``list_tree``)."""
        ...

    def strays(self, folder: Location) -> list[Stray]:
        """What is under ``folder`` but never listed as an object (see ``LocalStorage.strays``),
        so that callers can report it instead of leaving it unseen."""
        ...

    def head(self, obj: Location) -> ObjectInfo | None: ...

    def read(self, obj: Location) -> Content:
        """The whole object; for small objects (manifests, markers). Raises ``ObjectMissing``."""
        ...

    def open_stream(self, obj: Location) -> BinaryIO:
        """A file-like reader of the object, for data too big to hold (loading enriched files).
        Raises ``ObjectMissing``; the caller closes it."""
        ...

    def write(
        self, obj: Location, data: bytes, *, if_match: str | None = None, if_absent: bool = False
    ) -> str:
        """Store ``data`` atomically and return its ETag. ``if_absent`` creates only if nothing is
        there, ``if_match`` replaces only the object with that ETag; a refusal raises
        ``PreconditionFailed``."""
        ...

    def copy(self, src: Location, dst: Location, *, size: int, etag: str) -> ObjectInfo:
        """Server-side copy of the object ``src`` must still be (size, ETag), verified.

        Raises ``ObjectMissing`` (no source), ``PreconditionFailed`` (the source is another object
        now) or ``CopyNotVerified``; in every case the source is untouched.
        """
        ...

    def delete(self, obj: Location, *, if_match: str | None = None) -> None:
        """Delete; with ``if_match``, only if it is still the object with that ETag (otherwise
        ``PreconditionFailed``). Deleting what is not there succeeds: that is what was asked for."""
        ...

    def delete_many(self, objects: Sequence[tuple[Location, str | None]]) -> list[Location]:
        """Conditional deletes in bulk; returns the objects kept because they changed."""
        ...


def list_tree(storage: Storage, folder: Location, *, workers: int = 16) -> list[ObjectInfo]:
    """Everything under ``folder``, its sub-folders listed in parallel.

    Listing pages come one after another, each a round trip plus parsing; collectors write one
    sub-folder per instance, so listing those side by side cuts a large in-bucket's listing time.
    """
    objects, folders = storage.list_children(folder.folder())
    if folders:
        with ThreadPoolExecutor(min(workers, len(folders))) as pool:
            for listed in pool.map(lambda sub: list(storage.list(sub)), folders):
                objects.extend(listed)
    return objects


def storage_for(location: Location | str, s3: S3Settings | None = None) -> Storage:
    """The backend that serves this location (``s3://...`` or a local path)."""
    if isinstance(location, str):
        location = Location.parse(location)
    return S3Storage(s3) if location.scheme == "s3" else LocalStorage()
