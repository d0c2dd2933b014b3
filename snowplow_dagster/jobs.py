"""One job per mode, each a batch's whole path (partitioned by batch, as its assets are)."""

import dagster as dg

from snowplow_dagster.assets import batch_assets, stream_assets
from snowplow_dagster.config import PipelineConfig
from snowplow_dagster.constants import BATCH_JOB, STREAM_JOB

batch_job = dg.define_asset_job(
    BATCH_JOB,
    selection=dg.AssetSelection.assets(*batch_assets),
    description="Raw logs -> staged -> enriched -> archived, for one batch; checks included.",
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
