"""The code location's ``Definitions``, put together in one place.

``definitions.py`` gives Dagster the location with the default pipeline resource; a pass
(``passes.py``) builds the same one around the pipeline it was given and runs its jobs in-process,
so what a cron ``run`` executes is what the UI shows.
"""

import dagster as dg

from snowplow_dagster.assets import all_assets, asset_checks
from snowplow_dagster.jobs import jobs
from snowplow_dagster.resources.pipeline import SnowplowPipeline
from snowplow_dagster.sensors import in_bucket_sensor


def build_definitions(pipeline: SnowplowPipeline) -> dg.Definitions:
    return dg.Definitions(
        assets=all_assets,
        asset_checks=asset_checks,
        jobs=jobs,
        sensors=[in_bucket_sensor],
        resources={"pipeline": pipeline},
    )
