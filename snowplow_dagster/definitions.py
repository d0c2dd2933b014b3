"""The code location: the Definitions object Dagster loads, and nothing else.

Only the configured mode's assets and job are defined, so batch mode's UI shows no stream asset
that could never materialise (and "Materialize all" never picks one), and stream mode none of
batch mode's.
"""

import dagster as dg

from snowplow_dagster.assets import asset_checks, batch_assets, stream_assets
from snowplow_dagster.jobs import batch_job, stream_job
from snowplow_dagster.resources.pipeline import SnowplowPipeline, configured_stream_mode
from snowplow_dagster.sensors import build_in_bucket_sensor


def build_definitions(stream_mode: bool) -> dg.Definitions:
    """The mode's assets (with their checks), its job and the sensor that requests it."""
    assets = stream_assets if stream_mode else batch_assets
    job = stream_job if stream_mode else batch_job
    keys = {key for asset in assets for key in asset.keys}
    return dg.Definitions(
        assets=assets,
        asset_checks=[c for c in asset_checks if {s.asset_key for s in c.check_specs} <= keys],
        jobs=[job],
        sensors=[build_in_bucket_sensor(job)],
        resources={"pipeline": SnowplowPipeline()},
    )


defs = build_definitions(configured_stream_mode())
