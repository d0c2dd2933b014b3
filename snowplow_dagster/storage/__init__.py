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

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import stat as stat_mode
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, NamedTuple, Protocol, cast

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.utils import parse_timestamp

SOURCE_ETAG_METADATA = "snowplow-source-etag"
"""User metadata on a copy whose ETag cannot equal its source's (multipart copy, multipart-uploaded
source, SSE-KMS). It carries the source's ETag so that a rerun still recognises the copy as done
after the source is gone."""

_MD5_HEX = re.compile(r"[0-9a-f]{32}")
S3_SCHEMES = ("s3://", "s3a://", "s3n://")
"""The URI schemes read as S3 (Hadoop's ``s3a``/``s3n`` spellings fold into ``s3``)."""
_LOCAL_TEMP = ".snowplow-dagster-tmp-"
_CHUNK = 1 << 20
_DELETE_BATCH = 1000  # the most keys DeleteObjects takes
_PARALLEL_DELETES = 8
_MAX_PARTS = 10_000
_KEPT_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage")


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
    """Only from ``head``: see ``SOURCE_ETAG_METADATA``."""


class Content(NamedTuple):
    data: bytes
    etag: str
    """Of these very bytes, so a later conditional write can name the version that was read."""


def is_copy_of(info: ObjectInfo, size: int, etag: str) -> bool:
    """Whether ``info`` describes a verified copy of the object with this size and ETag."""
    return info.size == size and etag in (info.etag, info.source_etag)


class Storage(Protocol):
    def list(self, prefix: Location) -> Iterator[ObjectInfo]:
        """Every object whose key starts with the prefix, however many pages that takes."""
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


@dataclass(frozen=True, slots=True)
class S3Settings:
    """How to reach S3. Unset values come from the standard AWS configuration (environment,
    shared config files, instance or task role), including ``AWS_ENDPOINT_URL`` and
    ``AWS_ENDPOINT_URL_S3``, so the same code runs against AWS, MinIO or moto."""

    endpoint_url: str | None = None
    region_name: str | None = None
    server_side_encryption: str | None = None
    """``AES256`` (SSE-S3) or ``aws:kms`` (SSE-KMS) for every object written or copied."""
    kms_key_id: str | None = None
    retry_mode: str = "adaptive"
    """``adaptive``: on throttling (503 SlowDown) the client also slows down, not only retries."""
    max_attempts: int = 10
    max_pool_connections: int = 64
    multipart_threshold: int = 5 * 1024**3
    """Larger objects are copied part by part; 5 GiB is the most a single CopyObject can copy."""
    multipart_part_size: int = 512 * 1024**2
    part_workers: int = 8

    def __post_init__(self) -> None:
        if self.server_side_encryption not in (None, "AES256", "aws:kms"):
            raise ValueError(
                "server_side_encryption must be AES256 or aws:kms, "
                f"not {self.server_side_encryption!r}"
            )
        if self.kms_key_id and self.server_side_encryption != "aws:kms":
            raise ValueError("kms_key_id needs server_side_encryption='aws:kms'")
        if not 0 < self.multipart_threshold <= 5 * 1024**3:
            raise ValueError("multipart_threshold must be between 1 byte and 5 GiB")
        if self.multipart_part_size < 5 * 1024**2:
            raise ValueError("multipart_part_size must be at least 5 MiB (S3's smallest part)")


class S3Storage:
    """S3 through one thread-safe boto3 client (so a bounded pool of threads can share it)."""

    def __init__(self, settings: S3Settings | None = None) -> None:
        self.settings = settings or S3Settings()
        core = botocore.session.get_session()
        # botocore parses every timestamp with dateutil, about 40 us each: for a large listing
        # that is most of the client's time (0.4 s of 0.7 s for 10,000 keys). S3 writes listing
        # timestamps in ISO 8601, which the standard library parses in well under a microsecond.
        core.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=_parse_s3_timestamp
        )
        self.client = boto3.session.Session(botocore_session=core).client(
            "s3",
            endpoint_url=self.settings.endpoint_url,
            region_name=self.settings.region_name,
            config=Config(
                retries={
                    "mode": self.settings.retry_mode,
                    "max_attempts": self.settings.max_attempts,
                },
                max_pool_connections=self.settings.max_pool_connections,
            ),
        )
        self._encryption: dict[str, str] = {}
        if self.settings.server_side_encryption:
            self._encryption["ServerSideEncryption"] = self.settings.server_side_encryption
        if self.settings.kms_key_id:
            self._encryption["SSEKMSKeyId"] = self.settings.kms_key_id

    def list(self, prefix: Location) -> Iterator[ObjectInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=prefix.bucket, Prefix=prefix.key
        )
        for page in pages:
            yield from map(_listed_info, page.get("Contents", ()))

    def list_children(self, folder: Location) -> tuple[list[ObjectInfo], list[Location]]:
        objects: list[ObjectInfo] = []
        folders: list[Location] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=folder.bucket, Prefix=folder.key, Delimiter="/"
        )
        for page in pages:
            objects.extend(map(_listed_info, page.get("Contents", ())))
            # Taken as listed, not through ``object``: a prefix with a ".." segment is S3's to hold,
            # and its keys are reported by the claim rather than failing the whole listing.
            prefixes = page.get("CommonPrefixes", ())
            folders.extend(Location("s3", folder.bucket, p["Prefix"]) for p in prefixes)
        return objects, folders

    def strays(self, folder: Location) -> list[Stray]:
        """None: S3 has no links, and this backend hides no key from its listings."""
        return []

    def head(self, obj: Location) -> ObjectInfo | None:
        response = self._head(obj)
        return None if response is None else _head_info(obj, response)

    def read(self, obj: Location) -> Content:
        try:
            response = self.client.get_object(Bucket=obj.bucket, Key=obj.key)
            return Content(response["Body"].read(), _unquote(response["ETag"]))
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404"):
                raise ObjectMissing(obj) from error
            raise

    def open_stream(self, obj: Location) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=obj.bucket, Key=obj.key)
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404"):
                raise ObjectMissing(obj) from error
            raise
        return cast(BinaryIO, response["Body"])

    def write(
        self, obj: Location, data: bytes, *, if_match: str | None = None, if_absent: bool = False
    ) -> str:
        conditions = _write_conditions(if_match, if_absent)
        try:
            response = self.client.put_object(
                Bucket=obj.bucket, Key=obj.key, Body=data, **self._encryption, **conditions
            )
        except ClientError as error:
            # 409 ConditionalRequestConflict: a concurrent conditional write won; look again.
            refused = ("PreconditionFailed", "NoSuchKey", "404", "ConditionalRequestConflict")
            if conditions and _code(error) in refused:
                raise PreconditionFailed(f"{obj.uri}: {_code(error)}") from error
            raise
        return _unquote(response["ETag"])

    def copy(self, src: Location, dst: Location, *, size: int, etag: str) -> ObjectInfo:
        if size <= self.settings.multipart_threshold and self._copy_keeps_etag(etag):
            return self._plain_copy(src, dst, size=size, etag=etag)
        return self._stamped_copy(src, dst, size=size, etag=etag)

    def delete(self, obj: Location, *, if_match: str | None = None) -> None:
        if self._delete(obj, if_match):
            return
        # A stamped copy (see SOURCE_ETAG_METADATA) has an ETag of its own and is still the
        # object named: delete it on the condition of the ETag it really has.
        current = self.head(obj)
        if current is not None and (
            current.source_etag != if_match or not self._delete(obj, current.etag)
        ):
            raise PreconditionFailed(f"{obj.uri} changed since it was named; kept")

    def _delete(self, obj: Location, if_match: str | None) -> bool:
        """False when the ETag condition failed; a missing object counts as deleted."""
        conditions = {"IfMatch": _quote(if_match)} if if_match else {}
        try:
            self.client.delete_object(Bucket=obj.bucket, Key=obj.key, **conditions)
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404"):
                return True
            if _code(error) == "PreconditionFailed":
                return False
            raise
        return True

    def delete_many(self, objects: Sequence[tuple[Location, str | None]]) -> list[Location]:
        chunks = [objects[i : i + _DELETE_BATCH] for i in range(0, len(objects), _DELETE_BATCH)]
        with ThreadPoolExecutor(max(1, min(len(chunks), _PARALLEL_DELETES))) as pool:
            return [kept for chunk in pool.map(self._delete_chunk, chunks) for kept in chunk]

    def _delete_chunk(self, chunk: Sequence[tuple[Location, str | None]]) -> list[Location]:
        refused: list[tuple[Location, str | None]] = []
        failures: list[str] = []
        by_bucket: dict[str, list[tuple[Location, str | None]]] = {}
        for location, etag in chunk:
            by_bucket.setdefault(location.bucket, []).append((location, etag))
        for bucket, items in by_bucket.items():
            response = self.client.delete_objects(
                Bucket=bucket,
                Delete={
                    "Objects": [
                        {"Key": loc.key, **({"ETag": _quote(etag)} if etag else {})}
                        for loc, etag in items
                    ],
                    "Quiet": True,
                },
            )
            etags = {loc.key: etag for loc, etag in items}
            for error in response.get("Errors", ()):
                location = Location("s3", bucket, error["Key"])
                if error["Code"] == "PreconditionFailed":
                    refused.append((location, etags[error["Key"]]))
                elif error["Code"] != "NoSuchKey":
                    failures.append(f"{location.uri}: {error['Code']} {error.get('Message', '')}")
        if failures:
            raise StorageError("could not delete " + "; ".join(failures))
        kept = []
        for location, etag in refused:  # changed, or a stamped copy: ``delete`` tells which
            try:
                self.delete(location, if_match=etag)
            except PreconditionFailed:
                kept.append(location)
        return kept

    def _copy_keeps_etag(self, etag: str) -> bool:
        """A single CopyObject reproduces the source's ETag only for a plain-MD5, non-KMS object."""
        return (
            _MD5_HEX.fullmatch(etag) is not None
            and self.settings.server_side_encryption != "aws:kms"
        )

    def _plain_copy(self, src: Location, dst: Location, *, size: int, etag: str) -> ObjectInfo:
        """One request: the copy's ETag (an MD5 of its bytes) proves it without another read."""
        with _source_errors(src):
            response = self.client.copy_object(
                Bucket=dst.bucket,
                Key=dst.key,
                CopySource={"Bucket": src.bucket, "Key": src.key},
                CopySourceIfMatch=_quote(etag),
                **self._encryption,
            )
        result = response["CopyObjectResult"]
        copied = _unquote(result["ETag"])
        if copied == etag:
            return ObjectInfo(dst.key, size, copied, result["LastModified"])
        # Best effort: a rerun overwrites a wrong copy anyway, so failing to remove it is harmless.
        with contextlib.suppress(StorageError, ClientError):
            self.delete(dst, if_match=copied)
        hint = (
            "; the bucket encrypts with SSE-KMS by default: set server_side_encryption='aws:kms'"
            if response.get("ServerSideEncryption") == "aws:kms"
            else ""
        )
        raise CopyNotVerified(f"copy of {src.uri} to {dst.uri} has ETag {copied}, not {etag}{hint}")

    def _stamped_copy(self, src: Location, dst: Location, *, size: int, etag: str) -> ObjectInfo:
        """Copy whose ETag will differ from the source's: keep the source's headers and metadata,
        add the named ETag to them, and verify size and stamp on the result.

        The source may itself be such a copy (processing to archive), so it is recognised by its
        stamp too, and the copy is conditioned on the ETag it really has.
        """
        head = self._head(src)
        if head is None:
            raise ObjectMissing(src)
        source = _head_info(src, head)
        if not is_copy_of(source, size, etag):
            raise PreconditionFailed(f"{src.uri} is no longer the object that was named")
        args: dict[str, Any] = {name: head[name] for name in _KEPT_HEADERS if name in head}
        args["ContentType"] = head.get("ContentType", "binary/octet-stream")
        args["Metadata"] = {**head.get("Metadata", {}), SOURCE_ETAG_METADATA: etag}
        args.update(self._encryption)
        with _source_errors(src):
            if size > self.settings.multipart_threshold:
                self._multipart_copy(src, dst, size=size, source_etag=source.etag, args=args)
            else:
                self.client.copy_object(
                    Bucket=dst.bucket,
                    Key=dst.key,
                    CopySource={"Bucket": src.bucket, "Key": src.key},
                    CopySourceIfMatch=_quote(source.etag),
                    MetadataDirective="REPLACE",
                    **args,
                )
        copied = self.head(dst)
        if copied is None or not is_copy_of(copied, size, etag):
            raise CopyNotVerified(f"copy of {src.uri} to {dst.uri} does not match it: {copied}")
        return copied

    def _multipart_copy(
        self, src: Location, dst: Location, *, size: int, source_etag: str, args: dict[str, Any]
    ) -> None:
        part_size = max(self.settings.multipart_part_size, -(-size // _MAX_PARTS))
        ranges = [
            (number, start, min(start + part_size, size) - 1)
            for number, start in enumerate(range(0, size, part_size), start=1)
        ]
        upload = self.client.create_multipart_upload(Bucket=dst.bucket, Key=dst.key, **args)
        upload_id = upload["UploadId"]

        def copy_part(part: tuple[int, int, int]) -> dict[str, Any]:
            number, first, last = part
            response = self.client.upload_part_copy(
                Bucket=dst.bucket,
                Key=dst.key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": src.bucket, "Key": src.key},
                CopySourceIfMatch=_quote(source_etag),
                CopySourceRange=f"bytes={first}-{last}",
            )
            return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

        try:
            with ThreadPoolExecutor(self.settings.part_workers) as pool:
                parts = list(pool.map(copy_part, ranges))
            self.client.complete_multipart_upload(
                Bucket=dst.bucket, Key=dst.key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            # Parts of an upload that is neither completed nor aborted are billed until a bucket
            # lifecycle rule (AbortIncompleteMultipartUpload) removes them.
            with contextlib.suppress(ClientError):
                self.client.abort_multipart_upload(
                    Bucket=dst.bucket, Key=dst.key, UploadId=upload_id
                )
            raise

    def _head(self, obj: Location) -> dict[str, Any] | None:
        try:
            return self.client.head_object(Bucket=obj.bucket, Key=obj.key)
        except ClientError as error:
            if _code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise


class LocalStorage:
    """A directory tree as a bucket: the embedded default, needing no cloud account.

    ETags are MD5 hex digests, as S3 reports for single-part objects. Writes and copies go to a
    temporary file beside the target, are fsynced, then renamed into place, so a reader (or a crash)
    never sees half an object. Temporary files are hidden from listings.
    """

    def list(self, prefix: Location) -> Iterator[ObjectInfo]:
        base = _local_path(prefix, allow_folder=True)
        top = base if prefix.key == "" or prefix.key.endswith("/") else os.path.dirname(base)
        for root, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                if name.startswith(_LOCAL_TEMP) or not path[1:].startswith(prefix.key):
                    continue
                info = _local_info(path)
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
        conditions = _write_conditions(if_match, if_absent)
        path = _local_path(obj)
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        temp = os.path.join(directory, f"{_LOCAL_TEMP}{uuid.uuid4().hex}")
        try:
            with open(temp, "xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            if "IfNoneMatch" in conditions:
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


def storage_for(location: Location | str, s3: S3Settings | None = None) -> Storage:
    """The backend that serves this location (``s3://...`` or a local path)."""
    if isinstance(location, str):
        location = Location.parse(location)
    return S3Storage(s3) if location.scheme == "s3" else LocalStorage()


def _parse_s3_timestamp(value: str) -> datetime:
    """ISO 8601 with an offset (listings, copy results) by the standard library; anything else
    (RFC 822 headers, epoch seconds, no offset) by botocore's own parser, as before."""
    with contextlib.suppress(ValueError, TypeError):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            return parsed
    return parse_timestamp(value)


def _listed_info(item: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(item["Key"], item["Size"], _unquote(item["ETag"]), item["LastModified"])


def _head_info(obj: Location, response: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        obj.key,
        response["ContentLength"],
        _unquote(response["ETag"]),
        response["LastModified"],
        response.get("Metadata", {}).get(SOURCE_ETAG_METADATA),
    )


def _quote(etag: str) -> str:
    return f'"{etag}"'


def _unquote(etag: str) -> str:
    return etag.strip('"')


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _write_conditions(if_match: str | None, if_absent: bool) -> dict[str, str]:
    if if_match is not None and if_absent:
        raise ValueError("if_match and if_absent exclude each other")
    if if_absent:
        return {"IfNoneMatch": "*"}
    return {"IfMatch": _quote(if_match)} if if_match is not None else {}


@contextlib.contextmanager
def _source_errors(src: Location) -> Iterator[None]:
    """Copy errors that concern the source become ours; anything else (the destination bucket,
    permissions, throttling beyond the retries) propagates as it is."""
    try:
        yield
    except ClientError as error:
        if _code(error) in ("NoSuchKey", "404", "NotFound"):
            raise ObjectMissing(src) from error
        if _code(error) == "PreconditionFailed":
            raise PreconditionFailed(f"{src.uri} is no longer the object that was named") from error
        raise


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


def _local_info(path: str) -> ObjectInfo | None:
    """A regular file's details; None for anything else (a link is not followed)."""
    try:
        stat = os.lstat(path)
        if not stat_mode.S_ISREG(stat.st_mode):
            return None
        return ObjectInfo(path[1:], stat.st_size, _md5_of(path), _mtime(stat))
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
