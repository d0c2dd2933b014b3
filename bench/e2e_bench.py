"""End to end: collector logs landing in the in-bucket to archived, on the embedded default.

One pass (``run_pass``, what ``snowplow-dagster run`` executes) over N generated CloudFront events
on local storage, local Spark and a fresh SQLite Dagster instance; wall time and events/s, split by
step from the Dagster event log (the durations the UI shows) and, inside enrichment, by EMR step.
Writes ``bench/results/e2e-<YYYY-MM-DD>.md`` and prints it.

    .venv/bin/python bench/e2e_bench.py                  # 100,000 events
    .venv/bin/python bench/e2e_bench.py --events 20000   # quicker
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from enrich_bench import machine  # bench/ is this script's folder
from machine import load_average

from snowplow_dagster.cli.report import step_durations
from snowplow_dagster.engines.local.engine import LocalEngine
from snowplow_dagster.generator import write_log_files
from snowplow_dagster.passes import run_pass
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.samples import SAMPLE_CONFIG

RESULTS = Path(__file__).parent / "results"
STEPS = {
    "staging": "staged_logs",
    "enrichment": "enriched_events",
    "archive": "archived_logs",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--files", type=int, help="log files (default: one per 10,000 events)")
    parser.add_argument("--bad-fraction", type=float, default=0.01)
    parser.add_argument("--workdir", type=Path, help="keep everything there (default: a temp dir)")
    return parser.parse_args()


@dataclass(frozen=True)
class Figures:
    files: int
    bytes: int
    wall: float
    split: dict[str, float]
    """Seconds by step, in pipeline order; they add up to ``wall``."""
    emr_steps: list[dict[str, Any]]
    events: int
    bad_rows: int
    input_lines: int


def bench(args: argparse.Namespace, work: Path) -> Figures:
    buckets, home = work / "buckets", work / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ.update(SNOWPLOW_DAGSTER_HOME=str(buckets), DAGSTER_HOME=str(home))
    files = args.files or max(1, args.events // 10_000)
    generated = write_log_files(
        work / "generated", "cloudfront", args.events, files=files, bad_fraction=args.bad_fraction
    )
    size = sum(path.stat().st_size for path in generated)
    landing = buckets / "raw" / "in"
    landing.mkdir(parents=True)
    for path in generated:  # the files land (a rename): the clock starts now
        path.rename(landing / path.name)
    pipeline = SnowplowPipeline(
        config_path=str(SAMPLE_CONFIG), local_engine=LocalEngine(scratch_dir=str(work / "scratch"))
    )
    with dg.DagsterInstance.get() as instance:
        started = time.time()
        done = run_pass(instance, pipeline)
        wall = time.time() - started
        assert done.success and len(done.results) == 1, "the pass failed: see the instance's logs"
        [result] = done.results
        record = instance.get_run_record_by_id(result.run_id)
        assert record is not None and record.start_time is not None
        durations = step_durations(instance, result.run_id)
        [enriched] = result.asset_materializations_for_node("enriched_events")
    metadata = {key: value.value for key, value in enriched.metadata.items()}
    checks = sum(seconds for key, seconds in durations.items() if key not in STEPS.values())
    split = {
        "claim (and the run's set-up)": record.start_time - started,
        **{name: durations[key] for name, key in STEPS.items()},
        "asset checks": checks,
    }
    split["Dagster between steps"] = wall - sum(split.values())
    return Figures(
        files=files,
        bytes=size,
        wall=wall,
        split=split,
        emr_steps=metadata["steps"],
        events=metadata["events"],
        bad_rows=metadata["bad_rows"],
        input_lines=metadata["input_lines"],
    )


def render(args: argparse.Namespace, figures: Figures, load: tuple[str, str]) -> str:
    wall, events = figures.wall, figures.events
    lines = [
        f"# End to end, {dt.date.today().isoformat()}",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in machine().items()),
        "",
        "## One pass, in-bucket to archived",
        "",
        f"`bench/e2e_bench.py --events {args.events}`: {figures.files} gzipped CloudFront files "
        f"({figures.bytes / 2**20:.1f} MiB, {args.bad_fraction:.0%} bad lines) land in "
        "the in-bucket of the bundled sample config (local folders, local Spark `local[2]`, "
        "driver 2g), then one `run_pass` on a fresh SQLite instance claims, stages, enriches and "
        f"archives them. Load average (1, 5, 15 min) before: {load[0]}; after: {load[1]}.",
        "",
        f"- **wall time: {wall:.1f} s**",
        f"- **{events / wall:,.0f} enriched events/s** ({events:,} events, "
        f"{figures.bad_rows:,} bad rows, {figures.input_lines:,} input lines: "
        f"{figures.input_lines / wall:,.0f} lines/s)",
        "",
        "| step | seconds | share |",
        "|---|---|---|",
        *(
            f"| {name} | {seconds:.1f} | {seconds / wall:.0%} |"
            for name, seconds in figures.split.items()
        ),
        "",
        "Enrichment, by EMR step (the local engine runs EmrEtlRunner's step list):",
        "",
        "| EMR step | seconds |",
        "|---|---|",
        *(f"| {step['name']} | {float(step['seconds'] or 0):.1f} |" for step in figures.emr_steps),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    before = load_average()
    if args.workdir is not None:
        figures = bench(args, args.workdir.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="e2e-bench-") as work:
            figures = bench(args, Path(work))
    report = render(args, figures, (before, load_average()))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"e2e-{dt.date.today().isoformat()}.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
