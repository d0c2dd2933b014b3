"""A staging or archiving process killed with SIGKILL mid-way; the rerun finishes the job with every
manifest object in exactly one place, byte for byte."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from snowplow_dagster.batches.claiming import claim, staged_path
from snowplow_dagster.batches.manifest import BatchState, ManifestStore
from snowplow_dagster.batches.moves import archive_batch, stage_batch
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.storage.helpers import sample_files, settings_for

REPOSITORY = Path(__file__).resolve().parents[2]
FILES = 40


def _kill_at_pause(backend: Backend, step: str, batch: str, pause_at: str, after: int) -> None:
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "snowplow_dagster_tests.batches.crash_worker",
            backend.root.uri,
            step,
            batch,
            pause_at,
            str(after),
            "4",
        ],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # A safety net only: the worker pauses within a second or two.
        readable, _, _ = select.select([worker.stdout], [], [], 120)
        line = worker.stdout.readline() if readable else b""
    finally:
        worker.send_signal(signal.SIGKILL)
        _, errors = worker.communicate()
    assert line == b"paused\n", errors.decode()
    assert worker.returncode == -signal.SIGKILL


@pytest.mark.parametrize("pause_at", ["copy", "delete"])
@pytest.mark.parametrize("step", ["stage", "archive"])
def test_sigkill_mid_step_then_rerun(backend: Backend, step: str, pause_at: str) -> None:
    files = sample_files(FILES)
    for name, data in files.items():
        backend.put(f"in/{name}", data)
    settings = settings_for(backend.root)
    [manifest] = claim(backend.storage, settings)
    batch = manifest.batch_id
    if step == "archive":
        stage_batch(backend.storage, settings, batch)
    source, target = ("in/", "processing/") if step == "stage" else ("processing/", "archive/raw/")

    _kill_at_pause(backend, step, batch, pause_at, after=5 if pause_at == "copy" else 1)

    store = ManifestStore(backend.storage, settings.manifests)
    interrupted = BatchState.PENDING if step == "stage" else BatchState.STAGED
    assert store.state(batch) is interrupted
    landed = len(backend.objects(target))
    if pause_at == "copy":
        assert 5 <= landed < FILES
    else:
        assert landed == FILES
    assert len(backend.objects(source)) >= FILES - landed

    run = stage_batch if step == "stage" else archive_batch
    report = run(backend.storage, settings, batch)

    assert backend.objects(source) == {}
    assert backend.objects(target) == {
        f"{target}run={batch}/{staged_path(name)}": data for name, data in files.items()
    }
    assert (report.files, report.copied + report.already_there) == (FILES, FILES)
    assert report.already_there == landed
    assert store.state(batch) is (BatchState.STAGED if step == "stage" else BatchState.ARCHIVED)
