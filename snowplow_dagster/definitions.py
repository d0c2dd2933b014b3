"""The code location: the Definitions object Dagster loads, and nothing else.

``loaded_events`` and its check are there only when a PostgreSQL target is configured
(``$SNOWPLOW_DAGSTER_TARGETS``, a storage targets folder).
"""

import os

import dagster as dg

from snowplow_dagster.assets import all_assets, asset_checks, loading_assets, loading_checks
from snowplow_dagster.jobs import jobs
from snowplow_dagster.resources.pipeline import SnowplowPipeline
from snowplow_dagster.resources.warehouse import TARGETS_ENV, PostgresWarehouse
from snowplow_dagster.sensors import in_bucket_sensor

_loading = bool(os.environ.get(TARGETS_ENV))

defs = dg.Definitions(
    assets=[*all_assets, *(loading_assets if _loading else [])],
    asset_checks=[*asset_checks, *(loading_checks if _loading else [])],
    jobs=jobs,
    sensors=[in_bucket_sensor],
    resources={
        "pipeline": SnowplowPipeline(),
        **({"warehouse": PostgresWarehouse()} if _loading else {}),
    },
)
