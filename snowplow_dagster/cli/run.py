"""``snowplow-dagster run``: one EmrEtlRunner-style pass, as Dagster runs on the instance.

Exit codes are EmrEtlRunner's: 0 done, 1 error, 3 no data to process, 4 an ongoing run, 17 lock
held. Unlike EmrEtlRunner, a failed or killed run needs no hand cleaning: the next ``run`` finds
the batch unfinished (not yet archived in its manifest store) and runs the steps it still needs
from its manifest, every step being idempotent; a run whose process died is first marked failed
(``owners.py``) and the pool slots of ended runs are freed (``pools.py``). SIGTERM and SIGINT stop
a pass at any point with 143 and 130 (``interrupts.py``); the next ``run`` resumes what it left.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from rich.console import Console

from snowplow_dagster import pools
from snowplow_dagster.batches.claiming import describe_strays
from snowplow_dagster.batches.manifest import BatchState, CorruptRecord
from snowplow_dagster.cli import lock, owners
from snowplow_dagster.cli.home import dagster_home, log_file, open_instance, ui_command
from snowplow_dagster.cli.inputs import STDIN_CONFIG_PREFIX, config_path
from snowplow_dagster.cli.interrupts import Interrupted, Signals, stop_on_signals
from snowplow_dagster.cli.report import dagster_logs_to, failures, progress
from snowplow_dagster.cli.selection import (
    BATCH_STEPS,
    FOREIGN_STEPS,
    RESUMABLE,
    STREAM_STEPS,
    SelectionError,
    StepPlan,
    parse_steps,
    plan_steps,
)
from snowplow_dagster.config import ConfigError, ConfigIssue
from snowplow_dagster.constants import BATCH_TAG
from snowplow_dagster.engines.emr.report import Masker
from snowplow_dagster.engines.emr.resource import config_secrets
from snowplow_dagster.enrich.enrichments.registry import EnrichmentConfigError, EnrichmentRegistry
from snowplow_dagster.loading.resume import unloaded_batches
from snowplow_dagster.loading.warehouse import (
    TARGETS_ENV,
    PostgresWarehouse,
    TargetUnreachable,
    check_connection,
)
from snowplow_dagster.passes import PassResult, run_pass
from snowplow_dagster.resources import (
    CONFIG_ENV,
    ENRICHMENTS_ENV,
    RESOLVER_ENV,
    Engine,
    SnowplowPipeline,
)

OK, ERROR, NO_DATA, ONGOING, LOCK_HELD = 0, 1, 3, 4, 17
DESCRIPTION = (
    "One EmrEtlRunner-style pass: claim what waits in the in-bucket(s), then stage, enrich and "
    "archive each batch as Dagster runs on the instance ($DAGSTER_HOME, else ./.dagster_home). "
    "A batch left unfinished by an earlier pass is resumed."
)
EPILOG = f"""exit codes (EmrEtlRunner's):
  {OK:<3} done
  {ERROR:<3} an error; the message names the key, file or step (a failed step's error: stderr)
  {NO_DATA:<3} no data to process: nothing claimable (files still in the quiet period are counted)
      and no unfinished batch to resume
  {ONGOING:<3} a live run already owns a batch
  {LOCK_HELD:<3} the lock (-l) is held by a live process

steps (-x/--skip, -f/--resume-from; EmrEtlRunner's names):
  batch mode:   {", ".join(BATCH_STEPS)}
  stream mode:  {", ".join(STREAM_STEPS)}
  accepted and ignored (no shredding or loading here):
{textwrap.fill(", ".join(FOREIGN_STEPS), 78, initial_indent="    ", subsequent_indent="    ")}
"""


def exit_code(done: PassResult) -> int:
    if not done.batches:
        return NO_DATA
    return OK if done.success else ERROR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="config.yml, or - for stdin")
    parser.add_argument("-r", "--resolver", required=True, help="Iglu resolver JSON")
    parser.add_argument("-n", "--enrichments", help="enrichments directory")
    parser.add_argument("-t", "--targets", help="storage targets directory (PostgreSQL loading)")
    parser.add_argument(
        "--engine",
        choices=[e.value for e in Engine],
        help="local Spark or Amazon EMR; overrides snowplow_dagster.engine of the config",
    )
    parser.add_argument("-x", "--skip", help="comma-separated steps to skip (see steps below)")
    parser.add_argument(
        "-f",
        "--resume-from",
        choices=RESUMABLE,
        metavar="STEP",
        help=f"run from this step on: {', '.join(RESUMABLE)}",
    )
    parser.add_argument(
        "-l", "--lock", type=Path, help="local lock file: a second run exits 17 while it is held"
    )
    parser.add_argument(
        "--ignore-lock-on-start",
        action="store_true",
        help="neither check nor take the lock, but remove it at the end",
    )
    parser.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    with stop_on_signals() as signals:
        try:
            return _command(args, signals)
        except Interrupted as stop:
            print(
                f"Stopped by {stop.name}: a batch left unfinished is resumed by the next run",
                file=sys.stderr,
            )
            return stop.exit_code


def _command(args: argparse.Namespace, signals: Signals) -> int:
    try:
        skip = parse_steps(args.skip) if args.skip else ()
        with config_path(args.config) as path:
            pipeline = SnowplowPipeline(
                config_path=str(path),
                resolver_path=args.resolver,
                enrichments_dir=args.enrichments,
                engine=Engine(args.engine) if args.engine else None,
            )
            loaded = pipeline.load()
            EnrichmentRegistry.from_json(loaded.enrichments)  # every parameter, before any move
            warehouse = _warehouse(args.targets, stream_mode=loaded.config.stream_mode)
            plan = plan_steps(
                skip,
                args.resume_from,
                stream_mode=loaded.config.stream_mode,
                loading=warehouse is not None,
            )
            if warehouse is not None and "rdb_load" in plan.steps:
                check_connection(warehouse.target())  # a wrong password fails before any move
            pipeline.check_application()  # on EMR: a bundle location we can write, before moves
            for note in plan.notes:
                print(note)
            with _locked(args.lock, ignore_on_start=args.ignore_lock_on_start):
                return one_pass(open_instance(), pipeline, plan, signals, warehouse=warehouse)
    except lock.LockHeld as error:
        print(error, file=sys.stderr)
        return LOCK_HELD
    except (
        ConfigError,
        EnrichmentConfigError,
        SelectionError,
        CorruptRecord,
        TargetUnreachable,
    ) as error:
        print(error, file=sys.stderr)
        return ERROR


def _warehouse(targets: str | None, *, stream_mode: bool) -> PostgresWarehouse | None:
    """The ``-t`` folder's PostgreSQL target, validated (``ConfigError`` names file and key)."""
    if targets is None:
        return None
    if stream_mode:
        raise ConfigError(
            [ConfigIssue("targets", "loading is not supported in Stream Enrich mode yet")], targets
        )
    warehouse = PostgresWarehouse(targets_dir=targets)
    warehouse.target()
    return warehouse


def one_pass(
    instance: dg.DagsterInstance,
    pipeline: SnowplowPipeline,
    plan: StepPlan,
    signals: Signals,
    *,
    warehouse: PostgresWarehouse | None = None,
) -> int:
    ui = (
        f"In the Dagster UI: {ui_command(dagster_home(), ui_environment(pipeline, warehouse))}, "
        "then Runs"
    )
    unfinished = owners.unfinished_runs(instance)
    local = owners.runs_stored_here(instance)
    live = [owner for owner in unfinished if owners.is_live(owner, local_runs=local)]
    if live:
        print(f"There seems to be an ongoing run of snowplow-dagster: {owners.describe(live)}")
        print(ui)
        return ONGOING
    for dead in unfinished:
        print(
            f"Warning: {owners.describe([dead])} but its process is gone: marked failed, resuming"
        )
        owners.mark_failed(instance, dead)
    for run_id in pools.free_ended(instance):
        print(f"Freed the pool slots still held by run {run_id}, which has ended")
    dead_batches = [owner.batch for owner in unfinished if owner.batch is not None]
    # Archived but not loaded: a load failed after archiving, which does not wait for it.
    unloaded = unloaded_batches(instance) if warehouse is not None else []
    store = pipeline.manifest_store()
    resume = owners.unfinished_batches(
        instance,
        [*owners.open_batches(pipeline), *dead_batches, *unloaded],
        is_staged=lambda batch: store.state(batch) is BatchState.STAGED,
    )
    if not plan.steps:
        print("Nothing to do: none of snowplow-dagster's steps is selected")
        return OK
    with dagster_logs_to(log_file(dagster_home())), progress(instance, Console()):
        done = run_pass(
            instance,
            pipeline,
            resume=resume,
            assets=plan.assets,
            claim_new=plan.claims,
            warehouse=warehouse,
            waiting=_tell_waiting,
            checkpoint=signals.check,
        )
    if done.strays:
        print(f"Warning: {describe_strays(done.strays)}", file=sys.stderr)
    code = exit_code(done)
    if code == NO_DATA:
        where = ", ".join(location.uri for location in pipeline.claim_settings().in_locations)
        but = " but the objects named above" if done.strays else ""
        claimed = f"nothing to claim in {where}{but} and " if plan.claims else ""
        print(f"No logs to process: {claimed}no unfinished batch to resume")
        if done.quiet is not None:
            print(done.quiet.describe())
        return code
    mask = Masker(config_secrets(pipeline.config))
    for result in done.results:
        batch = result.dagster_run.tags.get(BATCH_TAG, "?")
        set_aside = None if result.success else store.set_aside_details(batch)
        if set_aside is not None:
            print(f"Run {result.run_id} FAILED. {set_aside['message']}", file=sys.stderr)
            continue
        state = "done" if result.success else "FAILED (the next run resumes it)"
        print(f"Batch {batch}: run {result.run_id} {state}")
        if not result.success:
            print(f"Batch {batch}: run {result.run_id} failed", file=sys.stderr)
            for line in failures(result, mask):
                print(line, file=sys.stderr)
    print(f"{ui}; detailed logs in {log_file(dagster_home())}")
    if code == OK:
        print("Completed successfully")
    else:
        print(f"Exit code {code}", file=sys.stderr)
    return code


def _tell_waiting(pool: str, holders: list[str]) -> None:
    held = f"held by run {', '.join(holders)}" if holders else "all taken"
    print(f"Waiting for a slot of pool {pool} ({held}); SIGTERM or Ctrl-C stops", flush=True)


def ui_environment(
    pipeline: SnowplowPipeline, warehouse: PostgresWarehouse | None = None
) -> dict[str, str]:
    """The files this run used, as the variables the code location reads, so the UI's sensor and
    runs use them too."""
    given = {
        CONFIG_ENV: pipeline.config_path,
        RESOLVER_ENV: pipeline.resolver_path,
        ENRICHMENTS_ENV: pipeline.enrichments_dir,
        TARGETS_ENV: warehouse.targets_dir if warehouse is not None else None,
    }
    return {
        name: str(Path(path).resolve())
        for name, path in given.items()
        if path and not Path(path).name.startswith(STDIN_CONFIG_PREFIX)  # gone after this run
    }


@contextlib.contextmanager
def _locked(path: Path | None, *, ignore_on_start: bool) -> Iterator[None]:
    if path is None:
        yield
        return
    if not ignore_on_start:
        lock.acquire(path, warn=lambda message: print(f"Warning: {message}"))
    try:
        yield
    finally:
        lock.release(path)
