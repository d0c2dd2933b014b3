"""Log files as the collectors ship them: chunked, gzipped, named from their lines."""

from __future__ import annotations

import random
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import datetime
from gzip import GzipFile
from pathlib import Path
from typing import BinaryIO

from snowplow_dagster.generator.formats import CLOUDFRONT_HEADERS, InputFormat
from snowplow_dagster.generator.lines import DEFAULT_START, generate_records


def write_log_files(
    directory: Path,
    input_format: InputFormat,
    events: int,
    *,
    files: int = 1,
    gzip: bool = True,
    seed: int = 0,
    bad_fraction: float = 0.0,
    instance: str | None = None,
) -> list[Path]:
    """Write ``events`` events as ``files`` consecutive log files, named as the collector does.

    CloudFront: ``<distribution>.<yyyy-MM-dd-HH>.<id>.gz``, each starting with the two header
    lines; Clojure collector: Elastic Beanstalk's rotated
    ``_var_log_tomcat8_rotated_localhost_access_log.txt<epoch>.gz``, under ``instance`` (e.g.
    ``i-0a1b2c3d``) when given, as Beanstalk publishes them. ``directory`` is created if needed.
    """
    if files < 1:
        raise ValueError(f"files must be at least 1, not {files}")
    folder = directory / instance if instance else directory
    folder.mkdir(parents=True, exist_ok=True)
    names = _FileNames(input_format, seed, gzip)
    budgets = [events // files + (index < events % files) for index in range(files)]
    paths: list[Path] = []
    # zlib releases the GIL, so one thread compresses while this one generates lines.
    with ThreadPoolExecutor(max_workers=1) as compressor:
        log = _LogFile(folder / f".{len(paths)}.part", gzip, compressor, names.headers)
        used = 0
        for record in generate_records(input_format, events, seed=seed, bad_fraction=bad_fraction):
            log.write(record.text)
            used += record.events
            if used >= budgets[len(paths)] and len(paths) < files - 1:
                paths.append(log.close(names))
                log = _LogFile(folder / f".{len(paths)}.part", gzip, compressor, names.headers)
                used = 0
        paths.append(log.close(names))
        while len(paths) < files:
            log = _LogFile(folder / f".{len(paths)}.part", gzip, compressor, names.headers)
            paths.append(log.close(names))
    return paths


class _LogFile:
    """One log file being written, in chunks, to a temporary name until its lines name it."""

    _CHUNK_LINES = 2000

    def __init__(
        self, path: Path, gzip: bool, compressor: Executor, headers: tuple[str, ...]
    ) -> None:
        self._path = path
        self._compressor = compressor
        self._file = path.open("wb")
        self._out: BinaryIO = (
            GzipFile(filename="", mode="wb", fileobj=self._file, compresslevel=1, mtime=0)
            if gzip
            else self._file
        )
        self._lines = list(headers)
        self._pending: Future[int] | None = None
        self.first_line: str | None = None
        self.last_line: str | None = None

    def write(self, line: str) -> None:
        if self.first_line is None:
            self.first_line = line
        self.last_line = line
        self._lines.append(line)
        if len(self._lines) >= self._CHUNK_LINES:
            self._flush()

    def close(self, names: _FileNames) -> Path:
        self._flush()
        if self._pending is not None:
            self._pending.result()
        self._out.close()
        self._file.close()
        return self._path.rename(self._path.with_name(names.name(self.first_line, self.last_line)))

    def _flush(self) -> None:
        data = "".join(line + "\n" for line in self._lines).encode("utf-8")
        self._lines = []
        if self._pending is not None:
            self._pending.result()  # at most one chunk in flight: memory stays bounded
        self._pending = self._compressor.submit(self._out.write, data)


class _FileNames:
    """Names files as the collector's log shipping does, from their lines' timestamps."""

    def __init__(self, input_format: InputFormat, seed: int, gzip: bool) -> None:
        self._cloudfront = input_format == "cloudfront"
        self.headers = CLOUDFRONT_HEADERS if self._cloudfront else ()
        self._suffix = ".gz" if gzip else ""
        self._rng = random.Random(f"file-names-{seed}")
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        self._distribution = "E" + "".join(self._rng.choices(letters, k=13))
        self._last_epoch = int(DEFAULT_START.timestamp())

    def name(self, first_line: str | None, last_line: str | None) -> str:
        if self._cloudfront:  # the hour of its first line, and a unique id
            first = _line_epoch(first_line) if first_line else self._last_epoch
            self._last_epoch = max(self._last_epoch, first)
            hour = time.strftime("%Y-%m-%d-%H", time.gmtime(first))
            return f"{self._distribution}.{hour}.{self._rng.getrandbits(32):08x}{self._suffix}"
        # Rotated after its last line, and no two files alike.
        last = _line_epoch(last_line) if last_line else self._last_epoch
        self._last_epoch = max(self._last_epoch + 1, last + 1)
        return f"_var_log_tomcat8_rotated_localhost_access_log.txt{self._last_epoch}{self._suffix}"


def _line_epoch(line: str) -> int:
    """Epoch seconds of a generated line, whose first two fields are its UTC date and time."""
    date, clock = line.split("\t", 2)[:2]
    return int(datetime.fromisoformat(f"{date}T{clock}+00:00").timestamp())
