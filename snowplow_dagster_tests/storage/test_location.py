"""Locations: parsing every accepted spelling, refusing the rest, deriving keys."""

from __future__ import annotations

import os

import pytest

from snowplow_dagster.storage import Location


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/raw/in/", Location("s3", "bucket", "raw/in/")),
        ("s3a://bucket/raw", Location("s3", "bucket", "raw")),
        ("s3n://bucket", Location("s3", "bucket", "")),
        ("file:///data/raw/in/", Location("file", "", "data/raw/in/")),
        ("/data/raw/../in", Location("file", "", "data/in")),
        ("/", Location("file", "", "")),
    ],
)
def test_location_parse(uri: str, expected: Location) -> None:
    assert Location.parse(uri) == expected


def test_location_plain_relative_path_is_made_absolute() -> None:
    assert Location.parse("raw/in/") == Location.parse(os.path.join(os.getcwd(), "raw/in/"))


@pytest.mark.parametrize("uri", ["s3://", "s3:///key", "gs://bucket/x", "file://host/path"])
def test_location_parse_refuses(uri: str) -> None:
    with pytest.raises(ValueError, match=r"bucket|unsupported|not a local"):
        Location.parse(uri)


def test_location_paths() -> None:
    raw = Location.parse("s3://bucket/raw/in")
    assert raw.folder().uri == "s3://bucket/raw/in/"
    assert raw.join("i-1/a.gz").uri == "s3://bucket/raw/in/i-1/a.gz"
    assert raw.relative("raw/in/i-1/a.gz") == "i-1/a.gz"
    with pytest.raises(ValueError, match="not under"):
        raw.relative("raw/inx/a.gz")
    assert Location.parse("file:///tmp/x/").join("a b.gz").uri == "file:///tmp/x/a b.gz"
