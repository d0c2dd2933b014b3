"""The code location's ``Definitions``, put together in one place.

``definitions.py`` gives Dagster the location with the default pipeline resource; a pass
(``passes.py``) builds the same one around the pipeline it was given and runs its jobs in-process,
so what a cron ``run`` executes is what the UI shows.
"""

import dagster as dg

from snowplow_dagster.assets import all_assets, asset_checks, loading_assets, loading_checks
from snowplow_dagster.jobs import jobs
from snowplow_dagster.resources.pipeline import SnowplowPipeline
from snowplow_dagster.resources.warehouse import PostgresWarehouse
from snowplow_dagster.sensors import in_bucket_sensor


def build_definitions(
    pipeline: SnowplowPipeline, warehouse: PostgresWarehouse | None = None
) -> dg.Definitions:
    """With a ``warehouse`` (a storage target), ``loaded_events`` and its check are defined too."""
    loading = warehouse is not None
    return dg.Definitions(
        assets=[*all_assets, *(loading_assets if loading else [])],
        asset_checks=[*asset_checks, *(loading_checks if loading else [])],
        jobs=jobs,
        sensors=[in_bucket_sensor],
        resources={"pipeline": pipeline, **({"warehouse": warehouse} if loading else {})},
    )
