"""One job per mode, each a batch's whole path (partitioned by batch, as its assets are)."""

import dagster as dg

from snowplow_dagster.assets import batch_assets, stream_assets
from snowplow_dagster.config import PipelineConfig
from snowplow_dagster.constants import BATCH_JOB, LOADED_GROUP, STREAM_JOB

batch_job = dg.define_asset_job(
    BATCH_JOB,
    # The loaded group is there only when a target is configured (``loading_definitions``).
    selection=dg.AssetSelection.assets(*batch_assets) | dg.AssetSelection.groups(LOADED_GROUP),
    description=(
        "Raw logs -> staged -> enriched -> archived (and loaded, with a target), for one batch; "
        "checks included."
    ),
)

stream_job = dg.define_asset_job(
    STREAM_JOB,
    selection=dg.AssetSelection.assets(*stream_assets),
    description="Stream Enrich mode: stage one batch of enriched files into enriched/good/run=ID/.",
)

jobs = [batch_job, stream_job]


def job_name_for(config: PipelineConfig) -> str:
    """The job of the config's mode: ``stream_mode`` is the one place the mode is said."""
    return STREAM_JOB if config.stream_mode else BATCH_JOB
