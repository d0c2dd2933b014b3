"""The local S3DistCp: each option as S3DistCp applies it, on both storage backends and HDFS."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import boto3
import pytest

from snowplow_dagster.engines.local.s3distcp import (
    CopyCancelled,
    CopyReport,
    S3DistCpError,
    parse_args,
    run_s3_dist_cp,
)
from snowplow_dagster.engines.steps import PART_GROUP_BY
from snowplow_dagster_tests.fixtures.s3 import Backend


def hdfs_files(tmp_path: Path, folder: str) -> dict[str, bytes]:
    root = tmp_path / "hdfs" / folder
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def copy(tmp_path: Path, src: str, dest: str, *options: str, **kwargs: object) -> CopyReport:
    return run_s3_dist_cp(
        ["--src", src, "--dest", dest, *options],
        hdfs_root=tmp_path / "hdfs",
        scratch_dir=tmp_path,
        **kwargs,
    )


def lines(count: int, tag: str) -> bytes:
    return "".join(f"{tag} line {i}\n" for i in range(count)).encode()


def test_plain_copy_keeps_paths_and_bytes_both_ways(backend: Backend, tmp_path: Path) -> None:
    files = {"a.gz": gzip.compress(b"a\n"), "i-1/b.txt": b"b\n", "i-1/empty": b""}
    for name, data in files.items():
        backend.put(f"in/{name}", data)

    to_hdfs = copy(tmp_path, backend.location("in/").uri, "hdfs:///raw/")
    back = copy(tmp_path, "hdfs:///raw", backend.location("out/").uri)
    across = copy(tmp_path, backend.location("in").uri, f"{backend.root}o2/")

    assert hdfs_files(tmp_path, "raw") == files
    assert backend.objects("out/") == {f"out/{name}": data for name, data in files.items()}
    assert backend.objects("o2/") == {f"o2/{name}": data for name, data in files.items()}
    size = sum(map(len, files.values()))
    assert to_hdfs == back == across == CopyReport(3, 3, size, size, deleted=0)
    assert backend.objects("in/").keys() == {f"in/{name}" for name in files}


def test_src_pattern_is_a_full_match_on_the_whole_path(backend: Backend, tmp_path: Path) -> None:
    for name in ("i-1/localhost_access_log.txt1.gz", "i-2/localhost_access_log.txt2", "i-1/x.gz"):
        backend.put(f"in/{name}", name.encode())
    src = backend.location("in/").uri

    copy(tmp_path, src, "hdfs:///a/", "--srcPattern", r".*localhost\_access\_log.*\.txt.*")
    copy(tmp_path, src, "hdfs:///b/", "--srcPattern", f"{src}i-1/.*")

    assert sorted(hdfs_files(tmp_path, "a")) == [
        "i-1/localhost_access_log.txt1.gz",
        "i-2/localhost_access_log.txt2",
    ]
    assert sorted(hdfs_files(tmp_path, "b")) == ["i-1/localhost_access_log.txt1.gz", "i-1/x.gz"]
    with pytest.raises(S3DistCpError, match=r"no file under .* matches --srcPattern i-1/.*"):
        copy(tmp_path, src, "hdfs:///c/", "--srcPattern", "i-1/.*")


CLOUDFRONT_GROUP_BY = r".*([0-9]+-[0-9]+-[0-9]+)-[0-9]+.*"
"""EmrEtlRunner's one group per day of CloudFront logs (sp#207), no longer in our step list."""


def test_group_by_day_concatenates_cloudfront_logs_as_gzip_for_lzo(
    backend: Backend, tmp_path: Path
) -> None:
    logs = {
        "E1.2026-11-21-10.aaa.gz": lines(3, "a"),
        "E1.2026-11-21-11.bbb.gz": lines(2, "b"),
        "i-1/E1.2026-11-22-00.ccc.gz": lines(4, "c"),
    }
    for name, data in logs.items():
        backend.put(f"in/{name}", gzip.compress(data))
    backend.put("in/README", b"not a log")

    report = copy(
        tmp_path, backend.location("in/").uri, "hdfs:///raw/",
        "--groupBy", CLOUDFRONT_GROUP_BY,
        "--targetSize", "128",
        "--outputCodec", "lzo",
    )  # fmt: skip

    # Java's greedy ``.*`` leaves the day's key its year's last digit only; so does Python's.
    written = hdfs_files(tmp_path, "raw")
    assert sorted(written) == ["6-11-21.gz", "i-1/6-11-22.gz"]
    assert gzip.decompress(written["6-11-21.gz"]) == lines(3, "a") + lines(2, "b")
    assert gzip.decompress(written["i-1/6-11-22.gz"]) == lines(4, "c")
    assert (report.files_in, report.files_out) == (3, 2)


def test_group_by_joins_files_byte_for_byte_as_s3distcp_does(
    backend: Backend, tmp_path: Path
) -> None:
    """Faithful to S3DistCp, a file without a final newline runs into the next one: why the raw
    copy of our step list never groups (see ``steps._raw_copy_extras``)."""
    backend.put("in/E1.2026-11-21-10.aaa", b"a1\na2")
    backend.put("in/E1.2026-11-21-10.bbb", b"b1\n")

    copy(tmp_path, backend.location("in/").uri, "hdfs:///raw/", "--groupBy", CLOUDFRONT_GROUP_BY)

    assert hdfs_files(tmp_path, "raw") == {"6-11-21": b"a1\na2b1\n"}


def test_target_size_splits_a_group_into_numbered_files(backend: Backend, tmp_path: Path) -> None:
    parts = [lines(50_000, f"f{i}")[:600_000] for i in range(5)]
    for i, data in enumerate(parts):
        backend.put(f"in/app-{i}.log", data)

    copy(
        tmp_path, backend.location("in/").uri, "hdfs:///out/",
        "--groupBy", r".*/(app)-\d+\.log",
        "--targetSize", "1",
    )  # fmt: skip

    # A file is closed once its inputs reach 1 MB: 2 x 600 kB, 2 x 600 kB, then the rest.
    assert hdfs_files(tmp_path, "out") == {
        "app": parts[0] + parts[1],
        "app-1": parts[2] + parts[3],
        "app-2": parts[4],
    }


def test_output_codec_none_decompresses_and_drops_the_extension(
    backend: Backend, tmp_path: Path
) -> None:
    backend.put("in/i-1/localhost_access_log.txt1.gz", gzip.compress(lines(5, "x")))
    backend.put("in/i-1/localhost_access_log.txt2", lines(2, "y"))

    copy(tmp_path, backend.location("in/").uri, "hdfs:///raw/", "--outputCodec", "none")

    assert hdfs_files(tmp_path, "raw") == {
        "i-1/localhost_access_log.txt1": lines(5, "x"),
        "i-1/localhost_access_log.txt2": lines(2, "y"),
    }


def test_enriched_parts_are_gzipped_into_one_file_and_success_copied_apart(
    backend: Backend, tmp_path: Path
) -> None:
    enriched = tmp_path / "hdfs" / "enriched"
    enriched.mkdir(parents=True)
    (enriched / "part-00000-5f2c-c000.txt").write_bytes(lines(4, "p0"))
    (enriched / "part-00001-5f2c-c000.txt").write_bytes(lines(3, "p1"))
    (enriched / "_SUCCESS").write_bytes(b"")
    good = backend.location("good/run=1/").uri

    copy(
        tmp_path, "hdfs:///enriched/", good,
        "--groupBy", PART_GROUP_BY,
        "--targetSize", "24",
        "--outputCodec", "gz",
    )  # fmt: skip
    data_only = backend.objects("good/")
    copy(tmp_path, "hdfs:///enriched/", good, "--srcPattern", ".*_SUCCESS")

    assert list(data_only) == ["good/run=1/part-5f2c-c000.txt.gz"]
    events = gzip.decompress(data_only["good/run=1/part-5f2c-c000.txt.gz"])
    assert events == lines(4, "p0") + lines(3, "p1")
    assert backend.objects("good/") == {**data_only, "good/run=1/_SUCCESS": b""}


def test_keeping_compression_refuses_a_group_of_mixed_codecs(
    backend: Backend, tmp_path: Path
) -> None:
    backend.put("in/a.gz", gzip.compress(b"a"))
    backend.put("in/b", b"b")

    with pytest.raises(S3DistCpError, match="compressed differently"):
        copy(tmp_path, backend.location("in/").uri, "hdfs:///x/", "--groupBy", ".*/(in)/.*")


def test_delete_on_success_removes_sources_once_all_are_copied(
    backend: Backend, tmp_path: Path
) -> None:
    for name in ("a.gz", "i-1/b.gz", "i-2/c.gz"):
        backend.put(f"processing/{name}", gzip.compress(name.encode()))

    report = copy(
        tmp_path, backend.location("processing/").uri, "hdfs:///raw/",
        "--outputCodec", "none",
        "--deleteOnSuccess",
    )  # fmt: skip

    assert report.deleted == 3
    assert backend.objects("processing/") == {}
    assert hdfs_files(tmp_path, "raw") == {"a": b"a.gz", "i-1/b": b"i-1/b.gz", "i-2/c": b"i-2/c.gz"}


def test_a_failed_copy_deletes_no_source(backend: Backend, tmp_path: Path) -> None:
    backend.put("processing/a.gz", gzip.compress(b"fine"))
    backend.put("processing/b.gz", b"not gzip at all")

    with pytest.raises(S3DistCpError, match=r"cannot read .*/processing/b.gz: Not a gzipped file"):
        copy(
            tmp_path, backend.location("processing/").uri, "hdfs:///raw/",
            "--outputCodec", "none",
            "--deleteOnSuccess",
            "--groupBy", ".*/(processing)/.*",
        )  # fmt: skip

    assert sorted(backend.objects("processing/")) == ["processing/a.gz", "processing/b.gz"]


def test_nothing_to_copy_is_an_error(backend: Backend, tmp_path: Path) -> None:
    with pytest.raises(S3DistCpError, match=r"no file under .* the folder is empty or missing"):
        copy(tmp_path, backend.location("none/").uri, "hdfs:///x/")


def test_two_sources_for_one_output_are_refused(backend: Backend, tmp_path: Path) -> None:
    backend.put("in/log", b"plain")
    backend.put("in/log.gz", gzip.compress(b"zipped"))

    with pytest.raises(S3DistCpError, match="would both be written to log"):
        copy(tmp_path, backend.location("in/").uri, "hdfs:///x/", "--outputCodec", "none")

    assert not (tmp_path / "hdfs" / "x").exists()


def test_server_side_encryption_on_every_s3_write(s3_bucket: str, tmp_path: Path) -> None:
    hdfs = tmp_path / "hdfs" / "enriched"
    hdfs.mkdir(parents=True)
    (hdfs / "part-00000-a").write_bytes(b"event\n")
    s3 = boto3.client("s3")
    s3.put_object(Bucket=s3_bucket, Key="in/raw.gz", Body=gzip.compress(b"raw\n"))
    encrypted = ("--s3Endpoint", "s3-eu-west-1.amazonaws.com", "--s3ServerSideEncryption")

    copy(tmp_path, "hdfs:///enriched/", f"s3://{s3_bucket}/good/", *encrypted)
    copy(tmp_path, f"s3://{s3_bucket}/in/", f"s3://{s3_bucket}/out/", *encrypted)

    for key in ("good/part-00000-a", "out/raw.gz"):
        assert s3.head_object(Bucket=s3_bucket, Key=key)["ServerSideEncryption"] == "AES256"


def test_hadoop_checksum_sidecars_are_not_files_of_hdfs(tmp_path: Path) -> None:
    enriched = tmp_path / "hdfs" / "enriched"
    enriched.mkdir(parents=True)
    (enriched / "part-00000").write_bytes(b"x\n")
    (enriched / ".part-00000.crc").write_bytes(b"crc")

    copy(tmp_path, "hdfs:///enriched/", "hdfs:///copy/")

    assert hdfs_files(tmp_path, "copy") == {"part-00000": b"x\n"}


def test_a_set_cancel_event_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "hdfs" / "in").mkdir(parents=True)
    (tmp_path / "hdfs" / "in" / "a").write_bytes(b"a")
    cancel = threading.Event()
    cancel.set()

    with pytest.raises(CopyCancelled):
        copy(tmp_path, "hdfs:///in/", "hdfs:///out/", cancel_event=cancel)

    assert not (tmp_path / "hdfs" / "out").exists()


def test_options_take_either_spelling() -> None:
    options = parse_args(["--src=s3://a/in", "--dest", "hdfs:///x/", "--outputCodec=LZO"])

    assert (options.src, options.output_codec, options.lzo_as_gzip) == ("s3://a/in", "gzip", True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--src", "s3://a/", "--dest", "hdfs:///x/", "--outputManifest", "m.gz"], "unrecognized"),
        (["--src", "s3://a/", "--dest", "hdfs:///x/", "--outputCodec", "snappy"], "snappy"),
        (["--src", "s3://a/", "--dest", "hdfs:///x/", "--groupBy", ".*"], "capture group"),
        (["--src", "s3://a/", "--dest", "hdfs:///x/", "--targetSize", "0"], "positive"),
        (["--src", "s3://a/"], "--dest"),
    ],
)
def test_arguments_it_cannot_honour_are_refused(args: list[str], message: str) -> None:
    with pytest.raises(S3DistCpError, match=message):
        parse_args(args)


def test_hdfs_with_a_namenode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(S3DistCpError, match="only hdfs:///path"):
        copy(tmp_path, "hdfs://namenode:8020/x/", "hdfs:///y/")
