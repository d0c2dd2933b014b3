"""The code location: the Definitions object Dagster loads, and nothing else.

The mode comes from the configured ``config.yml`` (``configured_stream_mode``); ``loaded_events``
and its check are there only when a PostgreSQL target is configured (``$SNOWPLOW_DAGSTER_TARGETS``,
a storage targets folder).
"""

import os

from snowplow_dagster.code_location import build_definitions
from snowplow_dagster.loading.warehouse import TARGETS_ENV, PostgresWarehouse
from snowplow_dagster.resources import SnowplowPipeline, configured_stream_mode

defs = build_definitions(
    SnowplowPipeline(),
    stream_mode=configured_stream_mode(),
    warehouse=PostgresWarehouse() if os.environ.get(TARGETS_ENV) else None,
)
