"""The code location: the Definitions object Dagster loads, and nothing else."""

from snowplow_dagster.code_location import build_definitions
from snowplow_dagster.resources.pipeline import SnowplowPipeline

defs = build_definitions(SnowplowPipeline())
