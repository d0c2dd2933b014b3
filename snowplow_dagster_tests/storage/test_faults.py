"""S3 errors injected at the HTTP boundary (500, 503 SlowDown, connection reset, lost responses):
retried where S3 asks for it, and after a failure that outlasts the retries a rerun still ends with
every manifest object in exactly one place."""

from __future__ import annotations

import pytest

from snowplow_dagster.batches.claiming import claim, staged_path
from snowplow_dagster.batches.manifest import BatchState, ManifestStore
from snowplow_dagster.batches.moves import archive_batch, stage_batch
from snowplow_dagster.storage import Location, S3Settings, S3Storage
from snowplow_dagster_tests.storage.helpers import S3Faults, sample_files, settings_for

ERRORS = ["500", "503", "reset"]


def _put_all(storage: S3Storage, bucket: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        storage.client.put_object(Bucket=bucket, Key=f"in/{name}", Body=data)


def _everything(storage: S3Storage, bucket: str) -> dict[str, bytes]:
    pages = storage.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = [item["Key"] for page in pages for item in page.get("Contents", ())]
    return {
        key: storage.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        for key in keys
        if not key.startswith("manifests/")
    }


@pytest.mark.parametrize("error", ERRORS)
def test_transient_errors_are_retried_on_every_operation(s3_bucket: str, error: str) -> None:
    # Standard retries here: after a SlowDown the adaptive client paces itself to the tiny request
    # rate of a test and the test takes many seconds; the next test covers the adaptive default.
    storage = S3Storage(S3Settings(retry_mode="standard"))
    files = sample_files(20)
    _put_all(storage, s3_bucket, files)
    faults = S3Faults(storage.client)
    for operation, times in [
        ("ListObjectsV2", 1),
        ("GetObject", 1),
        ("PutObject", 2),
        ("CopyObject", 3),
        ("HeadObject", 1),
        ("DeleteObjects", 1),
    ]:
        faults.fail(operation, error, after=1, times=times)
    settings = settings_for(Location("s3", s3_bucket, ""))

    [manifest] = claim(storage, settings)
    stage_batch(storage, settings, manifest.batch_id)
    archive_batch(storage, settings, manifest.batch_id)

    assert faults.injected >= 8
    assert _everything(storage, s3_bucket) == {
        f"archive/raw/run={manifest.batch_id}/{staged_path(name)}": data
        for name, data in files.items()
    }


def test_the_default_adaptive_client_rides_out_slowdown(s3_bucket: str) -> None:
    storage = S3Storage()
    _put_all(storage, s3_bucket, {"a.gz": b"a"})
    faults = S3Faults(storage.client)
    for operation in ("CopyObject", "DeleteObjects"):
        faults.fail(operation, "503", times=1)
    settings = settings_for(Location("s3", s3_bucket, ""))
    [manifest] = claim(storage, settings)

    stage_batch(storage, settings, manifest.batch_id)

    assert faults.injected == 2
    assert _everything(storage, s3_bucket) == {f"processing/run={manifest.batch_id}/a.gz": b"a"}


@pytest.mark.parametrize("error", [*ERRORS, "403"])
@pytest.mark.parametrize("step", ["stage", "archive"])
def test_errors_beyond_the_retries_then_a_rerun(s3_bucket: str, error: str, step: str) -> None:
    settings = settings_for(Location("s3", s3_bucket, ""))
    storage = S3Storage()
    files = sample_files(16)
    _put_all(storage, s3_bucket, files)
    [manifest] = claim(storage, settings)
    if step == "archive":
        stage_batch(storage, settings, manifest.batch_id)
    run = stage_batch if step == "stage" else archive_batch

    # Standard retries: the adaptive client's slow-down after SlowDown only makes this test slow.
    failing = S3Storage(S3Settings(retry_mode="standard", max_attempts=2))
    S3Faults(failing.client).fail("CopyObject", error, after=6)
    with pytest.raises(Exception):  # noqa: B017 (botocore's error for each kind differs)
        run(failing, settings, manifest.batch_id, workers=4)
    folder = "processing/" if step == "stage" else "archive/raw/"
    landed = [k for k in _everything(storage, s3_bucket) if k.startswith(folder)]
    assert len(landed) == 6

    report = run(storage, settings, manifest.batch_id)

    assert (report.copied, report.already_there) == (10, 6)
    assert _everything(storage, s3_bucket) == {
        f"{folder}run={manifest.batch_id}/{staged_path(name)}": data for name, data in files.items()
    }


def test_a_commit_whose_response_was_lost_still_counts(s3_bucket: str) -> None:
    """The pending index was replaced but the answer never came; the retried conditional write is
    refused (the index changed: by us). The pass must see its own commit, not discard it."""
    storage = S3Storage()
    _put_all(storage, s3_bucket, {"a.gz": b"a"})
    faults = S3Faults(storage.client)
    faults.lose_response("PutObject", when=lambda request: "pending.json" in request.url)
    settings = settings_for(Location("s3", s3_bucket, ""))

    [manifest] = claim(storage, settings)

    assert faults.injected == 1
    store = ManifestStore(storage, settings.manifests)
    assert store.load(manifest.batch_id) == manifest
    assert store.state(manifest.batch_id) is BatchState.PENDING
    stage_batch(storage, settings, manifest.batch_id)
    assert _everything(storage, s3_bucket) == {f"processing/run={manifest.batch_id}/a.gz": b"a"}


@pytest.mark.parametrize("operation", ["CopyObject", "DeleteObjects"])
def test_a_move_whose_response_was_lost_is_not_repeated_wrongly(
    s3_bucket: str, operation: str
) -> None:
    storage = S3Storage()
    files = sample_files(6)
    _put_all(storage, s3_bucket, files)
    settings = settings_for(Location("s3", s3_bucket, ""))
    [manifest] = claim(storage, settings)
    S3Faults(storage.client).lose_response(operation, when=lambda request: True)

    stage_batch(storage, settings, manifest.batch_id)

    assert _everything(storage, s3_bucket) == {
        f"processing/run={manifest.batch_id}/{staged_path(name)}": data
        for name, data in files.items()
    }
