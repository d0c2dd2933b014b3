"""A local directory tree as a bucket, with the same guarantees as S3: atomic writes and copies,
conditional replaces and deletes under a file lock, MD5 ETags, and no symbolic link
ever followed."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import stat as stat_mode
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import BinaryIO

from snowplow_dagster.storage.location import (
    Content,
    LinkNotFollowed,
    Location,
    ObjectInfo,
    ObjectMissing,
    PreconditionFailed,
    Stray,
    UnsafeKey,
    check_write_conditions,
)

_LOCAL_TEMP = ".snowplow-dagster-tmp-"
_CHUNK = 1 << 20


class LocalStorage:
    """A directory tree as a bucket: the embedded default, needing no cloud account.

    ETags are MD5 hex digests, as S3 reports for single-part objects. Writes and copies go to a
    temporary file beside the target, are fsynced, then renamed into place, so a reader (or a crash)
    never sees half an object. Temporary files are hidden from listings.
    """

    def list(self, prefix: Location, *, etags: bool = True) -> Iterator[ObjectInfo]:
        base = _local_path(prefix, allow_folder=True)
        top = base if prefix.key == "" or prefix.key.endswith("/") else os.path.dirname(base)
        for root, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                if name.startswith(_LOCAL_TEMP) or not path[1:].startswith(prefix.key):
                    continue
                info = _local_info(path, etag=etags)
                if info is not None:
                    yield info

    def list_children(self, folder: Location) -> tuple[list[ObjectInfo], list[Location]]:
        objects: list[ObjectInfo] = []
        folders: list[Location] = []
        try:
            entries = sorted(os.scandir(_local_path(folder, allow_folder=True)), key=_name)
        except (FileNotFoundError, NotADirectoryError):
            return [], []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):  # as os.walk, which ``list`` uses
                folders.append(folder.object(entry.path[1:] + "/"))
            elif not entry.name.startswith(_LOCAL_TEMP) and (info := _local_info(entry.path)):
                objects.append(info)
        return objects, folders

    def strays(self, folder: Location) -> list[Stray]:
        """Symbolic links (to files or folders, never followed), files named like this backend's
        temporary files (hidden from listings) and anything not a regular file, under ``folder``:
        what ``list`` leaves out, so that it can be reported rather than left unseen."""
        found: list[Stray] = []
        pending = [_local_path(folder.folder(), allow_folder=True)]
        while pending:
            try:
                entries = sorted(os.scandir(pending.pop()), key=_name)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                reason = None
                if entry.is_symlink():
                    reason = "a symbolic link: not followed"
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.name.startswith(_LOCAL_TEMP):
                    reason = f"named like snowplow-dagster's temporary files ({_LOCAL_TEMP}*)"
                elif not entry.is_file(follow_symlinks=False):
                    reason = "not a regular file"
                if reason is not None:
                    found.append(Stray(Location("file", "", entry.path[1:]), reason))
        return sorted(found, key=lambda stray: stray.location.key)

    def head(self, obj: Location) -> ObjectInfo | None:
        return _local_info(_local_path(obj))

    def read(self, obj: Location) -> Content:
        try:
            with _open_file(_local_path(obj), obj) as file:
                data = file.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectMissing(obj) from None
        return Content(data, hashlib.md5(data, usedforsecurity=False).hexdigest())

    def open_stream(self, obj: Location) -> BinaryIO:
        try:
            return open(_local_path(obj), "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectMissing(obj) from None

    def write(
        self, obj: Location, data: bytes, *, if_match: str | None = None, if_absent: bool = False
    ) -> str:
        check_write_conditions(if_match, if_absent)
        path = _local_path(obj)
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        temp = os.path.join(directory, f"{_LOCAL_TEMP}{uuid.uuid4().hex}")
        try:
            with open(temp, "xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            if if_absent:
                try:
                    os.link(temp, path)  # atomic create-if-absent, whole content at once
                except FileExistsError:
                    raise PreconditionFailed(f"{obj.uri} already exists") from None
            elif if_match is not None:
                try:
                    with _locked(path):
                        if _md5_of(path) != if_match:
                            raise PreconditionFailed(f"{obj.uri} changed since it was read")
                        os.replace(temp, path)
                except FileNotFoundError:
                    raise PreconditionFailed(f"{obj.uri} does not exist") from None
            else:
                os.replace(temp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        _fsync_directory(directory)
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def copy(self, src: Location, dst: Location, *, size: int, etag: str) -> ObjectInfo:
        source, target = _local_path(src), _local_path(dst)
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        temp = os.path.join(directory, f"{_LOCAL_TEMP}{uuid.uuid4().hex}")
        try:
            try:
                reader = _open_file(source, src)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise ObjectMissing(src) from None
            with reader, open(temp, "xb") as writer:
                copied, digest = _copy_hashing(reader, writer)
                writer.flush()
                os.fsync(writer.fileno())
            if (copied, digest) != (size, etag):
                raise PreconditionFailed(
                    f"{src.uri} is no longer the object that was named "
                    f"({copied} bytes, ETag {digest}; expected {size} bytes, ETag {etag})"
                )
            os.replace(temp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        _fsync_directory(directory)
        return ObjectInfo(dst.key, size, etag, _mtime(os.stat(target)))

    def delete(self, obj: Location, *, if_match: str | None = None) -> None:
        path = _local_path(obj)
        try:
            if if_match is None:
                os.unlink(path)
                return
            with _locked(path):
                if _md5_of(path) != if_match:
                    raise PreconditionFailed(f"{obj.uri} changed since it was named; kept")
                os.unlink(path)
        except FileNotFoundError:
            return

    def delete_many(self, objects: Sequence[tuple[Location, str | None]]) -> list[Location]:
        kept = []
        for location, etag in objects:
            try:
                self.delete(location, if_match=etag)
            except PreconditionFailed:
                kept.append(location)
        return kept


def _local_path(location: Location, *, allow_folder: bool = False) -> str:
    """The path of a local location, refused unless it is plain and reaches its target through
    real folders only: a symbolic link on the way is never followed.

    Configured locations are real paths (``Location.parse``), so a link found here is below one,
    where it could lead anywhere. The last segment of an object is checked where it is opened
    (``O_NOFOLLOW``), since it may not exist yet.
    """
    if location.scheme != "file":
        raise ValueError(f"{location.uri} is not a local location")
    path = "/" + location.key
    plain = path.rstrip("/") if allow_folder else path
    if location.key.startswith("/") or os.path.normpath(plain) != (plain or "/"):
        raise UnsafeKey(f"{location.uri} is not a plain path (empty, '.' or '..' segments)")
    folder = (plain if allow_folder else os.path.dirname(plain)) or "/"
    if os.path.realpath(folder) != folder:
        raise UnsafeKey(f"{location.uri} is reached through a symbolic link: not followed")
    return path


def _open_file(path: str, location: Location) -> BinaryIO:
    """Open a regular file for reading, never through a link at its last segment."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise LinkNotFollowed(f"{location.uri} is a symbolic link: not followed") from None
        raise
    if not stat_mode.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        raise LinkNotFollowed(f"{location.uri} is not a regular file")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def _local_info(path: str, *, etag: bool = True) -> ObjectInfo | None:
    """A regular file's details, its ETag empty unless asked for; None for anything else (a link
    is not followed)."""
    try:
        stat = os.lstat(path)
        if not stat_mode.S_ISREG(stat.st_mode):
            return None
        return ObjectInfo(path[1:], stat.st_size, _md5_of(path) if etag else "", _mtime(stat))
    except (FileNotFoundError, NotADirectoryError, LinkNotFollowed):
        return None  # deleted or replaced while we looked: it is simply not there


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _md5_of(path: str) -> str:
    with _open_file(path, Location("file", "", path[1:])) as file:
        return hashlib.file_digest(file, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


def _copy_hashing(reader: BinaryIO, writer: BinaryIO) -> tuple[int, str]:
    digest = hashlib.md5(usedforsecurity=False)
    copied = 0
    while chunk := reader.read(_CHUNK):
        digest.update(chunk)
        writer.write(chunk)
        copied += len(chunk)
    return copied, digest.hexdigest()


def _mtime(stat: os.stat_result) -> datetime:
    return datetime.fromtimestamp(stat.st_mtime, tz=UTC)


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """Serialise conditional replaces and deletes of one file by locking the file itself.

    A writer that waited on the lock re-reads the path, which by then names the replacement, so
    its ETag check fails as it should; no lock files are left behind.
    """
    with _open_file(path, Location("file", "", path[1:])) as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _fsync_directory(directory: str) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
