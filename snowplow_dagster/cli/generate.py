"""``snowplow-dagster generate``: realistic collector logs, the benchmarks' own generator."""

from __future__ import annotations

import argparse
from pathlib import Path

from snowplow_dagster.generator import write_log_files

FORMATS = ("cloudfront", "clj-tomcat")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", help="folder to write the log files into")
    parser.add_argument("--format", choices=FORMATS, default="cloudfront")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bad-fraction", type=float, default=0.0)
    parser.add_argument("--plain", action="store_true", help="write uncompressed files")
    parser.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    paths = write_log_files(
        Path(args.output),
        args.format,
        args.events,
        files=args.files,
        gzip=not args.plain,
        seed=args.seed,
        bad_fraction=args.bad_fraction,
    )
    for path in paths:
        print(path)
    return 0
