"""Generated collector logs, enriched with every enrichment on, must load with the analytics SDK.

The Python analytics SDK is what downstream users parse enriched events with: it checks the 131
columns, every typed column (timestamps, ints, doubles, booleans) and the self-describing JSON
columns. Counts must add up too: every line is good, bad or a header, and nothing is lost.
"""

import json

import pytest
from snowplow_analytics_sdk.event_transformer import transform

from snowplow_dagster.enrich.enricher import Enricher
from snowplow_dagster.enrich.enrichments.registry import load_enrichments_directory
from snowplow_dagster.generator import generate_records
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS, SAMPLE_RESOLVER

EVENTS = 2500


@pytest.fixture(scope="module")
def enrichments():
    """The sample enrichments folder (ip_lookups on the MaxMind test databases, anon_ip,
    campaigns, referers, both user-agent parsers, fingerprints) plus PII pseudonymisation."""
    config = load_enrichments_directory(SAMPLE_ENRICHMENTS)
    strategy = {"pseudonymize": {"hashFunction": "SHA-256", "salt": "pepper"}}
    config["data"].append(
        {
            "schema": "iglu:com.snowplowanalytics.snowplow.enrichments/pii_enrichment_config/"
            "jsonschema/2-0-0",
            "data": {
                "name": "pii_enrichment_config",
                "vendor": "com.snowplowanalytics.snowplow.enrichments",
                "enabled": True,
                "parameters": {"pii": [{"pojo": {"field": "user_id"}}], "strategy": strategy},
            },
        }
    )
    return config


@pytest.mark.parametrize("input_format", ["cloudfront", "clj-tomcat"])
def test_generated_logs_enrich_to_sdk_loadable_events(input_format, enrichments):
    resolver = json.loads(SAMPLE_RESOLVER.read_text())  # the generator's schemas, embedded
    enricher = Enricher.from_config(input_format, enrichments, 1_700_000_000_000, resolver)
    records = list(generate_records(input_format, EVENTS, seed=11, bad_fraction=0.04))
    good_lines = bad_lines = expected_good_events = 0
    parsed = []
    for record in records:
        result = enricher.process_line(record.text)
        assert not result.skipped
        if record.good:
            assert result.bad == [], result.bad
            assert len(result.good) == record.events
            expected_good_events += record.events
            good_lines += 1
        else:
            assert result.bad, record.text
            assert all(json.loads(row)["line"] == record.text for row in result.bad)
            bad_lines += 1
        parsed.extend(transform(tsv) for tsv in result.good)

    assert good_lines + bad_lines == len(records)
    assert bad_lines > 0
    assert sum(record.events for record in records) == EVENTS
    assert len(parsed) == expected_good_events > EVENTS * 0.9

    # The enrichments really ran, and their output survived the SDK's typing.
    assert any("geo_country" in event and "geo_latitude" in event for event in parsed)
    assert any("refr_medium" in event for event in parsed)
    assert any("br_family" in event for event in parsed)
    assert all(len(event["event_fingerprint"]) == 32 for event in parsed)
    assert all(
        "contexts_com_snowplowanalytics_snowplow_ua_parser_context_1" in event
        for event in parsed
        if "useragent" in event
    )
    assert {event["event"] for event in parsed} >= {"page_view", "page_ping"}
