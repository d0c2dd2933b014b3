"""``snowplow-dagster demo``: the whole pipeline on this machine, then where to see it in the UI.

A demo home (``./snowplow-demo`` by default) holds the bundled sample config's folders: the
in-bucket, processing, the archives, enriched good and bad, and the manifests. Realistic CloudFront
logs (1% bad lines) are generated into the in-bucket, and one pass claims, stages, enriches (local
Spark) and archives them on the persistent Dagster instance (``home.py``), so ``dagster dev`` on
that instance shows the batch, its runs, materialisations and checks afterwards.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

from snowplow_dagster.cli.home import dagster_home, log_file, open_instance, ui_command
from snowplow_dagster.cli.inputs import new_seed, positive_int
from snowplow_dagster.cli.report import dagster_logs_to, progress, summarise, summary_table
from snowplow_dagster.generator import write_log_files
from snowplow_dagster.passes import run_pass
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.samples import SAMPLE_CONFIG

HOME_ENV = "SNOWPLOW_DAGSTER_HOME"
"""What the sample config's ``<%= ENV['SNOWPLOW_DAGSTER_HOME'] %>`` locations hang from."""
FOLDERS = (
    "raw/in",
    "raw/processing",
    "archive/raw",
    "archive/enriched",
    "enriched/good",
    "enriched/bad",
    "logs",
    "manifests",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--home", default="snowplow-demo", help="the demo's buckets, as folders (snowplow-demo)"
    )
    parser.add_argument(
        "--events", type=positive_int, default=20_000, help="events to generate (20000)"
    )
    parser.add_argument("--files", type=positive_int, default=4, help="log files (4)")
    parser.add_argument("--seed", type=int, help="repeat a demo's logs (default: new ones)")
    parser.set_defaults(handler=command)


def command(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    home = Path(args.home).resolve()
    os.environ[HOME_ENV] = str(home)
    for folder in FOLDERS:
        (home / folder).mkdir(parents=True, exist_ok=True)
    console.print(f"Generating {args.events:,} CloudFront events into {home / 'raw/in'}")
    write_log_files(
        home / "raw/in",
        "cloudfront",
        args.events,
        files=args.files,
        seed=new_seed() if args.seed is None else args.seed,
        bad_fraction=0.01,
    )
    instance = open_instance()
    console.print(f"Dagster instance: {dagster_home()}")
    console.print("Running one pass: claim, stage, enrich (local Spark), archive")
    pipeline = SnowplowPipeline(config_path=str(SAMPLE_CONFIG))
    logs = log_file(dagster_home())
    console.print(f"Detailed logs: {logs}")
    with dagster_logs_to(logs), progress(instance, console):
        done = run_pass(instance, pipeline)
    console.print(summary_table([summarise(instance, result) for result in done.results]))
    console.print("See the batch, its runs and checks in the Dagster UI:")
    console.print(f"  {ui_command(dagster_home(), {HOME_ENV: str(home)})}", soft_wrap=True)
    console.print("  (or `make dev` from the repository root, in the same environment)")
    return 0 if done.batches and done.success else 1
