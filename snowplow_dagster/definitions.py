"""The code location: the Definitions object Dagster loads, and nothing else.

``loaded_events`` and its check are there only when a PostgreSQL target is configured
(``$SNOWPLOW_DAGSTER_TARGETS``, a storage targets folder).
"""

import os

from snowplow_dagster.code_location import build_definitions
from snowplow_dagster.resources.pipeline import SnowplowPipeline
from snowplow_dagster.resources.warehouse import TARGETS_ENV, PostgresWarehouse

defs = build_definitions(
    SnowplowPipeline(), PostgresWarehouse() if os.environ.get(TARGETS_ENV) else None
)
