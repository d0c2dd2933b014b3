"""Where objects are and what is known of them, shared by both backends: ``Location`` (an object or
a prefix in one bucket) and the key checks that keep every derived key under the location it came
from, ``ObjectInfo``, and the errors every backend raises.

Pure: no I/O beyond resolving a local path's symbolic links in ``Location.parse``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

S3_SCHEMES = ("s3://", "s3a://", "s3n://")
"""The URI schemes read as S3 (Hadoop's ``s3a``/``s3n`` spellings fold into ``s3``)."""


class StorageError(Exception):
    """A storage operation could not be done as asked."""


class ObjectMissing(StorageError):
    def __init__(self, location: Location) -> None:
        super().__init__(f"{location.uri} does not exist")
        self.location = location


class PreconditionFailed(StorageError):
    """The object is not (or no longer) the one the caller named: a conditional write, copy or
    delete was refused, so the caller must look again rather than overwrite or delete."""


class CopyNotVerified(StorageError):
    """A copy finished but its result is not provably the source object."""


class UnsafeKey(StorageError, ValueError):
    """A key that would reach outside the location it was derived from: not under it, with ``.``
    or ``..`` segments, an absolute path or a symbolic link on the local backend. Refused before
    anything is read, copied or deleted, so a corrupt or forged manifest cannot touch other files.
    """


class LinkNotFollowed(PreconditionFailed):
    """A local object is a symbolic link (or not a regular file): it is not the object named, and
    is never followed, since a link may point anywhere outside the buckets."""


@dataclass(frozen=True, slots=True)
class Stray:
    """Something in a listed folder that is not an object this backend will read, with why."""

    location: Location
    reason: str

    def describe(self) -> str:
        """The name quoted with its control characters escaped (a newline stays visible)."""
        return f"{json.dumps(self.location.uri, ensure_ascii=False)} ({self.reason})"


@dataclass(frozen=True, slots=True)
class Location:
    """An object or a prefix in one bucket.

    For the local backend the whole filesystem is one bucket named ``""`` and keys are absolute
    paths without their leading ``/``, so nesting checks and relative keys work as they do on S3.
    URIs are taken literally (no percent-decoding), as the AWS CLI does.

    ``join`` and ``object`` are how every key is derived from a configured location, and both
    refuse (``UnsafeKey``) a key that is not under it or has ``.``/``..`` segments (some S3-like
    stores and every filesystem resolve those), and on the local backend empty segments, which
    would make an absolute path.
    """

    scheme: str
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> Location:
        """``s3://bucket/prefix`` (or ``s3a://``, ``s3n://``), ``file:///path`` or a plain path."""
        for scheme in S3_SCHEMES:
            if uri.startswith(scheme):
                bucket, _, key = uri[len(scheme) :].partition("/")
                if not bucket:
                    raise ValueError(f"no bucket in {uri!r}")
                return cls("s3", bucket, key)
        if uri.startswith("file://"):
            path = uri[len("file://") :]
            if not path.startswith("/"):
                raise ValueError(f"{uri!r} is not a local file URI (file:///absolute/path)")
        elif "://" in uri:
            raise ValueError(
                f"unsupported storage URI {uri!r}: use s3://bucket/prefix/, file:///path/ or a path"
            )
        else:
            path = uri
        # The real path: a location reached through a symbolic link is the folder it points at, so
        # two spellings of one folder compare (and nest) as one, and a link below never passes.
        absolute = os.path.realpath(path)
        if path.endswith("/") and absolute != "/":
            absolute += "/"
        return cls("file", "", absolute.lstrip("/"))

    @property
    def uri(self) -> str:
        if self.scheme == "s3":
            return f"s3://{self.bucket}/{self.key}"
        return f"file:///{self.key}"

    def folder(self) -> Location:
        """This location as a prefix of whole path segments (``in/`` never matches ``inx``)."""
        if self.key == "" or self.key.endswith("/"):
            return self
        return Location(self.scheme, self.bucket, self.key + "/")

    def join(self, relative: str) -> Location:
        check_relative(self, relative)
        return Location(self.scheme, self.bucket, self.folder().key + relative)

    def relative(self, key: str) -> str:
        prefix = self.folder().key
        if not key.startswith(prefix):
            raise ValueError(f"{key!r} is not under {self.uri}")
        return key[len(prefix) :]

    def object(self, key: str) -> Location:
        """The object at ``key``, a full key that must lie under this location."""
        prefix = self.folder().key
        if not key.startswith(prefix):
            raise UnsafeKey(f"{json.dumps(key, ensure_ascii=False)} is not under {self.uri}")
        check_relative(self, key[len(prefix) :])
        return Location(self.scheme, self.bucket, key)

    def __str__(self) -> str:
        return self.uri


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: datetime
    source_etag: str | None = None
    """Only from ``head`` on S3: see ``s3.SOURCE_ETAG_METADATA``."""


class Content(NamedTuple):
    data: bytes
    etag: str
    """Of these very bytes, so a later conditional write can name the version that was read."""


def is_copy_of(info: ObjectInfo, size: int, etag: str) -> bool:
    """Whether ``info`` describes a verified copy of the object with this size and ETag."""
    return info.size == size and etag in (info.etag, info.source_etag)


def check_relative(base: Location, relative: str) -> None:
    """Refuse (``UnsafeKey``) a relative key that could leave ``base`` once joined to it."""
    segments = relative.split("/")
    dots = any(segment in (".", "..") for segment in segments)
    # On the local backend an empty segment is a second "/": an absolute path once joined.
    empty = base.scheme == "file" and "" in segments[:-1]
    if dots or empty:
        raise UnsafeKey(
            f"{json.dumps(relative, ensure_ascii=False)} under {base.uri} is not a plain "
            "relative path (empty, '.' or '..' segments)"
        )


def check_write_conditions(if_match: str | None, if_absent: bool) -> None:
    """A write is conditional on the object it replaces or on there being none, never both."""
    if if_match is not None and if_absent:
        raise ValueError("if_match and if_absent exclude each other")
