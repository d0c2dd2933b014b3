"""What only the local backend has: hidden temporary files, plain paths only."""

from __future__ import annotations

import pytest

from snowplow_dagster.storage import LocalStorage, Location


def test_local_temporary_files_are_not_listed(tmp_path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / ".snowplow-dagster-tmp-abc").write_bytes(b"half written")
    (tmp_path / "in" / "a.gz").write_bytes(b"a")
    listed = [info.key for info in LocalStorage().list(Location.parse(f"{tmp_path}/in/"))]
    assert listed == [f"{tmp_path}/in/a.gz"[1:]]


def test_local_refuses_keys_that_are_not_plain_paths(tmp_path) -> None:
    with pytest.raises(ValueError, match="plain path"):
        LocalStorage().write(Location("file", "", f"{tmp_path}/a/../b"[1:]), b"x")


def test_local_listing_without_etags_reads_no_file(tmp_path) -> None:
    # An ETag is an MD5 of the whole file: a listing for names and sizes must not pay for it.
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "part-00000").write_bytes(b"x" * 10)
    folder = Location.parse(f"{tmp_path}/out/")
    (info,) = LocalStorage().list(folder, etags=False)
    assert (info.size, info.etag) == (10, "")
