"""Shared fixtures live in ``fixtures/``, one module per real service the tests start."""

pytest_plugins = [
    "snowplow_dagster_tests.fixtures.spark",
    "snowplow_dagster_tests.fixtures.s3",
    "snowplow_dagster_tests.fixtures.iglu",
    "snowplow_dagster_tests.fixtures.postgres",
]
