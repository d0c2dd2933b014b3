"""The local execution engine: a batch's EMR step list, run on this machine.

``s3-dist-cp`` steps run ``run_s3_dist_cp``. ``spark-submit`` steps run pyspark's own
``spark-submit`` script on a local master with the same application arguments, so the Spark
application, its argument parsing and its exit codes are exactly what EMR runs: the step's
application file (at its URI under the assets location) is this installation's
``snowplow_dagster/enrich/job.py``, and the cluster-only options (``--master yarn``, cluster deploy
mode, ``--py-files``, executor sizing) give way to the engine's master, driver memory and conf.

HDFS is a fresh folder per ``run_steps`` call, removed at the end, like a transient cluster's: a
batch's steps must be submitted in one call, and nothing of one batch leaks into the next.

The one place local differs: pyspark has no S3 file system here, so a Spark step's ``--bad-folder``
and ``--counts-file`` outside HDFS are written to a scratch folder and, once the step succeeded,
put in place through the storage layer (bad rows replacing what an earlier attempt left, as the
job's own overwrite does on EMR). Any other ``s3://`` argument of a Spark step is refused before a
step runs; in our step lists S3DistCp brings the input to HDFS first.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import dagster as dg
from pydantic import Field

from snowplow_dagster.config import LocalSparkSettings, PipelineConfig, reveal
from snowplow_dagster.engines.contract import (
    StepConfig,
    StepFailed,
    StepResult,
    StepsCancelled,
)
from snowplow_dagster.engines.local.s3distcp import CopyCancelled, run_s3_dist_cp
from snowplow_dagster.engines.steps import COMMAND_RUNNER
from snowplow_dagster.storage import S3_SCHEMES, Location, storage_for

_TAIL_LINES = 40
_KILL_GRACE_SECONDS = 10
_POLL_SECONDS = 0.2
_HDFS = "hdfs:///"
_JVM_INFO = re.compile(r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d (INFO|DEBUG) ")
"""Spark's log4j chatter: logged at DEBUG (out of the run's event log at its usual level), left out
of a failure's tail, which must show the error rather than the shutdown hooks that run after it."""
_LOG4J_SETTINGS = """\
# snowplow-dagster's local engine: Spark's own logging at WARN, so a run's event log holds the job's
# lines and Spark's warnings and errors, not a hundred lines of start-up and shutdown per batch.
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""

_CLUSTER_ONLY_OPTIONS = frozenset(
    {
        "--master",
        "--deploy-mode",
        "--py-files",
        "--archives",
        "--driver-memory",
        "--driver-cores",
        "--executor-memory",
        "--executor-cores",
        "--num-executors",
        "--queue",
    }
)
_MAPPED_OUTPUTS = ("--bad-folder", "--counts-file")


class _StepCancelled(Exception):
    pass


class _SparkFailed(Exception):
    def __init__(self, exit_code: int, tail: str) -> None:
        super().__init__(f"spark-submit exited with code {exit_code}")
        self.exit_code = exit_code
        self.tail = tail


@dataclass(frozen=True, slots=True)
class _SparkSubmit:
    """A ``spark-submit`` step's arguments, read as spark-submit reads them."""

    name: str | None
    conf: tuple[str, ...]
    """``key=value`` of each ``--conf``."""
    app: str
    app_args: tuple[str, ...]


def _parse_spark_submit(args: Sequence[str]) -> _SparkSubmit:
    """Refuses what a local run cannot honour, before any step runs."""
    name, conf = None, []
    rest = list(args)
    while rest and rest[0].startswith("--"):
        option = rest.pop(0)
        if not rest:
            raise ValueError(f"spark-submit {option} has no value")
        value = rest.pop(0)
        if option == "--conf":
            conf.append(value)
        elif option == "--name":
            name = value
        elif option not in _CLUSTER_ONLY_OPTIONS:
            raise ValueError(f"the local engine cannot run spark-submit with {option}")
    if not rest:
        raise ValueError("spark-submit has no application")
    app, app_args = rest[0], tuple(rest[1:])
    for previous, arg in itertools.pairwise(("", *app_args)):
        if arg.startswith(S3_SCHEMES) and previous not in _MAPPED_OUTPUTS:
            raise ValueError(
                f"local Spark cannot read {arg} ({previous or 'argument'}): only "
                f"{' and '.join(_MAPPED_OUTPUTS)} are mapped to local files"
            )
        if arg.startswith("hdfs:") and not arg.startswith(_HDFS):
            raise ValueError(f"only hdfs:///path is available locally, not {arg}")
    return _SparkSubmit(name, tuple(conf), app, app_args)


def _check_step(step: StepConfig) -> None:
    jar = step["HadoopJarStep"]
    args = jar["Args"]
    if jar["Jar"] != COMMAND_RUNNER or not args or args[0] not in ("s3-dist-cp", "spark-submit"):
        raise ValueError(
            f"the local engine runs {COMMAND_RUNNER} s3-dist-cp and spark-submit steps; "
            f"{step['Name']!r} is {jar['Jar']} {' '.join(args[:1])}"
        )
    if args[0] == "spark-submit":
        _parse_spark_submit(args[1:])


def _cancelled(step: StepConfig, message: str = "not started") -> StepResult:
    return StepResult(step["Name"], "CANCELLED", message=message)


def _now() -> datetime:
    return datetime.now(UTC)


class LocalEngine(dg.ConfigurableResource):
    """Runs a batch's EMR steps here: S3DistCp in-process, Spark on a local master.

    The embedded default engine, so the whole pipeline runs without a cloud account. See the
    module docstring for how a step maps to a local run.
    """

    spark_master: str | None = Field(
        default=None,
        description="Spark master, e.g. local[2]. "
        "Default: snowplow_dagster.local_spark.master, else local[*].",
    )
    driver_memory: str | None = Field(
        default=None,
        description="Driver heap; local Spark runs in it. "
        "Default: snowplow_dagster.local_spark.driver_memory, else 2g.",
    )
    scratch_dir: str | None = Field(
        default=None,
        description="Where HDFS and temporary files go (default: the system's temp folder).",
    )
    spark_conf: dict[str, str] | None = Field(
        default=None,
        description="Extra spark.* settings, applied after the step's. "
        "Default: snowplow_dagster.local_spark.conf.",
    )

    def for_config(self, config: PipelineConfig) -> LocalEngine:
        """This engine with what it leaves unset taken from the config's
        ``snowplow_dagster.local_spark`` section."""
        return self._with(config.local_spark)

    def _with(self, settings: LocalSparkSettings) -> LocalEngine:
        return LocalEngine(
            spark_master=self.spark_master or settings.master,
            driver_memory=self.driver_memory or settings.driver_memory,
            scratch_dir=self.scratch_dir,
            spark_conf=reveal(settings.conf) if self.spark_conf is None else self.spark_conf,
        )

    def run_steps(
        self,
        steps: Sequence[StepConfig],
        *,
        log: logging.Logger,
        cancel_event: threading.Event | None = None,
    ) -> list[StepResult]:
        """Run the steps in order (``ExecutionEngine``); a list it cannot run is refused whole.

        Raises ``ValueError`` before any step runs for a step it cannot run, ``StepFailed`` when
        a step fails (with the exit code and output tail of a Spark step), ``StepsCancelled``
        when ``cancel_event`` is set. An interrupt of this process (Dagster stopping the run)
        kills the running Spark application and propagates.
        """
        for step in steps:
            _check_step(step)
        results: list[StepResult] = []
        first_failure: StepResult | None = None
        with self._workspace() as work:
            for index, step in enumerate(steps):
                name = step["Name"]
                if cancel_event is not None and cancel_event.is_set():
                    rest = [_cancelled(s) for s in steps[index:]]
                    raise StepsCancelled(f"cancelled before {name}", [*results, *rest])
                log.info("Step %d/%d: %s", index + 1, len(steps), name)
                started = _now()
                try:
                    metadata = self._run_step(step, work, index, log, cancel_event)
                except (_StepCancelled, CopyCancelled) as stop:
                    results.append(_cancelled(step, str(stop)))
                    rest = [_cancelled(s) for s in steps[index + 1 :]]
                    raise StepsCancelled(f"{name}: cancelled", [*results, *rest]) from stop
                except Exception as error:
                    failed = _failed(step, started, error)
                    results.append(failed)
                    log.error("Step %s failed: %s", name, failed.message)
                    if step["ActionOnFailure"] == "CONTINUE":
                        first_failure = first_failure or failed
                        continue
                    rest = [_cancelled(s, f"{name} failed") for s in steps[index + 1 :]]
                    raise StepFailed(_failure_message(failed), [*results, *rest]) from error
                results.append(
                    StepResult(name, "COMPLETED", started, _now(), exit_code=0, metadata=metadata)
                )
        if first_failure is not None:
            raise StepFailed(_failure_message(first_failure), results)
        return results

    @contextmanager
    def _workspace(self) -> Iterator[Path]:
        """A fresh folder for this call: ``hdfs/`` (the stand-in) and one scratch per step."""
        if self.scratch_dir is not None:
            Path(self.scratch_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch_dir, prefix="local-engine-") as work:
            (Path(work) / "hdfs").mkdir()
            yield Path(work)

    def _run_step(
        self,
        step: StepConfig,
        work: Path,
        index: int,
        log: logging.Logger,
        cancel_event: threading.Event | None,
    ) -> dict[str, Any]:
        args = step["HadoopJarStep"]["Args"]
        scratch = work / f"step-{index}"
        scratch.mkdir()
        if args[0] == "s3-dist-cp":
            report = run_s3_dist_cp(
                args[1:],
                hdfs_root=work / "hdfs",
                scratch_dir=scratch,
                log=log,
                cancel_event=cancel_event,
            )
            return asdict(report)
        return self._spark_submit(
            _parse_spark_submit(args[1:]), work / "hdfs", scratch, log, cancel_event
        )

    def _spark_submit(
        self,
        submit: _SparkSubmit,
        hdfs: Path,
        scratch: Path,
        log: logging.Logger,
        cancel_event: threading.Event | None,
    ) -> dict[str, Any]:
        spark = self._with(LocalSparkSettings())  # what is still unset takes the defaults
        assert spark.spark_master and spark.driver_memory and spark.spark_conf is not None
        app_args, outputs = _local_app_args(submit.app_args, hdfs, scratch)
        command = [
            str(_pyspark_home() / "bin" / "spark-submit"),
            "--master",
            spark.spark_master,
            "--driver-memory",
            spark.driver_memory,
        ]
        if submit.name is not None:
            command += ["--name", submit.name]
        for setting in (*submit.conf, *(f"{k}={v}" for k, v in spark.spark_conf.items())):
            command += ["--conf", setting]
        application = _local_application()
        log4j = scratch / "log4j2.properties"
        log4j.write_text(_LOG4J_SETTINGS)
        command += ["--driver-java-options", f"-Dlog4j.configurationFile={log4j.as_uri()}"]
        command += [application, *app_args]
        log.info("spark-submit of %s on %s", application, spark.spark_master)
        exit_code, tail = _run_process(command, _spark_environment(), log, cancel_event)
        if exit_code != 0:
            raise _SparkFailed(exit_code, tail)
        for local, uri in outputs:
            _put_in_place(local, uri, hdfs, scratch, log)
        return {"application": application, "outputs": [uri for _, uri in outputs]}


def _local_app_args(
    app_args: Sequence[str], hdfs: Path, scratch: Path
) -> tuple[list[str], list[tuple[Path, str]]]:
    """The application's arguments with HDFS on the stand-in and the bad folder and counts file
    in scratch; also what to put where once the step succeeded."""
    mapped: list[str] = []
    outputs: list[tuple[Path, str]] = []
    previous = ""
    for arg in app_args:
        if previous in _MAPPED_OUTPUTS and not arg.startswith(_HDFS):
            local = scratch / previous.lstrip("-")
            outputs.append((local, arg))
            mapped.append(f"file://{local}" + ("/" if previous == "--bad-folder" else ""))
        elif arg.startswith(_HDFS):
            # Not Path.as_uri(): Hadoop reads a file: URI's path literally, %-escapes included.
            mapped.append(f"file://{hdfs / arg[len(_HDFS) :]}" + ("/" if arg.endswith("/") else ""))
        else:
            mapped.append(arg)
        previous = arg
    return mapped, outputs


def _put_in_place(local: Path, uri: str, hdfs: Path, scratch: Path, log: logging.Logger) -> None:
    location = Location.parse(uri)
    storage = storage_for(location)
    if local.is_file():
        storage.write(location, local.read_bytes())  # the counts file: a few hundred bytes
        return
    folder = location.folder()
    stale = [(folder.object(info.key), info.etag) for info in storage.list(folder)]
    if stale:
        log.info("Replacing %d objects an earlier attempt left in %s", len(stale), folder.uri)
        storage.delete_many(stale)
    run_s3_dist_cp(
        ["--src", f"{local}/", "--dest", folder.uri],
        hdfs_root=hdfs,
        scratch_dir=scratch,
        log=log,
    )


def _failed(step: StepConfig, started: datetime, error: Exception) -> StepResult:
    if isinstance(error, _SparkFailed):
        return StepResult(
            step["Name"],
            "FAILED",
            started,
            _now(),
            exit_code=error.exit_code,
            message=str(error),
            log_tail=error.tail,
        )
    message = str(error) or type(error).__name__
    return StepResult(step["Name"], "FAILED", started, _now(), message=message)


def _failure_message(failed: StepResult) -> str:
    message = f"{failed.name} failed: {failed.message}"
    if failed.log_tail:
        message += f"\nLast lines of its output:\n{failed.log_tail}"
    return message


def _pyspark_home() -> Path:
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pyspark is not installed: the local engine needs it for Spark steps")
    return Path(spec.submodule_search_locations[0])


def _local_application() -> str:
    """This installation's enrichment application, found without importing it (and Spark)."""
    spec = importlib.util.find_spec("snowplow_dagster.enrich.job")
    assert spec is not None and spec.origin is not None
    return spec.origin


def _spark_environment() -> dict[str, str]:
    """The driver and its Python workers must run this interpreter, which has our packages."""
    return {
        **os.environ,
        "SPARK_HOME": str(_pyspark_home()),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


def _run_process(
    command: list[str],
    env: dict[str, str],
    log: logging.Logger,
    cancel_event: threading.Event | None,
) -> tuple[int, str]:
    """Run to the end, logging each output line from this thread as it comes; (exit code, tail).

    The tail is of both streams, in the order lines came: spark-submit passes the Python driver's
    stderr (where the job says what went wrong) on to its own stdout.

    The process leads its own process group, so stopping it also stops the JVM's Python driver
    and workers.
    """
    lines: queue.Queue[tuple[str, str] | None] = queue.Queue()
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    readers = [
        threading.Thread(target=_pump, args=(stream, label, lines), daemon=True)
        for stream, label in ((process.stdout, "stdout"), (process.stderr, "stderr"))
    ]
    for reader in readers:
        reader.start()
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    chatter: deque[str] = deque(maxlen=_TAIL_LINES)
    try:
        open_streams = len(readers)
        while open_streams:
            if cancel_event is not None and cancel_event.is_set():
                _stop(process)
                raise _StepCancelled("spark-submit stopped: cancelled")
            try:
                item = lines.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if item is None:
                open_streams -= 1
                continue
            label, line = item
            is_chatter = bool(_JVM_INFO.match(line))
            log.log(logging.DEBUG if is_chatter else logging.INFO, "spark %s: %s", label, line)
            (chatter if is_chatter else tail).append(line)
        exit_code = process.wait()
    except BaseException:
        _stop(process)
        raise
    return exit_code, "\n".join(tail or chatter)


def _pump(stream: IO[bytes], label: str, lines: queue.Queue[tuple[str, str] | None]) -> None:
    with stream:
        for raw in stream:
            lines.put((label, raw.decode("utf-8", "replace").rstrip("\r\n")))
    lines.put(None)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (spark-submit's shutdown hooks clean up), then SIGKILL."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=_KILL_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue
