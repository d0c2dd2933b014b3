"""The batch's assets, one group per stage, and the checks on them."""

from snowplow_dagster.assets.archived import archived_logs
from snowplow_dagster.assets.checks import asset_checks
from snowplow_dagster.assets.enriched import enriched_events
from snowplow_dagster.assets.loaded import loading_assets, loading_checks
from snowplow_dagster.assets.raw import raw_logs
from snowplow_dagster.assets.staged import staged_logs
from snowplow_dagster.assets.stream import staged_enriched

batch_assets = [raw_logs, staged_logs, enriched_events, archived_logs]
stream_assets = [raw_logs, staged_enriched]
all_assets = [*batch_assets, staged_enriched]

__all__ = [
    "all_assets",
    "asset_checks",
    "batch_assets",
    "loading_assets",
    "loading_checks",
    "stream_assets",
]
