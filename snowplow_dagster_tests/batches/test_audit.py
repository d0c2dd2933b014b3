"""The archive audit on both backends: it passes an archived batch and names each kind of fault."""

from __future__ import annotations

from snowplow_dagster.batches.audit import archive_problems
from snowplow_dagster.batches.claiming import claim
from snowplow_dagster.batches.manifest import Manifest
from snowplow_dagster.batches.moves import archive_batch, stage_batch
from snowplow_dagster.storage import Location
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.storage.helpers import settings_for

FILES = {name: f"{name} line\n".encode() * 3 for name in ("a.gz", "b.gz", "c.gz", "d.gz")}


def _archived(backend: Backend) -> tuple[Manifest, Location, Location]:
    for name, data in FILES.items():
        backend.put(f"in/{name}", data)
    settings = settings_for(backend.root)
    [manifest] = claim(backend.storage, settings)
    stage_batch(backend.storage, settings, manifest.batch_id)
    archive_batch(backend.storage, settings, manifest.batch_id)
    return manifest, settings.archive, settings.processing


def test_an_archived_batch_has_no_problems(backend: Backend) -> None:
    manifest, archive, processing = _archived(backend)

    problems = archive_problems(backend.storage, manifest, archive, processing)

    assert problems == {"missing": [], "different": [], "left_in_processing": [], "unexpected": []}


def test_each_fault_is_named_by_its_path_under_the_run_folder(backend: Backend) -> None:
    manifest, archive, processing = _archived(backend)
    run = f"run={manifest.batch_id}"
    backend.storage.delete(backend.location(f"archive/raw/{run}/a.gz"))
    backend.put(f"archive/raw/{run}/b.gz", FILES["b.gz"].upper())  # same size, other bytes
    backend.put(f"archive/raw/{run}/c.gz", FILES["c.gz"] + b"more\n")
    backend.put(f"archive/raw/{run}/late.gz", b"not in the manifest")
    backend.put(f"processing/{run}/d.gz", FILES["d.gz"])  # archived, yet still in processing

    problems = archive_problems(backend.storage, manifest, archive, processing)

    assert problems == {
        "missing": ["a.gz"],
        "different": ["b.gz", "c.gz"],
        "left_in_processing": ["d.gz"],
        "unexpected": ["late.gz"],
    }
