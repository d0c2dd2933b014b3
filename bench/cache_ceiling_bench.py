"""Memory ceiling of the enrichment core: how much its bounded caches can hold at most.

The core keeps no per-file or per-batch state; what grows with the input is a set of caches of
values that repeat across a visitor's events (IP lookups, user agents, referers, page URLs,
per-second timestamp texts, contexts JSON), each with a fixed number of entries. On a realistic
corpus they fill slowly, so ``enrich_bench.py`` sees the core's memory rise between its two
sizes. This benchmark shows where that rise stops: after warming the core on generated traffic it
feeds it the same lines with every cached value made distinct (client IP, user agent, referer,
date and time), so each cache fills to its cap, and samples the resident memory every 100,000
lines. Flat samples at the end are the ceiling, whatever the input size.

    .venv/bin/python bench/cache_ceiling_bench.py
    .venv/bin/python bench/cache_ceiling_bench.py --lines 200000
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

import psutil
from enrich_bench import ETL_TIMESTAMP_MS, INPUT_FORMAT, sample_enricher
from machine import describe, load_average  # bench/ is this script's folder

from snowplow_dagster.generator import generate_lines

RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE_EVERY = 100_000
_MIB = 2**20


def distinct(line: str, number: int, rng: random.Random) -> str:
    """The CloudFront line with its cached fields made unlike any other line's."""
    fields = line.split("\t")
    if len(fields) < 12:
        return line
    fields[0] = f"2026-{1 + number // 86_400 % 12:02d}-1{number % 9}"  # date
    fields[1] = f"{number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}"  # time
    fields[4] = ".".join(str(rng.randrange(1, 224 if i == 0 else 256)) for i in range(4))  # c-ip
    fields[9] = f"http://r{number}.example.com/"  # referer
    fields[10] = f"{fields[10]}%2520v{number}"  # user agent
    return "\t".join(fields)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=400_000, help="distinct lines fed")
    parser.add_argument("--warm", type=int, default=20_000, help="generated lines to warm up on")
    args = parser.parse_args(argv)

    load_before = load_average()
    process = psutil.Process()
    warm = list(generate_lines(INPUT_FORMAT, args.warm, seed=3))
    process_line = sample_enricher().process_line
    for line in warm:
        process_line(line)
    warm_rss = process.memory_info().rss / _MIB
    rng = random.Random(1)
    samples = []
    for number in range(args.lines):
        process_line(distinct(warm[number % len(warm)], number, rng))
        if (number + 1) % SAMPLE_EVERY == 0:
            samples.append((number + 1, process.memory_info().rss / _MIB - warm_rss))
            print(f"{number + 1:,} lines: +{samples[-1][1]:.1f} MiB", flush=True)

    machine = describe(psutil=psutil.__version__)
    rows = "\n".join(f"| {lines:,} | {grown:.1f} |" for lines, grown in samples)
    text = f"""# Enrichment core: memory ceiling of its caches, {datetime.now(UTC):%Y-%m-%d}

Command: `.venv/bin/python bench/cache_ceiling_bench.py --lines {args.lines} --warm {args.warm}`

## Machine

{chr(10).join(f"- {key}: {value}" for key, value in machine.items())}
- Load average (1, 5, 15 min) before the run: {load_before}; after: {load_average()}.

## Resident memory over the warm core

The core was warmed on {args.warm:,} generated `{INPUT_FORMAT}` lines (sample enrichments, ETL
timestamp {ETL_TIMESTAMP_MS}): {warm_rss:.0f} MiB. Then it was fed {args.lines:,} copies of those
lines with client IP, user agent, referer, date and time made distinct on every line, so that each
cache fills to its cap.

| lines fed | RSS over the warm core, MiB |
|---:|---:|
{rows}

Ceiling: about {samples[-1][1]:.0f} MiB over the warm core, {warm_rss + samples[-1][1]:.0f} MiB in
all; once every cache is full, more input does not add memory.
"""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"cache-ceiling-{datetime.now(UTC):%Y-%m-%d}.md"
    path.write_text(text)
    print(text)
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
