"""Names shared by assets, checks, jobs and sensors, so the UI, pools and tags line up."""

RAW_GROUP = "raw"
STAGED_GROUP = "staged"
ENRICHED_GROUP = "enriched"
ARCHIVED_GROUP = "archived"
STREAM_GROUP = "stream"
LOADED_GROUP = "loaded"

EMR_POOL = "emr"
"""Bounds how many enrichments (EMR clusters, or local Spark applications) run at once:
``dagster instance concurrency set emr 1``."""

BATCH_JOB = "batch_job"
STREAM_JOB = "stream_job"

BATCH_TAG = "snowplow/batch"
"""On each run a sensor or pass requests: filterable in the UI, usable by concurrency limits."""

PARTITION_TAG = "dagster/partition"
