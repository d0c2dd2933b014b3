"""``snowplow-dagster generate``: realistic collector logs, the benchmarks' own generator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from snowplow_dagster.cli.inputs import fraction, new_seed, positive_int
from snowplow_dagster.generator import write_log_files

FORMATS = ("cloudfront", "clj-tomcat")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", help="folder to write the log files into (created if needed)")
    parser.add_argument(
        "--format", choices=FORMATS, default="cloudfront", help="collector log format"
    )
    parser.add_argument(
        "--events", type=positive_int, default=10_000, help="events in all (default 10000)"
    )
    parser.add_argument(
        "--files", type=positive_int, default=1, help="log files to spread them over (default 1)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="repeat an earlier call's events and file names (default: a new seed each call, "
        "printed on stderr)",
    )
    parser.add_argument(
        "--bad-fraction",
        type=fraction,
        default=0.0,
        help="share of deliberately malformed lines, 0 to 1 (default 0)",
    )
    parser.add_argument("--plain", action="store_true", help="write uncompressed files")
    parser.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    seed = new_seed() if args.seed is None else args.seed
    print(f"seed {seed}", file=sys.stderr)
    paths = write_log_files(
        Path(args.output),
        args.format,
        args.events,
        files=args.files,
        gzip=not args.plain,
        seed=seed,
        bad_fraction=args.bad_fraction,
    )
    for path in paths:
        print(path)
    return 0
