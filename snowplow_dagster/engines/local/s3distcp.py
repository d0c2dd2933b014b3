"""S3DistCp on this machine: an EMR step's ``s3-dist-cp`` arguments, run between object storage
(S3 or a local folder, through ``storage``) and a local folder standing in for HDFS.

It follows S3DistCp's semantics, so that a step list behaves here as it does on EMR:

- ``hdfs:///x`` is ``<hdfs_root>/x``; anything else is a storage location (``s3://``, ``file://``).
- ``--srcPattern`` and ``--groupBy`` are Java regexes matched in full (``matches()``) against the
  whole source path (``s3://bucket/key``, ``hdfs:///local/...``); Python's ``re`` reads the
  patterns EmrEtlRunner uses the same way (with ``re.ASCII``, as Java's ``\\w`` is ASCII).
- ``--groupBy``: files whose path matches are concatenated, byte after byte, per key (the capture
  groups joined; a group that did not take part counts as ``null``, as in Java, sp#3940); files
  that do not match, or whose key is empty, are not copied. A group is cut into files of about
  ``--targetSize`` MB of input: a file is closed once it holds that much. A group's files go to the
  folder of its first file (relative to ``--src``), named after the key's last path segment;
  further files of the group get ``-1``, ``-2``... before the extension.
- ``--outputCodec``: not given (or ``keep``) keeps the inputs' compression; ``none`` decompresses
  (and drops ``.gz`` from names); ``gz``/``gzip`` compresses (``.gz``). ``lzo``/``lzop`` are
  written as gzip: LZO needs the native hadoop-lzo library, which a laptop lacks, and Spark reads
  ``.gz`` as it reads ``.lzo``. Inputs are decompressed by their extension; ``.lzo`` and
  ``.snappy`` inputs can only be copied as they are.
- No matching file is an error, as it is for S3DistCp (sp#4205): a copy that moves nothing is
  almost always a wrong pattern or a missing upstream output.
- ``--deleteOnSuccess`` deletes the sources only once every output is written and verified, and
  each only if it is still the object that was copied.
- ``--s3Endpoint`` is accepted and ignored: the endpoint comes from the storage settings (the
  standard AWS configuration), so the same step runs against AWS, MinIO or moto.
- ``--s3ServerSideEncryption`` writes S3 outputs with SSE-S3 (unless SSE-KMS is configured).

Hadoop's local file system writes a hidden ``.<name>.crc`` beside every file; HDFS and S3 have no
such files, so they are not listed from local sources. Data is streamed through temporary files in
``scratch_dir``: no file is ever held in memory whole.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, NoReturn

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from snowplow_dagster.storage import (
    SOURCE_ETAG_METADATA,
    CopyNotVerified,
    LocalStorage,
    Location,
    ObjectInfo,
    PreconditionFailed,
    S3Settings,
    S3Storage,
    Storage,
    is_copy_of,
    storage_for,
)

Codec = Literal["gzip", "lzo", "snappy"]
OutputCodec = Literal["keep", "none", "gzip"]

_CODECS: dict[str, Codec] = {
    "gz": "gzip",
    "gzip": "gzip",
    "lzo": "lzo",
    "lzop": "lzo",
    "snappy": "snappy",
}
_OUTPUT_CODECS: dict[str, OutputCodec] = {
    "keep": "keep",
    "none": "none",
    "gz": "gzip",
    "gzip": "gzip",
    "lzo": "gzip",
    "lzop": "gzip",
}
_HDFS = "hdfs:///"
_CHECKSUM_SIDECAR = re.compile(r"\..+\.crc")
_CHUNK = 1 << 20
_MB = 1024 * 1024
_READ_ERRORS = (OSError, EOFError, BotoCoreError, ClientError, PreconditionFailed)

logger = logging.getLogger(__name__)


class S3DistCpError(Exception):
    """The arguments are unusable, nothing matched, or a copy could not be done or verified."""


class CopyCancelled(S3DistCpError):
    """The cancel event was set; outputs already written stay, no source was deleted."""


@dataclass(frozen=True, slots=True)
class S3DistCpOptions:
    src: str
    dest: str
    src_pattern: re.Pattern[str] | None = None
    group_by: re.Pattern[str] | None = None
    target_size: int | None = None
    """Bytes of input per output file of a group."""
    output_codec: OutputCodec = "keep"
    lzo_as_gzip: bool = False
    """``--outputCodec lzo`` was asked for; gzip is written instead."""
    delete_on_success: bool = False
    server_side_encryption: bool = False


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    """The full path the patterns see: ``s3://bucket/key``, ``file:///...`` or ``hdfs:///...``."""
    relative: str
    """Below ``--src``."""
    location: Location
    size: int
    etag: str

    @property
    def codec(self) -> Codec | None:
        return _codec_of(self.relative)


@dataclass(frozen=True, slots=True)
class Output:
    relative: str
    """Below ``--dest``."""
    sources: tuple[SourceFile, ...]
    codec: Codec | None
    """How the output is compressed; its sources are decompressed first unless copied as is."""

    @property
    def as_is(self) -> bool:
        """One source already in the output's codec: its bytes are the output's."""
        return len(self.sources) == 1 and self.sources[0].codec == self.codec


@dataclass(frozen=True, slots=True)
class CopyReport:
    files_in: int
    files_out: int
    bytes_in: int
    bytes_out: int
    deleted: int = 0


# --- arguments and planning (pure) -------------------------------------------------------------


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise S3DistCpError(f"s3-dist-cp: {message}")


def parse_args(args: Sequence[str]) -> S3DistCpOptions:
    """S3DistCp's options (``--opt value`` or ``--opt=value``); unknown ones are refused."""
    parser = _ArgumentParser(prog="s3-dist-cp", allow_abbrev=False, add_help=False)
    parser.add_argument("--src", required=True)
    parser.add_argument("--dest", required=True)
    parser.add_argument("--srcPattern")
    parser.add_argument("--groupBy")
    parser.add_argument("--targetSize", type=int)
    parser.add_argument("--outputCodec")
    parser.add_argument("--deleteOnSuccess", action="store_true")
    parser.add_argument("--s3Endpoint")  # accepted, not used: see the module docstring
    parser.add_argument("--s3ServerSideEncryption", action="store_true")
    parsed = parser.parse_args(list(args))
    group_by = _pattern(parsed.groupBy, "--groupBy")
    if group_by is not None and group_by.groups == 0:
        raise S3DistCpError("s3-dist-cp: --groupBy needs at least one capture group ( )")
    if parsed.targetSize is not None and parsed.targetSize <= 0:
        raise S3DistCpError(f"s3-dist-cp: --targetSize must be positive MB: {parsed.targetSize}")
    codec = (parsed.outputCodec or "keep").lower()
    if codec not in _OUTPUT_CODECS:
        raise S3DistCpError(
            f"s3-dist-cp: --outputCodec {parsed.outputCodec} is not available locally "
            f"(use one of {', '.join(_OUTPUT_CODECS)})"
        )
    return S3DistCpOptions(
        src=parsed.src,
        dest=parsed.dest,
        src_pattern=_pattern(parsed.srcPattern, "--srcPattern"),
        group_by=group_by,
        target_size=parsed.targetSize * _MB if parsed.targetSize is not None else None,
        output_codec=_OUTPUT_CODECS[codec],
        lzo_as_gzip=codec in ("lzo", "lzop"),
        delete_on_success=parsed.deleteOnSuccess,
        server_side_encryption=parsed.s3ServerSideEncryption,
    )


def plan_outputs(options: S3DistCpOptions, files: Iterable[SourceFile]) -> list[Output]:
    """Which output files to write from which sources; see the module docstring for the rules.

    Raises ``S3DistCpError`` when nothing matches or two outputs would get the same name.
    """
    selected = sorted(
        (f for f in files if options.src_pattern is None or options.src_pattern.fullmatch(f.path)),
        key=lambda f: f.path,
    )
    if options.group_by is None:
        outputs = [_single_output(f, options.output_codec) for f in selected]
    else:
        outputs = _grouped_outputs(selected, options)
    if not outputs:
        raise S3DistCpError(f"s3-dist-cp: no file under {options.src} matches {_filters(options)}")
    names: dict[str, Output] = {}
    for output in outputs:
        if output.relative in names:
            first, second = names[output.relative].sources[0].path, output.sources[0].path
            raise S3DistCpError(
                f"s3-dist-cp: {first} and {second} would both be written to {output.relative}"
            )
        names[output.relative] = output
    return outputs


def copied_name(relative: str, output_codec: str) -> str:
    """The name a file copied without ``--groupBy`` gets under ``--dest`` with
    ``--outputCodec output_codec``: ``none`` drops a codec extension, ``gz`` ensures ``.gz``."""
    codec = _OUTPUT_CODECS[output_codec.lower()]
    if codec == "keep":
        return relative
    return _output_name(relative, 0, "gzip" if codec == "gzip" else None)


def _single_output(source: SourceFile, codec: OutputCodec) -> Output:
    if codec == "keep":
        return Output(source.relative, (source,), source.codec)
    target: Codec | None = "gzip" if codec == "gzip" else None
    return Output(copied_name(source.relative, codec), (source,), target)


def _grouped_outputs(files: list[SourceFile], options: S3DistCpOptions) -> list[Output]:
    assert options.group_by is not None
    groups: dict[str, list[SourceFile]] = {}
    for source in files:
        match = options.group_by.fullmatch(source.path)
        if match is None:
            continue
        key = "".join("null" if group is None else group for group in match.groups())
        if key:
            groups.setdefault(key, []).append(source)
    outputs = []
    for key, members in groups.items():
        segments = [segment for segment in key.replace(":", "").split("/") if segment]
        if not segments:
            continue
        folder = members[0].relative.rpartition("/")[0]
        base = f"{folder}/{segments[-1]}" if folder else segments[-1]
        for index, chunk in enumerate(_chunks(members, options.target_size)):
            codec = _group_codec(chunk, options.output_codec)
            outputs.append(Output(_output_name(base, index, codec), tuple(chunk), codec))
    return outputs


def _chunks(members: list[SourceFile], target_size: int | None) -> Iterator[list[SourceFile]]:
    """S3DistCp's cut: a file is closed as soon as its inputs reach the target size."""
    chunk: list[SourceFile] = []
    size = 0
    for source in members:
        chunk.append(source)
        size += source.size
        if target_size is not None and size >= target_size:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _group_codec(chunk: list[SourceFile], codec: OutputCodec) -> Codec | None:
    if codec == "gzip":
        return "gzip"
    if codec == "none":
        return None
    kept = {source.codec for source in chunk}
    if len(kept) > 1:
        raise S3DistCpError(
            "s3-dist-cp: cannot keep the compression of a group whose files are compressed "
            f"differently ({', '.join(source.path for source in chunk)}); set --outputCodec"
        )
    return kept.pop()


def _output_name(relative: str, index: int, codec: Codec | None) -> str:
    stem = relative
    if _codec_of(relative) is not None:
        stem = relative.rpartition(".")[0]
    if index:
        stem += f"-{index}"
    return stem + (".gz" if codec == "gzip" else "")


def _codec_of(name: str) -> Codec | None:
    base = name.rpartition("/")[2]
    return _CODECS.get(base.rpartition(".")[2].lower()) if "." in base else None


def _pattern(value: str | None, flag: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(value, re.ASCII)
    except re.error as error:
        raise S3DistCpError(f"s3-dist-cp: {flag} {value!r} is not a valid regex: {error}") from None


def _filters(options: S3DistCpOptions) -> str:
    filters = [
        f"{flag} {pattern.pattern}"
        for flag, pattern in (
            ("--srcPattern", options.src_pattern),
            ("--groupBy", options.group_by),
        )
        if pattern is not None
    ]
    return " and ".join(filters) or "(any file: the folder is empty or missing)"


# --- running it --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Place:
    """A folder named by a step argument, and how its files' paths read to the patterns."""

    folder: Location
    hdfs_base: str | None
    """The stand-in's key for ``hdfs:///`` when this place is on HDFS."""

    def path(self, key: str) -> str:
        if self.hdfs_base is None:
            return self.folder.object(key).uri
        return _HDFS + key[len(self.hdfs_base) :]


def _place(uri: str, hdfs_root: Path) -> _Place:
    if uri.startswith("hdfs:"):
        if not uri.startswith(_HDFS):
            raise S3DistCpError(f"s3-dist-cp: only hdfs:///path is available locally, not {uri}")
        root = Location.parse(f"{hdfs_root.resolve()}/")
        return _Place(root.join(uri[len(_HDFS) :]).folder(), root.key)
    try:
        return _Place(Location.parse(uri).folder(), None)
    except ValueError as error:
        raise S3DistCpError(f"s3-dist-cp: {error}") from None


def run_s3_dist_cp(
    args: Sequence[str],
    *,
    hdfs_root: Path,
    scratch_dir: Path | None = None,
    s3: S3Settings | None = None,
    log: logging.Logger | None = None,
    cancel_event: threading.Event | None = None,
    workers: int = 4,
) -> CopyReport:
    """Run one ``s3-dist-cp`` (its arguments without the command) here; see the module docstring.

    Raises ``S3DistCpError`` (``CopyCancelled`` when ``cancel_event`` is set); outputs written
    before an error stay, as S3DistCp leaves them, and sources are then never deleted.
    """
    log = log or logger
    options = parse_args(args)
    src, dest = _place(options.src, hdfs_root), _place(options.dest, hdfs_root)
    src_storage = storage_for(src.folder, s3)
    dest_storage = storage_for(dest.folder, _with_encryption(s3, options.server_side_encryption))
    outputs = plan_outputs(options, _list_sources(src_storage, src))
    if options.lzo_as_gzip:
        log.info("s3-dist-cp: writing gzip for --outputCodec lzo (no native LZO here)")
    with tempfile.TemporaryDirectory(dir=scratch_dir, prefix="s3distcp-") as scratch:
        written = _write_all(
            outputs,
            lambda output, temp: _write_output(
                output, src_storage, dest_storage, dest.folder.join(output.relative), temp
            ),
            Path(scratch),
            workers,
            cancel_event,
        )
    sources = [source for output in outputs for source in output.sources]
    deleted = 0
    if options.delete_on_success:
        kept = src_storage.delete_many([(source.location, source.etag) for source in sources])
        for location in kept:
            log.warning("s3-dist-cp: %s changed after it was copied; kept", location.uri)
        deleted = len(sources) - len(kept)
    report = CopyReport(
        files_in=len(sources),
        files_out=len(written),
        bytes_in=sum(source.size for source in sources),
        bytes_out=sum(info.size for info in written),
        deleted=deleted,
    )
    log.info(
        "s3-dist-cp: %d files (%d bytes) from %s -> %d files (%d bytes) in %s%s",
        report.files_in,
        report.bytes_in,
        options.src,
        report.files_out,
        report.bytes_out,
        options.dest,
        f"; {deleted} sources deleted" if options.delete_on_success else "",
    )
    return report


def _with_encryption(s3: S3Settings | None, encrypt: bool) -> S3Settings | None:
    settings = s3 or S3Settings()
    if not encrypt or settings.server_side_encryption is not None:
        return s3
    return dataclasses.replace(settings, server_side_encryption="AES256")


def _list_sources(storage: Storage, place: _Place) -> Iterator[SourceFile]:
    local = place.folder.scheme == "file"
    for info in storage.list(place.folder):
        name = info.key.rpartition("/")[2]
        if not name or name.endswith("_$folder$"):
            continue  # S3 console folders
        if local and _CHECKSUM_SIDECAR.fullmatch(name):
            continue
        yield SourceFile(
            path=place.path(info.key),
            relative=place.folder.relative(info.key),
            location=place.folder.object(info.key),
            size=info.size,
            etag=info.etag,
        )


def _write_all(
    outputs: list[Output],
    write: Callable[[Output, Path], ObjectInfo],
    scratch: Path,
    workers: int,
    cancel_event: threading.Event | None,
) -> list[ObjectInfo]:
    """Write every output on a few threads; the first error cancels what has not started."""

    def task(index: int, output: Output) -> ObjectInfo:
        if cancel_event is not None and cancel_event.is_set():
            raise CopyCancelled("s3-dist-cp: cancelled")
        return write(output, scratch / str(index))

    with ThreadPoolExecutor(max(1, min(workers, len(outputs)))) as pool:
        futures = [pool.submit(task, index, output) for index, output in enumerate(outputs)]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return [future.result() for future in futures]


def _write_output(
    output: Output, src: Storage, dest: Storage, target: Location, temp: Path
) -> ObjectInfo:
    first = output.sources[0]
    try:
        if output.as_is and first.location.scheme == target.scheme:
            return dest.copy(first.location, target, size=first.size, etag=first.etag)
        size, md5 = _stream(output, src, temp)
        try:
            return _publish(dest, target, temp, size=size, md5=md5)
        finally:
            temp.unlink(missing_ok=True)
    except (*_READ_ERRORS, CopyNotVerified) as error:
        raise S3DistCpError(f"s3-dist-cp: cannot write {target.uri}: {error}") from error


class _HashingWriter:
    """Counts and hashes what goes to the temporary file, so the output is verified without
    reading it back."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)

    def write(self, data: bytes) -> int:
        self.md5.update(data)
        self.size += len(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()


def _stream(output: Output, storage: Storage, temp: Path) -> tuple[int, str]:
    with open(temp, "wb") as file:
        sink = _HashingWriter(file)
        if output.as_is:
            with _open_source(storage, output.sources[0]) as stream:
                shutil.copyfileobj(stream, sink, _CHUNK)
        else:
            # mtime=0: the same inputs always give the same bytes, so a rerun's copy verifies.
            with (
                gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6, mtime=0)  # type: ignore[arg-type]
                if output.codec == "gzip"
                else nullcontext(sink)
            ) as writer:
                for source in output.sources:
                    try:
                        with _open_source(storage, source) as stream:
                            shutil.copyfileobj(_decoded(stream, source), writer, _CHUNK)
                    except _READ_ERRORS as error:
                        raise S3DistCpError(
                            f"s3-dist-cp: cannot read {source.path}: {error}"
                        ) from error
    return sink.size, sink.md5.hexdigest()


def _decoded(stream: BinaryIO, source: SourceFile) -> BinaryIO:
    if source.codec is None:
        return stream
    if source.codec == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    raise S3DistCpError(
        f"s3-dist-cp: cannot decompress {source.path} here ({source.codec} needs native Hadoop "
        "codecs); copy it with its compression kept"
    )


@contextmanager
def _open_source(storage: Storage, source: SourceFile) -> Iterator[BinaryIO]:
    """A stream of exactly the listed object: S3 reads are conditional on its ETag, local reads
    are hashed and checked at the end."""
    location = source.location
    if isinstance(storage, S3Storage):
        try:
            body = storage.client.get_object(
                Bucket=location.bucket, Key=location.key, IfMatch=f'"{source.etag}"'
            )["Body"]
        except ClientError as error:
            raise PreconditionFailed(f"{location.uri} changed or vanished: {error}") from error
        try:
            yield body
        finally:
            body.close()
        return
    with open("/" + location.key, "rb") as file:
        reader = _VerifyingReader(file, source)
        yield reader  # type: ignore[misc]
        reader.finish()


class _VerifyingReader:
    def __init__(self, file: BinaryIO, source: SourceFile) -> None:
        self._file = file
        self._source = source
        self._md5 = hashlib.md5(usedforsecurity=False)

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._md5.update(data)
        return data

    def finish(self) -> None:
        self._md5.update(self._file.read())  # a reader may stop at its format's end
        if self._md5.hexdigest() != self._source.etag:
            raise PreconditionFailed(f"{self._source.location.uri} changed while it was copied")


def _publish(storage: Storage, target: Location, temp: Path, *, size: int, md5: str) -> ObjectInfo:
    """Put the temporary file at ``target`` and prove it is there, byte for byte."""
    if isinstance(storage, LocalStorage):
        return storage.copy(Location.parse(str(temp)), target, size=size, etag=md5)
    assert isinstance(storage, S3Storage)
    settings = storage.settings
    extra: dict[str, object] = {"Metadata": {SOURCE_ETAG_METADATA: md5}}
    if settings.server_side_encryption:
        extra["ServerSideEncryption"] = settings.server_side_encryption
    if settings.kms_key_id:
        extra["SSEKMSKeyId"] = settings.kms_key_id
    storage.client.upload_file(
        str(temp),
        target.bucket,
        target.key,
        ExtraArgs=extra,
        Config=TransferConfig(
            multipart_threshold=settings.multipart_threshold,
            multipart_chunksize=settings.multipart_part_size,
        ),
    )
    info = storage.head(target)
    if info is None or not is_copy_of(info, size, md5):
        raise CopyNotVerified(f"{target.uri} is not the {size} bytes that were written: {info}")
    return info
