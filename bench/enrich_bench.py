"""Enrichment benchmark: the gzip line-read floor, the per-event core, and the Spark job.

One run generates a CloudFront corpus (gzip files, via the project's generator) at full size and
at a quarter of it, measures each stage at both sizes in a fresh child process while sampling the
resident memory of the child's whole process tree, profiles the core, and writes a markdown
report to ``bench/results/enrich-<date>.md``. See bench/README.md for what the numbers mean.

    .venv/bin/python bench/enrich_bench.py --events 200000
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import dataclasses
import datetime as dt
import gzip
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import psutil
import pyspark
from machine import describe, load_average  # bench/ is this script's folder

from snowplow_dagster.enrich.enricher import Enricher
from snowplow_dagster.enrich.enrichments.registry import load_enrichments_directory
from snowplow_dagster.generator import write_log_files
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS, SAMPLE_RESOLVER

INPUT_FORMAT = "cloudfront"
ETL_TIMESTAMP_MS = 1_700_000_000_000
CORE_TARGET, CORE_GOAL = 10_000, 20_000
RESULTS = Path(__file__).resolve().parent / "results"


@dataclasses.dataclass(frozen=True)
class Sampled:
    """One child process run: its time and the peak resident memory of its process tree."""

    seconds: float
    peak_rss: int
    """Peak of the summed RSS of the process and all its descendants, in bytes."""
    peak_jvm_rss: int
    """Peak RSS of the JVMs among them (Spark's driver), in bytes."""
    peak_python_rss: int
    """Peak RSS of the other processes (Python driver, daemon and workers), in bytes."""
    stdout: str


@dataclasses.dataclass(frozen=True)
class Measurement:
    stage: str
    size: str
    events: int
    cores: int
    run: Sampled

    @property
    def per_core(self) -> float:
        return self.events / max(self.run.seconds, 1e-9) / self.cores


# --- what the child processes measure -----------------------------------------------------------


def corpus_files(corpus: Path) -> list[Path]:
    return sorted(path for path in corpus.rglob("*.gz") if path.is_file())


def read_lines(corpus: Path) -> Iterator[str]:
    """Lines as Spark's text reader hands them over: UTF-8 (lenient), line ends stripped."""
    for path in corpus_files(corpus):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                yield line.rstrip("\r\n")


def sample_enrichments() -> dict:
    return load_enrichments_directory(SAMPLE_ENRICHMENTS)


def sample_enricher(iglu: bool = False) -> Enricher:
    """With ``iglu``, contexts and unstruct events are validated against the sample resolver's
    schemas (its embedded repository has every schema the generator uses)."""
    resolver = json.loads(SAMPLE_RESOLVER.read_text()) if iglu else None
    return Enricher.from_config(INPUT_FORMAT, sample_enrichments(), ETL_TIMESTAMP_MS, resolver)


def measure_floor(corpus: Path) -> dict[str, float]:
    started = time.perf_counter()
    lines = sum(1 for _ in read_lines(corpus))
    return {"seconds": time.perf_counter() - started, "lines": lines}


def measure_core(corpus: Path, iglu: bool = False) -> dict[str, float]:
    """Timed from the first line on: building the Enricher is start-up, paid once per worker."""
    process_line = sample_enricher(iglu).process_line
    lines = good = bad = 0
    started = time.perf_counter()
    for line in read_lines(corpus):
        result = process_line(line)
        lines += 1
        good += len(result.good)
        bad += len(result.bad)
    return {"seconds": time.perf_counter() - started, "lines": lines, "good": good, "bad": bad}


def child_main(stage: str, corpus: Path) -> int:
    measure = {
        "floor": measure_floor,
        "core": measure_core,
        "core-iglu": lambda corpus: measure_core(corpus, iglu=True),
    }[stage]
    print(json.dumps(measure(corpus)))
    return 0


# --- the parent: generate, run children, sample memory, report ----------------------------------


def tree_rss(process: psutil.Process) -> tuple[int, int]:
    """RSS of a process and its descendants: the JVMs among them, and the others.

    The JVM is told apart because its heap grows up to ``--driver-memory`` before it collects:
    bounded by configuration, not by input size, unlike a leak in the Python workers.
    """
    jvm = other = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # exited between listing and reading
            rss = member.memory_info().rss
            # By executable: the JVM renames its process (comm) after threads such as "Thread-3".
            if Path(member.exe()).name == "java":
                jvm += rss
            else:
                other += rss
    return jvm, other


def run_sampled(command: list[str], env: dict[str, str], log: Path) -> Sampled:
    """Wall seconds, peak RSS and stdout of a command; stderr goes to ``log``."""
    with tempfile.TemporaryFile("w+") as out, log.open("w") as err:
        start = time.perf_counter()
        process = psutil.Popen(command, stdout=out, stderr=err, env=env)
        peak = peak_jvm = peak_other = 0
        while process.poll() is None:
            jvm, other = tree_rss(process)
            peak, peak_jvm, peak_other = (
                max(peak, jvm + other),
                max(peak_jvm, jvm),
                max(peak_other, other),
            )
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        out.seek(0)
        stdout = out.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... failed ({process.returncode}); see {log}")
    return Sampled(seconds, peak, peak_jvm, peak_other, stdout)


_CONTEXTS_PARAMETER = re.compile(r"(?<=[\t&])c[ox]=[^&\t]*&?")


def generate(
    corpus: Path, events: int, files: int, bad_fraction: float, contexts_share: float
) -> None:
    """The generator's corpus, with the contexts parameter (``co``/``cx``) kept on
    ``contexts_share`` of the lines (chosen by a hash of the line, so reruns agree): the
    generator gives every event a web_page context, and real traffic has fewer."""
    paths = write_log_files(
        corpus, INPUT_FORMAT, events, files=files, gzip=True, bad_fraction=bad_fraction
    )
    if contexts_share >= 1:
        return
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        kept = [
            line
            if zlib.crc32(line.encode()) % 1000 < contexts_share * 1000
            else _CONTEXTS_PARAMETER.sub("", line)
            for line in lines
        ]
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write("\n".join(kept) + "\n")


def run_child(stage: str, corpus: Path, work: Path) -> Sampled:
    """The child's run, timed by the child itself over its lines."""
    command = [sys.executable, __file__, "--child", stage, "--corpus", str(corpus)]
    run = run_sampled(command, dict(os.environ), work / f"{stage}.log")
    seconds = json.loads(run.stdout.strip().splitlines()[-1])["seconds"]
    return dataclasses.replace(run, seconds=seconds)


def run_spark(corpus: Path, work: Path, cores: int) -> tuple[Sampled, dict[str, int]]:
    """The real application as a user runs it, on local[cores]; JVM start-up included."""
    encoded = base64.urlsafe_b64encode(json.dumps(sample_enrichments()).encode()).decode()
    out = work / f"spark-{corpus.name}"
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable, "-m", "snowplow_dagster.enrich.job", "--local",
        "--input-folder", str(corpus), "--input-format", INPUT_FORMAT,
        "--output-folder", str(out / "good"), "--bad-folder", str(out / "bad"),
        "--enrichments", encoded, "--etl-timestamp", str(ETL_TIMESTAMP_MS),
        "--counts-file", str(out / "counts.json"),
    ]  # fmt: skip
    env = dict(
        os.environ, PYSPARK_SUBMIT_ARGS=f"--master local[{cores}] --driver-memory 1g pyspark-shell"
    )
    run = run_sampled(command, env, work / f"spark-{corpus.name}.log")
    counts = json.loads((out / "counts.json").read_text())
    shutil.rmtree(out)
    return run, counts


def profile_core(corpus: Path, limit: int) -> str:
    """cProfile top 15 (by own time) of the core over the first ``limit`` lines."""
    enricher = sample_enricher()
    lines = [line for _, line in zip(range(limit), read_lines(corpus), strict=False)]
    profiler = cProfile.Profile()
    profiler.enable()
    for line in lines:
        enricher.process_line(line)
    profiler.disable()
    report = io.StringIO()
    pstats.Stats(profiler, stream=report).strip_dirs().sort_stats("tottime").print_stats(15)
    return f"{len(lines)} lines profiled\n" + report.getvalue().split("\n\n", 1)[-1].strip()


def machine() -> dict[str, str]:
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    return describe(
        Java=(java.stderr.splitlines() or ["not found"])[0], pyspark=pyspark.__version__
    )


def render(
    args: argparse.Namespace,
    rows: list[Measurement],
    counts: dict[str, int],
    profile: str,
    load_before: str,
) -> str:
    floor = {row.size: row.run.seconds for row in rows if row.stage == "floor"}
    by_key = {(row.stage, row.size): row for row in rows}
    core = by_key[("core", "full")]
    core_iglu = by_key[("core-iglu", "full")]
    spark = by_key[("spark", "full")]
    spark_quarter = by_key[("spark", "quarter")]
    extra_seconds = spark.run.seconds - spark_quarter.run.seconds
    spark_marginal = (
        f"{(spark.events - spark_quarter.events) / extra_seconds / spark.cores:,.0f} events/s "
        "per core"
        if extra_seconds > 0
        else "not measurable (the full run was not slower)"
    )
    verdict = (
        "meets the goal" if core.per_core >= CORE_GOAL
        else "meets the target" if core.per_core >= CORE_TARGET
        else "BELOW the target"
    )  # fmt: skip
    lines = [
        f"# Enrichment benchmark, {dt.date.today().isoformat()}",
        "",
        f"Command: `{' '.join(['.venv/bin/python', 'bench/enrich_bench.py', *sys.argv[1:]])}`",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in machine().items()),
        f"- Load average (1, 5, 15 min) before the run: {load_before}; after: {load_average()}. "
        "Other work on the machine slows every stage.",
        "",
        "## Corpus",
        "",
        f"- {args.events:,} events (full) and {args.events // 4:,} (quarter), format "
        f"`{INPUT_FORMAT}`, {args.files} gzip file(s) (full), bad fraction {args.bad_fraction}, "
        f"contexts on {args.contexts_share:.0%} of the lines",
        f"- Full corpus output (Spark job counts): `{json.dumps(counts)}`",
        "- Enrichments: the sample folder `snowplow_dagster/sample_data/enrichments/`",
        "",
        "## Throughput and memory",
        "",
        "Events/s per core: floor and core run in one process (one core) and time their loop "
        "over the lines (building the Enricher excluded); Spark runs on "
        f"local[{spark.cores}] with a 1 GiB driver heap, is divided by {spark.cores}, and is "
        "timed as the wall clock of the whole application, JVM start-up included. × floor = "
        "stage time / floor time at the same size. Peak RSS sums the process tree (driver JVM "
        "and Python workers for Spark), so pages shared between forked workers count more than "
        "once: an upper bound; the JVM's own peak is in brackets.",
        "",
        "| stage | size | events | seconds | events/s per core | × floor | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|",
        *(
            f"| {row.stage} | {row.size} | {row.events:,} | {row.run.seconds:.1f} | "
            f"{row.per_core:,.0f} | {row.run.seconds / max(floor[row.size], 1e-9):.1f} | "
            f"{row.run.peak_rss / 2**20:,.0f}"
            + (f" (JVM {row.run.peak_jvm_rss / 2**20:,.0f})" if row.run.peak_jvm_rss else "")
            + " |"
            for row in rows
        ),
        "",
        f"- Per-event core at full size: **{core.per_core:,.0f} events/s per core**, {verdict} "
        f"(target {CORE_TARGET:,}, goal {CORE_GOAL:,}).",
        f"- With Iglu validation (core-iglu, the sample resolver's schemas): "
        f"**{core_iglu.per_core:,.0f} events/s per core**, "
        f"{'meets' if core_iglu.per_core >= CORE_TARGET else 'BELOW'} the target.",
        f"- Spark beyond its fixed start-up cost (the extra events of the full corpus over the "
        f"extra seconds they took): {spark_marginal}.",
        "- Memory, quarter → full size: "
        + ", ".join(
            f"{stage} {by_key[(stage, 'quarter')].run.peak_rss / 2**20:,.0f} → "
            f"{by_key[(stage, 'full')].run.peak_rss / 2**20:,.0f} MiB"
            for stage in ("floor", "core", "spark")
        )
        + "; Spark without its JVM: "
        + " → ".join(
            f"{by_key[('spark', size)].run.peak_python_rss / 2**20:,.0f}"
            for size in ("quarter", "full")
        )
        + " MiB (the JVM heap is capped at 1 GiB).",
        "",
        "## Where the core spends its time (cProfile, top 15 by own time)",
        "",
        "```",
        profile,
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, help="gzip files in the full corpus (events/50k)")
    parser.add_argument("--bad-fraction", type=float, default=0.01)
    parser.add_argument("--profile-lines", type=int, default=50_000)
    parser.add_argument("--workdir", type=Path, help="kept afterwards if given")
    parser.add_argument(
        "--contexts-share", type=float, default=0.3, help="lines whose events carry contexts"
    )
    parser.add_argument("--child", choices=("floor", "core", "core-iglu"), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child, args.corpus)
    cores = os.cpu_count() or 1
    args.files = args.files or max(cores, args.events // 50_000)

    load_before = load_average()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="enrich-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = {"quarter": args.events // 4, "full": args.events}
    corpora = {size: work / f"corpus-{size}" for size in sizes}
    try:
        for size, events in sizes.items():
            if not corpus_files(corpora[size]):
                started = time.perf_counter()
                # At least one file per core, so both sizes run as many Python workers.
                files = max(cores, args.files // 4) if size == "quarter" else args.files
                generate(corpora[size], events, files, args.bad_fraction, args.contexts_share)
                print(f"generated {size} corpus in {time.perf_counter() - started:.1f} s")
        rows: list[Measurement] = []
        counts: dict[str, int] = {}
        for size, events in sizes.items():
            for stage in ("floor", "core", "core-iglu", "spark"):
                if stage == "spark":
                    run, counts = run_spark(corpora[size], work, cores)
                else:
                    run = run_child(stage, corpora[size], work)
                used = cores if stage == "spark" else 1
                rows.append(Measurement(stage, size, events, used, run))
                print(f"{stage} {size}: {run.seconds:.1f} s, {rows[-1].per_core:,.0f} ev/s/core")
        profile = profile_core(corpora["quarter"], args.profile_lines)
        report = render(args, rows, counts, profile, load_before)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"enrich-{dt.date.today().isoformat()}.md"
    target.write_text(report)
    print(report)
    print(f"written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
