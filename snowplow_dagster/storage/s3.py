"""S3 through boto3: verified server-side copies (plain, stamped or multipart), conditional writes
and deletes, and bulk deletes in parallel batches."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, cast

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.utils import parse_timestamp

from snowplow_dagster.storage.location import (
    Content,
    CopyNotVerified,
    Location,
    ObjectInfo,
    ObjectMissing,
    PreconditionFailed,
    StorageError,
    Stray,
    check_write_conditions,
    is_copy_of,
)

SOURCE_ETAG_METADATA = "snowplow-source-etag"
"""User metadata on a copy whose ETag cannot equal its source's (multipart copy, multipart-uploaded
source, SSE-KMS). It carries the source's ETag so that a rerun still recognises the copy as done
after the source is gone."""

_MD5_HEX = re.compile(r"[0-9a-f]{32}")
_DELETE_BATCH = 1000  # the most keys DeleteObjects takes
_PARALLEL_DELETES = 8
_MAX_PARTS = 10_000
_KEPT_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage")


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

    def list(self, prefix: Location, *, etags: bool = True) -> Iterator[ObjectInfo]:
        """S3 lists every object's ETag anyway: ``etags`` changes nothing here."""
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
    check_write_conditions(if_match, if_absent)
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
