"""The ``snowplow-dagster`` command line.

``demo`` shows the enrichment job end to end on this machine with nothing but Python and Java:
it generates realistic collector logs, enriches them on a local Spark with the bundled
enrichments (MaxMind's test databases included) and prints what came out. ``generate`` writes
the same realistic logs for benchmarks and experiments.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from snowplow_dagster.manifest import batch_id

SAMPLE_ENRICHMENTS = resources.files("snowplow_dagster") / "sample_data" / "enrichments"
FORMATS = ("cloudfront", "clj-tomcat")


def _generate(args: argparse.Namespace) -> int:
    from snowplow_dagster.generator import write_log_files

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


def _demo(args: argparse.Namespace) -> int:
    from snowplow_dagster.enrich.enrichments.registry import load_enrichments_directory
    from snowplow_dagster.enrich.job import run_job
    from snowplow_dagster.generator import write_log_files

    workdir = Path(args.workdir).resolve()
    now = datetime.now(UTC)
    batch = batch_id(now)
    raw = workdir / "raw" / f"run={batch}"
    good = workdir / "enriched" / "good" / f"run={batch}"
    bad = workdir / "enriched" / "bad" / f"run={batch}"
    print(f"Generating {args.events:,} {args.format} events into {raw}")
    write_log_files(raw, args.format, args.events, files=4, seed=args.seed, bad_fraction=0.01)

    with resources.as_file(SAMPLE_ENRICHMENTS) as enrichments_dir:
        enrichments = load_enrichments_directory(enrichments_dir)
    encoded = base64.urlsafe_b64encode(json.dumps(enrichments).encode()).decode()
    print("Enriching on local Spark (the first start of the JVM takes a few seconds)")
    counts = run_job(
        [
            "--input-folder",
            str(raw),
            "--input-format",
            args.format,
            "--output-folder",
            str(good),
            "--bad-folder",
            str(bad),
            "--enrichments",
            encoded,
            "--etl-timestamp",
            str(int(now.timestamp() * 1000)),
            "--local",
        ]
    )
    rows = [
        ("batch", batch),
        ("input lines", f"{counts.input_lines:,}"),
        ("skipped header lines", f"{counts.skipped_lines:,}"),
        ("enriched events", f"{counts.good_events:,}"),
        ("bad rows", f"{counts.bad_rows:,}"),
        ("enriched output", str(good)),
        ("bad rows output", str(bad)),
    ]
    width = max(len(label) for label, _ in rows)
    print()
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    lost = counts.input_lines - counts.skipped_lines - counts.lines_with_output
    print(f"\n  every line accounted for: {'yes' if lost == 0 else f'NO, {lost} lost'}")
    return 0 if lost == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="snowplow-dagster", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="enrich generated collector logs on local Spark")
    demo.add_argument("--workdir", default="snowplow-demo", help="where logs and output go")
    demo.add_argument("--events", type=int, default=20_000)
    demo.add_argument("--format", choices=FORMATS, default="cloudfront")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_demo)

    generate = commands.add_parser("generate", help="write realistic collector log files")
    generate.add_argument("output", help="folder to write the log files into")
    generate.add_argument("--format", choices=FORMATS, default="cloudfront")
    generate.add_argument("--events", type=int, default=10_000)
    generate.add_argument("--files", type=int, default=1)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--bad-fraction", type=float, default=0.0)
    generate.add_argument("--plain", action="store_true", help="write uncompressed files")
    generate.set_defaults(handler=_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
