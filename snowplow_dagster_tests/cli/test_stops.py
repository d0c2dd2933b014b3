"""A ``run`` killed in any step, or stopped by a signal at any point, leaves nothing held: the
``emr`` pool of the bundled ``dagster.yaml`` (one slot) has no slot of a dead or ended run, the
next ``run`` finishes in its normal time, and a pass waiting for a slot sleeps and stops on
SIGTERM."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from snowplow_dagster.cli import main
from snowplow_dagster.constants import EMR_POOL
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster_tests.cli.helpers import LineCountingEngine, run_args
from snowplow_dagster_tests.cli.test_run import (
    REPO,
    assert_batch_done_once,
    put_logs,
    wait_for_step,
)
from snowplow_dagster_tests.fixtures.s3 import Backend

RESUME_SECONDS = 180
"""A resumed pass of three small files takes seconds (most of it loading Dagster); a pass stuck
on a slot never ends."""


@pytest.fixture
def instance(dagster_home: Path) -> Iterator[dg.DagsterInstance]:
    """The instance with the bundled settings: the ``emr`` pool has one slot."""
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    with dg.DagsterInstance.get() as opened:
        yield opened


def start_pass(config: Path, tmp_path: Path, *hang: str) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "snowplow_dagster_tests.cli.hanging_pass",
        *hang,
        *run_args(config),
    ]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
    )


def slots(instance: dg.DagsterInstance) -> tuple[set[str], set[str]]:
    """Run ids holding, and waiting for, a slot of the pool."""
    info = instance.event_log_storage.get_concurrency_info(EMR_POOL)
    return info.active_run_ids, {step.run_id for step in info.pending_steps}


@pytest.mark.parametrize("step", ["raw_logs", "staged_logs", "enriched_events", "archived_logs"])
def test_a_run_killed_in_any_step_holds_no_slot_and_the_next_run_finishes_it(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    instance: dg.DagsterInstance,
    step: str,
) -> None:
    raw = put_logs(backend, tmp_path)
    hang = () if step == "enriched_events" else ("--hang-in", step)  # enrichment: in the engine
    owner = start_pass(config, tmp_path, *hang)
    try:
        hung = wait_for_step(instance, step, owner)
    finally:
        owner.kill()
        owner.communicate()
    held, _ = slots(instance)
    # The pass took the slot before the run started, and Dagster frees it after enrichment.
    assert held == (set() if step == "archived_logs" else {hung.run_id})

    started = time.monotonic()
    resumed = start_pass(config, tmp_path, "--hang-in", "nowhere")
    try:
        out, err = resumed.communicate(timeout=RESUME_SECONDS)
    finally:
        resumed.kill()

    assert resumed.returncode == 0, err
    assert time.monotonic() - started < RESUME_SECONDS
    assert "process is gone: marked failed, resuming" in out
    assert instance.get_run_by_id(hung.run_id).status is dg.DagsterRunStatus.FAILURE
    assert slots(instance) == (set(), set())
    assert_batch_done_once(backend, raw)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_step_stops_the_run_with_its_exit_code_and_the_next_run_resumes(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    instance: dg.DagsterInstance,
    engine: LineCountingEngine,
    stop: signal.Signals,
) -> None:
    raw = put_logs(backend, tmp_path)
    owner = start_pass(config, tmp_path)  # enrichment hangs
    try:
        hung = wait_for_step(instance, "enriched_events", owner)
        owner.send_signal(stop)
        _, err = owner.communicate(timeout=60)
    finally:
        owner.kill()
    assert owner.returncode == 128 + stop
    assert f"Stopped by {stop.name}: a batch left unfinished is resumed by the next run" in err
    assert instance.get_run_by_id(hung.run_id).status is dg.DagsterRunStatus.FAILURE
    assert slots(instance) == (set(), set())

    assert main(run_args(config)) == 0
    assert_batch_done_once(backend, raw)


def test_a_run_waiting_for_a_slot_sleeps_and_sigterm_stops_it(
    backend: Backend, config: Path, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """The slot is held by a live run of another job: the pass waits for it using no CPU, and
    SIGTERM (what ``timeout -s TERM`` sends) stops it at once, leaving its batch claimed."""
    put_logs(backend, tmp_path)
    holder = dg.DagsterRun(job_name="elsewhere", run_id="a-live-run-of-another-job")
    instance.add_run(holder.with_status(dg.DagsterRunStatus.STARTED))
    instance.event_log_storage.initialize_concurrency_limit_to_default(EMR_POOL)  # 1 slot
    assert instance.event_log_storage.claim_concurrency_slot(
        EMR_POOL, holder.run_id, "some_step"
    ).is_claimed

    waiting = start_pass(config, tmp_path, "--hang-in", "nowhere")
    try:
        assert waiting.stdout is not None
        for line in waiting.stdout:
            if line.startswith("Waiting for a slot of pool emr"):
                break
        assert f"held by run {holder.run_id}" in line
        busy = cpu_seconds(waiting.pid)
        time.sleep(5)
        busy = cpu_seconds(waiting.pid) - busy
        waiting.send_signal(signal.SIGTERM)
        _, err = waiting.communicate(timeout=30)
    finally:
        waiting.kill()
    assert busy < 0.5  # Dagster's own wait spins at 100% of a core
    assert waiting.returncode == 128 + signal.SIGTERM
    assert "Stopped by SIGTERM" in err
    held, queued = slots(instance)
    assert held == {holder.run_id} and queued == {holder.run_id}  # the pass left nothing
    [_] = SnowplowPipeline(config_path=str(config)).manifest_store().pending()[0]
    assert len(backend.objects("in/")) == 3  # claimed, untouched: resumable


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
