"""The ``snowplow-dagster`` command line: ``demo``, ``run``, ``lint`` and ``generate``.

One module per command; each adds its arguments and a ``handler`` returning the exit code.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence

import dagster as dg

# The asset checks' partitions are a Dagster preview feature: a warning a cron mail can do without.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

from snowplow_dagster.cli import demo, generate, lint, run  # noqa: E402 (after the filter)
from snowplow_dagster.engines.bundle import release_version  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snowplow-dagster", description="Snowplow's batch pipeline on Dagster"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {release_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run.add_arguments(
        commands.add_parser(
            "run",
            help="one EmrEtlRunner-style pass (exit 0, 1, 3, 4 or 17)",
            description=run.DESCRIPTION,
            epilog=run.EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    lint.add_arguments(commands.add_parser("lint", help="validate the configuration files"))
    demo.add_arguments(
        commands.add_parser("demo", help="generated logs through the whole pipeline, locally")
    )
    generate.add_arguments(
        commands.add_parser("generate", help="write realistic collector log files")
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
