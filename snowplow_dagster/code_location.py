"""The code location's ``Definitions``, put together in one place.

``definitions.py`` gives Dagster the location with the default pipeline resource; a pass
(``passes.py``) builds the same one around the pipeline it was given and runs its jobs in-process,
so what a cron ``run`` executes is what the UI shows.

Only the configured mode's assets and job are defined, so batch mode's UI shows no stream asset
that could never materialise (and "Materialize all" never picks one), and stream mode none of
batch mode's. ``loaded_events`` and its check are there only with a storage target (batch mode).
"""

import dagster as dg

from snowplow_dagster.assets import (
    asset_checks,
    batch_assets,
    loading_assets,
    loading_checks,
    stream_assets,
)
from snowplow_dagster.jobs import batch_job, stream_job
from snowplow_dagster.loading.warehouse import PostgresWarehouse
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.sensors import build_in_bucket_sensor


def build_definitions(
    pipeline: SnowplowPipeline,
    *,
    stream_mode: bool,
    warehouse: PostgresWarehouse | None = None,
) -> dg.Definitions:
    """The mode's assets (with their checks), its job and the sensor that requests it."""
    loading = warehouse is not None and not stream_mode
    assets = stream_assets if stream_mode else [*batch_assets, *(loading_assets if loading else [])]
    job = stream_job if stream_mode else batch_job
    keys = {key for asset in assets for key in asset.keys}
    checks = [*asset_checks, *(loading_checks if loading else [])]
    return dg.Definitions(
        assets=assets,
        asset_checks=[c for c in checks if {s.asset_key for s in c.check_specs} <= keys],
        jobs=[job],
        sensors=[build_in_bucket_sensor(job)],
        resources={"pipeline": pipeline, **({"warehouse": warehouse} if loading else {})},
    )
