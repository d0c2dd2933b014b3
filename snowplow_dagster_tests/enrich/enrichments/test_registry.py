import json
import logging
import shutil

import pytest

from snowplow_dagster.enrich.enrichments.registry import (
    ENRICHMENTS_SCHEMA,
    EnrichmentConfigError,
    EnrichmentRegistry,
    load_enrichments_directory,
)
from snowplow_dagster.enrich.event import EnrichedEvent
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS

SAMPLE = SAMPLE_ENRICHMENTS
SNOWPLOW = "iglu:com.snowplowanalytics.snowplow"


def _enrichment(name, parameters, version="1-0-0", enabled=True, vendor=SNOWPLOW):
    return {
        "schema": f"{vendor}/{name}/jsonschema/{version}",
        "data": {"name": name, "vendor": vendor[5:], "enabled": enabled, "parameters": parameters},
    }


def _wrapper(*items):
    return {"schema": ENRICHMENTS_SCHEMA, "data": list(items)}


ANON_IP = _enrichment("anon_ip", {"anonOctets": 1})
CURRENCY = _enrichment(
    "currency_conversion_config",
    {"accountType": "DEVELOPER", "apiKey": "sk-very-secret", "baseCurrency": "EUR"},
)


def test_sample_folder_builds_every_default_enrichment():
    wrapper = load_enrichments_directory(SAMPLE)
    registry = EnrichmentRegistry.from_json(json.dumps(wrapper))

    assert wrapper["schema"] == ENRICHMENTS_SCHEMA
    assert [item["data"]["name"] for item in wrapper["data"]] == [
        "anon_ip",
        "campaign_attribution",
        "event_fingerprint_config",
        "ip_lookups",
        "referer_parser",
        "ua_parser_config",
        "user_agent_utils_config",
    ]
    assert registry.pii is None
    assert registry.anon_ip.anonymise("216.160.83.56") == "216.160.83.x"
    event = EnrichedEvent()
    registry.ip_lookups.enrich(event, "216.160.83.56")
    assert (event.geo_city, event.ip_isp) == ("Milton", "Century Link")


def test_directory_loader_makes_relative_uris_absolute_against_the_file(tmp_path):
    shutil.copytree(SAMPLE, tmp_path / "enrichments")
    shutil.copytree(SAMPLE.parent / "maxmind", tmp_path / "maxmind")
    wrapper = load_enrichments_directory(tmp_path / "enrichments")
    ip_lookups = next(item for item in wrapper["data"] if item["data"]["name"] == "ip_lookups")
    assert (
        ip_lookups["data"]["parameters"]["geo"]["uri"] == (tmp_path / "maxmind").resolve().as_uri()
    )


def test_empty_registry_means_no_enrichments():
    assert EnrichmentRegistry.from_json(_wrapper()) == EnrichmentRegistry()


def test_unknown_and_disabled_enrichments_are_logged_and_skipped(caplog):
    disabled = _enrichment("referer_parser", {"internalDomains": []}, enabled=False)
    with caplog.at_level(logging.INFO, logger="snowplow_dagster.enrich.enrichments.registry"):
        registry = EnrichmentRegistry.from_json(_wrapper(CURRENCY, disabled, ANON_IP))
    assert registry == EnrichmentRegistry(anon_ip=registry.anon_ip)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "Ignoring enrichment currency_conversion_config" in messages[0]
    assert "referer_parser is disabled" in messages[1]
    assert "sk-very-secret" not in caplog.text


def test_unsupported_disabled_versions_are_not_checked():
    assert EnrichmentRegistry.from_json(
        _wrapper(_enrichment("anon_ip", {}, version="9-0-0", enabled=False))
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{not json", "Enrichments config is not valid JSON"),
        ({"schema": ENRICHMENTS_SCHEMA}, "Enrichments config is not a self-describing JSON"),
        ({"schema": f"{SNOWPLOW}/contexts/jsonschema/1-0-0", "data": []}, "must be an array of"),
        ({"schema": ENRICHMENTS_SCHEMA, "data": {}}, "must be an array of"),
        (
            _wrapper({"data": {"apiKey": "sk-very-secret"}}),
            "Enrichment #1 is not a self-describing JSON",
        ),
        (
            _wrapper({"schema": "anon_ip", "data": {}}),
            "Enrichment #1: schema 'anon_ip' is not an Iglu URI",
        ),
        (
            _wrapper(
                {
                    "schema": f"{SNOWPLOW}/anon_ip/jsonschema/1-0-0",
                    "data": {"parameters": {"anonOctets": 1}},
                }
            ),
            "anon_ip/jsonschema/1-0-0: data.enabled must be true or false",
        ),
        (
            _wrapper(_enrichment("ip_lookups", {}, version="1-0-0")),
            "ip_lookups/jsonschema/1-0-0: unsupported schema; ip_lookups supports "
            "iglu:com.snowplowanalytics.snowplow/ip_lookups/jsonschema/2-0-*",
        ),
        (
            _wrapper(_enrichment("anon_ip", {"anonOctets": 1}, vendor="iglu:com.acme")),
            "iglu:com.acme/anon_ip/jsonschema/1-0-0: unsupported schema",
        ),
        (
            _wrapper(_enrichment("anon_ip", {"anonOctets": 7})),
            f"Enrichment {SNOWPLOW}/anon_ip/jsonschema/1-0-0: "
            "parameters.anonOctets must be an integer from 1 to 4",
        ),
        (_wrapper(ANON_IP, ANON_IP), "anon_ip/jsonschema/1-0-0 is configured twice"),
        (
            _wrapper(_enrichment("ua_parser_config", [], version="1-0-0")),
            "data.parameters must be an object",
        ),
    ],
)
def test_configuration_errors(config, message):
    with pytest.raises(EnrichmentConfigError) as error:
        EnrichmentRegistry.from_json(config)
    assert message in str(error.value)
    assert "sk-very-secret" not in str(error.value)


def test_pii_errors_never_show_the_salt():
    pii = _enrichment(
        "pii_enrichment_config",
        {
            "pii": [{"pojo": {"field": "user_id"}}],
            "strategy": {"pseudonymize": {"hashFunction": "SHA-3", "salt": "pepper-secret"}},
        },
        version="2-0-0",
        vendor="iglu:com.snowplowanalytics.snowplow.enrichments",
    )
    with pytest.raises(EnrichmentConfigError) as error:
        EnrichmentRegistry.from_json(_wrapper(pii))
    assert "hashFunction is 'SHA-3'" in str(error.value)
    assert "pepper-secret" not in str(error.value)


def test_pii_is_built_from_its_own_vendor():
    pii = _enrichment(
        "pii_enrichment_config",
        {
            "pii": [{"pojo": {"field": "user_id"}}],
            "strategy": {"pseudonymize": {"hashFunction": "SHA-1", "salt": "x"}},
        },
        version="2-0-0",
        vendor="iglu:com.snowplowanalytics.snowplow.enrichments",
    )
    assert EnrichmentRegistry.from_json(_wrapper(pii)).pii.pojo_fields == ("user_id",)


def test_directory_errors_name_the_file(tmp_path):
    with pytest.raises(EnrichmentConfigError, match="does not exist"):
        load_enrichments_directory(tmp_path / "missing")

    (tmp_path / "anon_ip.json").write_text(
        '{"schema": "iglu:com.snowplowanalytics.snowplow/anon_ip/'
    )
    with pytest.raises(EnrichmentConfigError) as error:
        load_enrichments_directory(tmp_path)
    assert f"Enrichment file {tmp_path / 'anon_ip.json'} is not valid JSON" in str(error.value)

    (tmp_path / "anon_ip.json").write_text(json.dumps({"data": {"name": "anon_ip"}}))
    with pytest.raises(EnrichmentConfigError, match=r"anon_ip\.json is not a self-describing JSON"):
        load_enrichments_directory(tmp_path)


def test_directory_loader_reads_only_json_files(tmp_path):
    (tmp_path / "anon_ip.json").write_text(json.dumps(ANON_IP))
    (tmp_path / "anon_ip.json.bak").write_text("not json")
    (tmp_path / "README.md").write_text("# enrichments")
    assert load_enrichments_directory(tmp_path) == _wrapper(ANON_IP)
