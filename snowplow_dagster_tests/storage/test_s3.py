"""What only the S3 backend has: settings, the standard endpoint configuration, stamped and
multipart copies, server-side encryption (moto over HTTP)."""

from __future__ import annotations

import os

import pytest

from snowplow_dagster.storage import (
    SOURCE_ETAG_METADATA,
    Location,
    PreconditionFailed,
    S3Settings,
    S3Storage,
    is_copy_of,
)
from snowplow_dagster_tests.storage.helpers import enforce_bulk_delete_conditions, md5

MiB = 1024 * 1024


@pytest.mark.parametrize(
    "settings",
    [
        {"server_side_encryption": "aws:kmz"},
        {"kms_key_id": "alias/x"},
        {"multipart_threshold": 6 * 1024**3},
        {"multipart_part_size": MiB},
    ],
)
def test_s3_settings_refuse_nonsense(settings: dict) -> None:
    with pytest.raises(ValueError):
        S3Settings(**settings)


def test_s3_endpoint_comes_from_the_standard_configuration(
    s3_bucket: str, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AWS_ENDPOINT_URL_S3`` wins over ``AWS_ENDPOINT_URL``, as in every AWS SDK."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    storage = S3Storage(S3Settings(max_attempts=1))
    assert list(storage.list(Location("s3", s3_bucket, ""))) == []


def test_s3_stamped_copies_are_deleted_on_their_source_etag(s3_bucket: str) -> None:
    """A multipart copy has an ETag of its own; deleting it "if it is still the object with
    the original ETag" must still work, in bulk and alone, and must refuse anything else."""
    storage = S3Storage(S3Settings(multipart_threshold=5 * MiB, multipart_part_size=5 * MiB))
    enforce_bulk_delete_conditions(storage.client)
    root = Location("s3", s3_bucket, "")
    data = os.urandom(6 * MiB)
    storage.write(root.join("original"), data)
    for name in ("copy-1", "copy-2"):
        storage.copy(root.join("original"), root.join(name), size=len(data), etag=md5(data))
    other = storage.write(root.join("other"), b"x")

    assert storage.delete_many([(root.join("copy-1"), md5(data))]) == []
    with pytest.raises(PreconditionFailed):
        storage.delete(root.join("copy-2"), if_match=other)
    storage.delete(root.join("copy-2"), if_match=md5(data))
    assert sorted(info.key for info in storage.list(root)) == ["original", "other"]


def test_s3_multipart_copy_above_the_threshold(s3_bucket: str) -> None:
    """The > 5 GB path, exercised with a 5 MiB threshold: parts copied, stamped, verified."""
    storage = S3Storage(S3Settings(multipart_threshold=5 * MiB, multipart_part_size=5 * MiB))
    parts: list[str] = []
    storage.client.meta.events.register(
        "before-send.s3.UploadPartCopy", lambda request, **_: parts.append(request.url)
    )
    data = os.urandom(12 * MiB + 3)
    storage.client.put_object(
        Bucket=s3_bucket, Key="in/big.gz", Body=data, ContentType="application/gzip"
    )
    root = Location("s3", s3_bucket, "")
    copied = storage.copy(
        root.join("in/big.gz"), root.join("out/big.gz"), size=len(data), etag=md5(data)
    )

    assert len(parts) == 3
    assert copied.source_etag == md5(data) and copied.etag.endswith("-3")
    assert is_copy_of(copied, len(data), md5(data))
    result = storage.client.get_object(Bucket=s3_bucket, Key="out/big.gz")
    assert result["Body"].read() == data
    assert result["ContentType"] == "application/gzip"


def test_s3_copy_of_a_multipart_uploaded_source_is_stamped(s3_bucket: str) -> None:
    """A source uploaded in parts has an ETag no single copy reproduces; the stamp carries it."""
    storage = S3Storage()
    client = storage.client
    data = os.urandom(11 * MiB)
    upload = client.create_multipart_upload(
        Bucket=s3_bucket, Key="in/parts.gz", Metadata={"a": "b"}
    )
    etags = [
        client.upload_part(
            Bucket=s3_bucket,
            Key="in/parts.gz",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=chunk,
        )["ETag"]
        for number, chunk in enumerate([data[: 6 * MiB], data[6 * MiB :]], start=1)
    ]
    client.complete_multipart_upload(
        Bucket=s3_bucket,
        Key="in/parts.gz",
        UploadId=upload["UploadId"],
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]
        },
    )
    root = Location("s3", s3_bucket, "")
    source = storage.head(root.join("in/parts.gz"))
    assert source.etag.endswith("-2")

    copied = storage.copy(
        root.join("in/parts.gz"), root.join("out/parts.gz"), size=len(data), etag=source.etag
    )
    assert copied.etag != source.etag and copied.source_etag == source.etag
    head = client.head_object(Bucket=s3_bucket, Key="out/parts.gz")
    assert head["Metadata"] == {"a": "b", SOURCE_ETAG_METADATA: source.etag}
    assert client.get_object(Bucket=s3_bucket, Key="out/parts.gz")["Body"].read() == data


@pytest.mark.parametrize("encryption", ["AES256", "aws:kms"])
def test_s3_server_side_encryption_on_writes_and_copies(s3_bucket: str, encryption: str) -> None:
    storage = S3Storage(S3Settings(server_side_encryption=encryption))
    root = Location("s3", s3_bucket, "")
    etag = storage.write(root.join("in/a.gz"), b"secret")
    storage.copy(root.join("in/a.gz"), root.join("out/a.gz"), size=6, etag=etag)
    for key in ("in/a.gz", "out/a.gz"):
        assert (
            storage.client.head_object(Bucket=s3_bucket, Key=key)["ServerSideEncryption"]
            == encryption
        )
    assert storage.client.get_object(Bucket=s3_bucket, Key="out/a.gz")["Body"].read() == b"secret"
