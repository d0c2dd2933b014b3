"""Configured locations must be disjoint before anything moves."""

from __future__ import annotations

import pytest

from snowplow_dagster.storage import Location
from snowplow_dagster.storage.conflicts import LocationConflict, check_locations


def _check(**uris: str) -> None:
    check_locations({name.replace("_", "."): Location.parse(uri) for name, uri in uris.items()})


def test_disjoint_locations_pass() -> None:
    _check(
        raw_in="s3://acme-collector/logs/",
        raw_processing="s3://acme-etl/processing/",
        raw_archive="s3://acme-archive/raw/",
        enriched_good="s3://acme-etl/enriched/good/",
        enriched_archive="s3://acme-archive/enriched/",
        manifests="s3://acme-etl/manifests/",
    )
    _check(raw_in="/data/in/", raw_processing="/data/processing/", raw_archive="/data/in-archive/")


@pytest.mark.parametrize(
    ("uris", "keys", "message"),
    [
        (
            {"raw_in": "s3://etl/", "raw_processing": "s3://etl/processing/"},
            ("raw.in", "raw.processing"),
            "raw.processing (s3://etl/processing/) is inside raw.in (s3://etl/)",
        ),
        (
            {
                "raw_processing": "s3://etl/processing/archive/",
                "raw_archive": "s3://etl/processing",
            },
            ("raw.processing", "raw.archive"),
            "raw.processing (s3://etl/processing/archive/) is inside raw.archive",
        ),
        (
            {"raw_in": "s3://etl/in", "raw_archive": "s3a://etl/in/"},
            ("raw.in", "raw.archive"),
            "are the same location",
        ),
        (
            {"raw_in": "file:///data/in/", "raw_archive": "/data/in/archive"},
            ("raw.in", "raw.archive"),
            "raw.archive (file:///data/in/archive/) is inside raw.in",
        ),
        (
            {"raw_in": "s3://etl/in/", "raw_archive": "/data/archive/"},
            ("raw.in", "raw.archive"),
            "different storage backends",
        ),
    ],
)
def test_clashing_locations_name_both_keys(
    uris: dict[str, str], keys: tuple[str, str], message: str
) -> None:
    with pytest.raises(LocationConflict) as raised:
        _check(**uris)
    assert raised.value.keys == keys
    assert message in str(raised.value)


def test_a_shared_name_prefix_is_not_nesting() -> None:
    """``in`` and ``in-archive`` share characters, not a folder."""
    _check(raw_in="s3://etl/in", raw_archive="s3://etl/in-archive")
