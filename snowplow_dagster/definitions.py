"""The code location: the Definitions object Dagster loads, and nothing else."""

import dagster as dg

from snowplow_dagster.assets import all_assets, asset_checks
from snowplow_dagster.jobs import jobs
from snowplow_dagster.resources.pipeline import SnowplowPipeline
from snowplow_dagster.sensors import in_bucket_sensor

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=asset_checks,
    jobs=jobs,
    sensors=[in_bucket_sensor],
    resources={"pipeline": SnowplowPipeline()},
)
