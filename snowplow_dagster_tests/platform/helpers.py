"""A config.yml over one storage root, and raw logs put where collectors would write them."""

import gzip
from pathlib import Path

from snowplow_dagster.engines.contract import StepConfig
from snowplow_dagster.engines.local.engine import LocalEngine
from snowplow_dagster.generator import write_log_files
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.storage import Location
from snowplow_dagster_tests.fixtures.s3 import Backend


def write_config(
    path: Path,
    root: Location,
    *,
    stream: bool = False,
    in_folders: tuple[str, ...] = ("in/",),
    quiet_period_seconds: int = 0,
    max_files_per_batch: int = 10_000,
) -> Path:
    """An EmrEtlRunner config.yml whose locations all live under ``root``, on the local engine."""

    def at(relative: str) -> str:
        return root.join(relative).uri

    if stream:
        buckets = f"""
      enriched:
        good: {at("enriched/good/")}
        archive: {at("archive/enriched/")}
        stream: {at("stream/")}"""
        collectors = ""
    else:
        ins = ", ".join(f'"{at(folder)}"' for folder in in_folders)
        buckets = f"""
      raw:
        in: [{ins}]
        processing: {at("processing/")}
        archive: {at("archive/raw/")}
      enriched:
        good: {at("enriched/good/")}
        bad: {at("enriched/bad/")}"""
        collectors = "collectors: {format: cloudfront}\n"
    path.write_text(
        f"""aws:
  s3:
    region: us-east-1
    buckets:
      log: {at("logs/")}{buckets}
{collectors}enrich: {{output_compression: GZIP}}
snowplow_dagster:
  engine: local
  manifests: {at("manifests/")}
  quiet_period_seconds: {quiet_period_seconds}
  max_files_per_batch: {max_files_per_batch}
  bad_row_ratio_warning: 0.5
  local_spark:
    master: local[2]
    driver_memory: 1g
    conf: {{spark.ui.enabled: "false", spark.sql.shuffle.partitions: "2"}}
"""
    )
    return path


def pipeline_for(tmp_path: Path, root: Location, **options: object) -> SnowplowPipeline:
    config = write_config(tmp_path / "config.yml", root, **options)  # type: ignore[arg-type]
    return SnowplowPipeline(
        config_path=str(config), local_engine=LocalEngine(scratch_dir=str(tmp_path / "scratch"))
    )


def put_raw_logs(
    backend: Backend, tmp_path: Path, folder: str, *, events: int, files: int, seed: int = 1
) -> int:
    """Generated CloudFront logs (10% bad) put under ``folder``; returns their line count."""
    generated = tmp_path / f"generated-{folder.strip('/').replace('/', '-')}-{seed}"
    lines = 0
    for path in write_log_files(
        generated, "cloudfront", events, files=files, bad_fraction=0.1, seed=seed
    ):
        backend.put(f"{folder}{path.name}", path.read_bytes())
        lines += len(gzip.decompress(path.read_bytes()).splitlines())
    return lines


def gunzipped_lines(objects: dict[str, bytes]) -> list[str]:
    return [
        line
        for name, data in sorted(objects.items())
        if not name.rpartition("/")[2].startswith("_")
        for line in (gzip.decompress(data) if name.endswith(".gz") else data).decode().splitlines()
    ]


def step_arg(step: StepConfig, flag: str) -> str:
    """The value after ``flag`` in an EMR step's arguments."""
    args = step["HadoopJarStep"]["Args"]
    return args[args.index(flag) + 1]
