import pytest

from snowplow_dagster.enrich.enrichments.campaign_attribution import CampaignAttribution
from snowplow_dagster.enrich.enrichments.config import EnrichmentConfigError
from snowplow_dagster.enrich.event import EnrichedEvent

SPARK_SPEC_FIELDS = {
    "mktMedium": ["utm_medium", "medium"],
    "mktSource": ["utm_source", "source"],
    "mktTerm": ["utm_term", "legacy_term"],
    "mktContent": ["utm_content"],
    "mktCampaign": ["utm_campaign", "cid", "legacy_campaign"],
}
MKT_COLUMNS = (
    "mkt_medium",
    "mkt_source",
    "mkt_term",
    "mkt_content",
    "mkt_campaign",
    "mkt_clickid",
    "mkt_network",
)


def _mkt(enrichment: CampaignAttribution, query: dict) -> dict:
    event = EnrichedEvent()
    enrichment.enrich(event, query)
    return {
        column: getattr(event, column)
        for column in MKT_COLUMNS
        if getattr(event, column) is not None
    }


def test_defaults_read_utm_parameters_and_google_click_id():
    enrichment = CampaignAttribution.from_parameters({})
    query = {
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_term": "shoes",
        "utm_content": "top",
        "utm_campaign": "spring",
        "gclid": "abc123",
        "view": "print",
    }
    assert _mkt(enrichment, query) == {
        "mkt_medium": "email",
        "mkt_source": "newsletter",
        "mkt_term": "shoes",
        "mkt_content": "top",
        "mkt_campaign": "spring",
        "mkt_clickid": "abc123",
        "mkt_network": "Google",
    }


def test_first_parameter_in_list_order_wins_not_url_order():
    enrichment = CampaignAttribution.from_parameters(
        {"mapping": "static", "fields": SPARK_SPEC_FIELDS}
    )
    query = {"legacy_campaign": "old", "cid": "middle", "medium": "cpc"}
    assert _mkt(enrichment, query) == {"mkt_campaign": "middle", "mkt_medium": "cpc"}


def test_parameter_without_value_still_wins():
    enrichment = CampaignAttribution.from_parameters({"fields": SPARK_SPEC_FIELDS})
    assert _mkt(enrichment, {"utm_source": None, "source": "fallback"}) == {}


def test_click_ids_default_order_then_custom_networks():
    custom = {**SPARK_SPEC_FIELDS, "mktClickId": {"fbclid": "Facebook", "msclkid": "Bing Ads"}}
    enrichment = CampaignAttribution.from_parameters({"fields": custom})
    assert _mkt(enrichment, {"fbclid": "f", "dclid": "d"}) == {
        "mkt_clickid": "d",
        "mkt_network": "DoubleClick",
    }
    assert _mkt(enrichment, {"msclkid": "m"}) == {"mkt_clickid": "m", "mkt_network": "Bing Ads"}
    assert _mkt(enrichment, {"fbclid": "f"}) == {"mkt_clickid": "f", "mkt_network": "Facebook"}


def test_values_are_made_tsv_safe():
    enrichment = CampaignAttribution.from_parameters({})
    assert _mkt(enrichment, {"utm_source": "a\tb\nc", "utm_term": "\x00"}) == {
        "mkt_source": "a    bc"
    }


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (
            {"fields": {**SPARK_SPEC_FIELDS, "mktSource": "utm_source"}},
            "parameters.fields.mktSource must be an array of strings",
        ),
        (
            {"fields": {**SPARK_SPEC_FIELDS, "mktTerm": ["utm_term", 3]}},
            "parameters.fields.mktTerm must be an array of strings",
        ),
        ({"fields": {"mktMedium": ["utm_medium"]}}, "parameters.fields.mktSource is required"),
        (
            {"fields": {**SPARK_SPEC_FIELDS, "mktClickId": {"gclid": 1}}},
            "mktClickId values must be strings",
        ),
        ({"fields": {**SPARK_SPEC_FIELDS, "mktNetwork": []}}, "unsupported key(s) mktNetwork"),
        ({"field": {}}, "parameters has unsupported key(s) field"),
    ],
)
def test_configuration_errors_name_the_key(parameters, message):
    with pytest.raises(EnrichmentConfigError) as error:
        CampaignAttribution.from_parameters(parameters)
    assert message in str(error.value)
