"""The Spark job validates contexts and unstruct events on its workers, with ``--iglu-config``."""

from __future__ import annotations

import json

import pytest

from snowplow_dagster.enrich.enrichments.registry import load_enrichments_directory
from snowplow_dagster.enrich.job import UsageError, parse_args, run_job
from snowplow_dagster.generator import write_log_files
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS
from snowplow_dagster_tests.enrich.test_job import (
    encode,
    input_lines,
    job_args,
    output_lines,
)


def _resolver(uri: str) -> dict:
    return {
        "schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-1",
        "data": {
            "cacheSize": 100,
            "repositories": [
                {
                    "name": "Loopback",
                    "priority": 0,
                    "vendorPrefixes": ["com.snowplowanalytics"],
                    "connection": {"http": {"uri": uri}},
                }
            ],
        },
    }


@pytest.mark.spark
def test_the_workers_validate_against_an_http_repository(spark, tmp_path, iglu_server):
    write_log_files(tmp_path / "in", "cloudfront", 1500, files=3, seed=5, bad_fraction=0.2)
    enrichments = load_enrichments_directory(SAMPLE_ENRICHMENTS)
    args = job_args(
        tmp_path, "cloudfront", enrichments, "--iglu-config", encode(_resolver(iglu_server.uri))
    )

    counts = run_job(args, spark)

    good = output_lines(tmp_path / "good")
    bad = [json.loads(row) for row in output_lines(tmp_path / "bad")]
    assert counts.input_lines == len(input_lines(tmp_path / "in"))
    assert counts.input_lines == counts.skipped_lines + counts.lines_with_output
    schema_rows = [
        row
        for row in bad
        if any('not allowed by the schema: ["pageType"]' in e["message"] for e in row["errors"])
    ]
    assert schema_rows, "the generator's schema-violating web_page contexts are bad rows"
    assert all("pageType" not in line for line in good)
    assert counts.event_types["unstruct"] > 0  # link_click validated, and good
    # Each schema is fetched once per Python worker (one per task slot here), never per event.
    fetched = dict(iglu_server.requests)
    assert set(fetched) == {
        f"/schemas/com.snowplowanalytics.snowplow/{name}"
        for name in (
            "web_page/jsonschema/1-0-0",
            "geolocation_context/jsonschema/1-0-0",
            "link_click/jsonschema/1-0-1",
        )
    }
    assert max(fetched.values()) <= spark.sparkContext.defaultParallelism * 3
    assert counts.good_events > 10 * max(fetched.values())


def test_an_unusable_iglu_config_fails_before_spark_starts(tmp_path):
    broken = _resolver("http://127.0.0.1:1")
    del broken["data"]["repositories"][0]["connection"]["http"]
    args = job_args(
        tmp_path, "cloudfront", {"schema": "x", "data": []}, "--iglu-config", encode(broken)
    )
    with pytest.raises(UsageError, match=r"data\.repositories\[0\]\.connection: must have"):
        parse_args(args)
