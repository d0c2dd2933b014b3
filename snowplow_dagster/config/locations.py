"""Config locations: their canonical spelling, and every pair that may not share data."""

from __future__ import annotations

import os
import re

from snowplow_dagster import storage
from snowplow_dagster.config.errors import ConfigIssue
from snowplow_dagster.storage.conflicts import LocationConflict, check_locations

_BUCKET = re.compile(r"[A-Za-z0-9._-]+")


def normalise_location(value: str) -> str:
    """A location in the storage layer's canonical form: ``s3://bucket/prefix/``, ``file:///path/``.

    EmrEtlRunner appends the trailing ``/``; the storage layer also folds ``s3a``/``s3n`` into
    ``s3`` and plain paths into ``file://``, so two spellings of one place compare equal. Relative
    paths are refused: they would depend on the working directory of whichever process runs a
    step, and a sample's ``ADD HERE`` placeholder would pass as one.
    """
    if value.startswith(storage.S3_SCHEMES):
        if not _BUCKET.fullmatch(value.split("://", 1)[1].partition("/")[0]):
            # Not echoed: ``s3://KEY:SECRET@bucket`` is a way to write credentials.
            raise ValueError("must start with a bucket name (letters, digits, '.', '-', '_')")
        return storage.Location.parse(value).folder().uri
    if not value.startswith(("file:///", "/")):
        raise ValueError(
            f"must be s3://bucket/prefix, file:///absolute/path or an absolute path, got {value!r}"
        )
    # Spelled as given (made absolute); the storage layer and the overlap check use the real path
    # (``Location.parse`` resolves links), and a conflict names both.
    path = os.path.abspath(value.removeprefix("file://")).rstrip("/")
    return f"file://{path}/"


def location_conflicts(located: list[tuple[str, str]]) -> list[ConfigIssue]:
    """Every pair of (key, location) that ``check_locations`` refuses, not only the first.

    Local folders are compared by real path (``Location.parse``), so a link to another location
    is refused as that location, with a note saying which key was given as a link.

    A location on another storage backend is reported once, against the first location, rather
    than against each of the others.
    """
    parsed = [(key, storage.Location.parse(uri)) for key, uri in located]
    spelled = dict(located)
    issues = []
    for i, (key, location) in enumerate(parsed):
        for j, (other_key, other) in enumerate(parsed[:i]):
            if j > 0 and other.scheme != location.scheme:
                continue
            try:
                check_locations({other_key: other, key: location})
            except LocationConflict as conflict:
                links = [
                    f"{name} is given as {spelled[name]}, a symbolic link"
                    for name, real in ((other_key, other), (key, location))
                    if real.folder().uri != spelled[name]
                ]
                issues.append(ConfigIssue(key, "; ".join([str(conflict), *links])))
    return issues
