import json

import pytest

from snowplow_dagster.enrich.enrichments.config import EnrichmentConfigError
from snowplow_dagster.enrich.enrichments.ua_parser import UaParser

FIREFOX_12 = "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:12.0) Gecko/20100101 Firefox/12.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 5_1_1 like Mac OS X) AppleWebKit/534.46 "
    "(KHTML, like Gecko) Version/5.1 Mobile/9B206 Safari/7534.48.3"
)


def test_context_matches_the_spark_enrich_vector():
    # From Spark Enrich 1.18's YauaaEnrichmentCfLineSpec (uap-java 1.4.0), serialised compactly.
    expected = (
        '{"schema":"iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0",'
        '"data":{"useragentFamily":"Firefox","useragentMajor":"12","useragentMinor":"0",'
        '"useragentPatch":null,"useragentVersion":"Firefox 12.0","osFamily":"Windows",'
        '"osMajor":"7","osMinor":null,"osPatch":null,"osPatchMinor":null,'
        '"osVersion":"Windows 7","deviceFamily":"Other"}}'
    )
    context = UaParser.from_parameters({}).context(FIREFOX_12)
    assert json.dumps(context, separators=(",", ":")) == expected


def test_versions_join_every_present_part():
    data = UaParser.from_parameters({}).context(IPHONE)["data"]
    assert data["useragentVersion"] == "Mobile Safari 5.1"
    assert data["osVersion"] == "iOS 5.1.1"
    assert data["deviceFamily"] == "iPhone"


def test_unrecognised_user_agents_are_other_with_null_versions():
    data = UaParser.from_parameters({}).context("definitely not a browser")["data"]
    assert data["useragentFamily"] == data["osFamily"] == data["deviceFamily"] == "Other"
    assert data["useragentMajor"] is None
    assert data["useragentVersion"] == "Other"


def test_account_type_is_accepted_and_custom_regexes_are_refused():
    UaParser.from_parameters({"accountType": "developer"})
    with pytest.raises(EnrichmentConfigError, match=r"unsupported key.* regexFileUri"):
        UaParser.from_parameters({"regexFileUri": "s3://bucket/regexes.yaml"})
