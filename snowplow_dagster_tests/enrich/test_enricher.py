import base64
import hashlib
import json
import re

import pytest

import snowplow_dagster.enrich.enricher as pipeline_module
from snowplow_dagster.enrich.enricher import Enricher
from snowplow_dagster.enrich.enrichments.registry import EnrichmentRegistry
from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS
from snowplow_dagster.enrich.manager import ETL_VERSION
from snowplow_dagster.samples import SAMPLE_MAXMIND

MAXMIND = SAMPLE_MAXMIND.as_uri()
ETL_TSTAMP_MS = 1000000000000


def _enrichment(name, parameters, version="1-0-0", vendor="com.snowplowanalytics.snowplow"):
    return {
        "schema": f"iglu:{vendor}/{name}/jsonschema/{version}",
        "data": {"name": name, "vendor": vendor, "enabled": True, "parameters": parameters},
    }


def spark_spec_enrichments(anon_octets=None, lookups=("geo", "isp"), pii=False):
    """``EnrichJobSpec.getEnrichments``: the configuration every Spark Enrich spec ran with."""
    databases = {
        "geo": "GeoIP2-City-Test.mmdb",
        "isp": "GeoIP2-ISP-Test.mmdb",
        "domain": "GeoIP2-Domain-Test.mmdb",
        "connectionType": "GeoIP2-Connection-Type-Test.mmdb",
    }
    items = [
        _enrichment(
            "ip_lookups",
            {name: {"database": databases[name], "uri": MAXMIND} for name in lookups},
            "2-0-0",
        ),
        _enrichment(
            "campaign_attribution",
            {
                "mapping": "static",
                "fields": {
                    "mktMedium": ["utm_medium", "medium"],
                    "mktSource": ["utm_source", "source"],
                    "mktTerm": ["utm_term", "legacy_term"],
                    "mktContent": ["utm_content"],
                    "mktCampaign": ["utm_campaign", "cid", "legacy_campaign"],
                },
            },
        ),
        _enrichment("user_agent_utils_config", {}),
        _enrichment("ua_parser_config", {}),
        _enrichment(
            "referer_parser", {"internalDomains": ["www.subdomain1.snowplowanalytics.com"]}
        ),
        _enrichment(
            "event_fingerprint_config",
            {"excludeParameters": ["eid", "stm"], "hashAlgorithm": "MD5"},
        ),
    ]
    if anon_octets is not None:
        items.append(_enrichment("anon_ip", {"anonOctets": anon_octets}))
    if pii:
        strategy = {"pseudonymize": {"hashFunction": "SHA-1", "salt": "pink123"}}
        fields = [{"pojo": {"field": "user_id"}}, {"pojo": {"field": "user_ipaddress"}}]
        items.append(
            _enrichment(
                "pii_enrichment_config",
                {"pii": fields, "strategy": strategy},
                "2-0-0",
                "com.snowplowanalytics.snowplow.enrichments",
            )
        )
    return {
        "schema": "iglu:com.snowplowanalytics.snowplow/enrichments/jsonschema/1-0-0",
        "data": items,
    }


def _enricher(input_format="cloudfront", **config):
    return Enricher.from_config(input_format, spark_spec_enrichments(**config), ETL_TSTAMP_MS)


def _bad_rows_without_tstamp(result):
    rows = [json.loads(row) for row in result.bad]
    for row in rows:
        assert row.pop("failure_tstamp")
    return rows


# SPEC/good/PageViewCfLineSpec.scala
PAGE_VIEW_LINE = (
    "2012-05-24  00:06:42  LHR5  3402  216.160.83.56  GET d3gs014xn8p70.cloudfront.net  /ice.pn"
    "g  200 http://www.psychicbazaar.com/crystals/335-howlite-tumble-stone.html?view=print#deta"
    "il Mozilla/5.0%20(iPhone;%20CPU%20iPhone%20OS%205_1_1%20like%20Mac%20OS%20X)%20AppleWebKit"
    "/534.46%20(KHTML,%20like%20Gecko)%20Version/5.1%20Mobile/9B206%20Safari/7534.48.3  &e=pv&e"
    "id=550e8400-e29b-41d4-a716-446655440000&page=Psychic%20Bazaar%09Shop&dtm=1364219529188&tid"
    "=637309&vp=2560x935&ds=2543x1273&vid=41&duid=9795bd0203804cd1&p=web&tv=js-0.11.1&fp=287681"
    "5413&aid=pbzsite&lang=en-GB&cs=UTF-8&tz=Europe%2FLondon&refr=http%253A%252F%252Fwww.google"
    ".com%252Fsearch%253Fq%253Dgateway%252Boracle%252Bcards%252Bdenise%252Blinn%2526hl%253Den%2"
    "526client%253Dsafari&f_pdf=1&f_qt=0&f_realp=0&f_wma=0&f_dir=0&f_fla=1&f_java=1&f_gears=0&f"
    "_ag=1&res=2560x1440&cd=32&cookie=1&url=http%3A%2F%2Fwww.psychicbazaar.com%2Fcrystals%2F335"
    "-howlite-tumble-stone.html%3Fview%3Dprint%23detail&cv=clj-0.5.0-tom-0.0.4"
)
PAGE_VIEW_EXPECTED = {
    0: "pbzsite",
    1: "web",
    2: "2001-09-09 01:46:40.000",
    3: "2012-05-24 00:06:42.000",
    4: "2013-03-25 13:52:09.188",
    5: "page_view",
    6: "550e8400-e29b-41d4-a716-446655440000",
    7: "637309",
    9: "js-0.11.1",
    10: "clj-0.5.0-tom-0.0.4",
    11: ETL_VERSION,
    13: "216.160.83.x",
    14: "2876815413",
    15: "9795bd0203804cd1",
    16: "41",
    18: "US",
    19: "WA",
    20: "Milton",
    21: "98354",
    22: "47.2513",
    23: "-122.3149",
    24: "Washington",
    25: "Century Link",
    26: "Lariat Software",
    29: "http://www.psychicbazaar.com/crystals/335-howlite-tumble-stone.html?view=print#detail",
    30: "Psychic Bazaar    Shop",
    31: "http://www.google.com/search?q=gateway+oracle+cards+denise+linn&hl=en&client=safari",
    32: "http",
    33: "www.psychicbazaar.com",
    34: "80",
    35: "/crystals/335-howlite-tumble-stone.html",
    36: "view=print",
    37: "detail",
    38: "http",
    39: "www.google.com",
    40: "80",
    41: "/search",
    42: "q=gateway+oracle+cards+denise+linn&hl=en&client=safari",
    44: "search",
    45: "Google",
    46: "gateway oracle cards denise linn",
    77: "Mozilla/5.0 (iPhone; CPU iPhone OS 5_1_1 like Mac OS X) AppleWebKit/534.46 (KHTML, like "
    "Gecko) Version/5.1 Mobile/9B206 Safari/7534.48.3",
    83: "en-GB",
    **dict(enumerate(["1", "1", "1", "0", "0", "0", "0", "0", "1", "1"], start=84)),
    94: "32",
    95: "2560",
    96: "935",
    100: "Europe/London",
    **dict(enumerate(["2560", "1440", "UTF-8", "2543", "1273"], start=103)),
}
USER_AGENT_UTILS_COLUMNS = {78, 79, 80, 81, 82, 97, 98, 99, 101, 102}


def test_spark_spec_page_view_cloudfront_line():
    result = _enricher(anon_octets=1).process_line(PAGE_VIEW_LINE)
    assert (result.bad, result.skipped, len(result.good)) == ([], False, 1)
    columns = result.good[0].split("\t")
    assert len(columns) == len(ENRICHED_EVENT_FIELDS) == 131
    for index in range(108):
        if index not in USER_AGENT_UTILS_COLUMNS:
            assert columns[index] == PAGE_VIEW_EXPECTED.get(index, ""), ENRICHED_EVENT_FIELDS[index]
    assert columns[115] == "America/Los_Angeles"
    derived_contexts = json.loads(columns[122])
    assert (
        derived_contexts["schema"]
        == "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
    )
    [ua_parser_context] = derived_contexts["data"]
    assert ua_parser_context["data"]["useragentFamily"] == "Mobile Safari"
    assert columns[124] == "2012-05-24 00:06:42.000"  # derived_tstamp: no dvce_sent_tstamp
    assert columns[125:129] == [
        "com.snowplowanalytics.snowplow",
        "page_view",
        "jsonschema",
        "1-0-0",
    ]
    assert len(columns[129]) == 32  # MD5 event fingerprint


def test_spark_spec_pii_hashes_the_anonymised_ip():
    result = _enricher(anon_octets=1, pii=True).process_line(PAGE_VIEW_LINE)
    columns = result.good[0].split("\t")
    assert columns[13] == hashlib.sha1(b"216.160.83.xpink123").hexdigest()
    assert columns[13] == "a56b2a47752ef6dac5d5c2d9cbebf2fd69fd1f36"


NOT_ICE_LINE = (
    "2012-05-24 11:35:53 DFW3 3343 99.116.172.58 GET d3gs014xn8p70.cloudfront.net /not-ice.png "
    "200 http://www.psychicbazaar.com/2-tarot-cards/genre/all/type/all?p=5 Mozilla/5.0%20(Windo"
    "ws%20NT%206.1;%20WOW64;%20rv:12.0)%20Gecko/20100101%20Firefox/12.0 e=pv&page=Tarot%2520car"
    "ds%2520-%2520Psychic%2520Bazaar&tid=344260&uid=288112e0a5003be2&vid=1&lang=en-US&refr=http"
    "%253A%252F%252Fwww.psychicbazaar.com%252F2-tarot-cards%252Fgenre%252Fall%252Ftype%252Fall%"
    "253Fp%253D4&f_pdf=1&f_qt=0&f_realp=0&f_wma=0&f_dir=0&f_fla=1&f_java=1&f_gears=0&f_ag=1&res"
    "=1366x768&cookie=1"
)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "Line does not match CloudFront header or data row formats"),
        ("NOT VALID", "Line does not match CloudFront header or data row formats"),
        (
            "2012-05-21  07:14:47  FRA2  3343  83.4.209.35 GET d3t05xllj8hhgj.cloudfront.net",
            "Line does not match CloudFront header or data row formats",
        ),
        (
            NOT_ICE_LINE,
            "Request path /not-ice.png does not match (/)vendor/version(/) pattern nor is a "
            "legacy /i(ce.png) request",
        ),
    ],
)
def test_spark_spec_bad_cloudfront_lines(line, message):
    result = _enricher(lookups=("geo",)).process_line(line)
    assert (result.good, result.skipped) == ([], False)
    assert _bad_rows_without_tstamp(result) == [
        {"line": line, "errors": [{"level": "error", "message": message}]}
    ]


# SPEC/bad/BadTrackerCfLinesSpec.scala (the third line)
BAD_TRACKER_LINE = (
    "2012-05-24  00:06:42  LHR5  3402  90.194.12.51  GET d3gs014xn8p70.cloudfront.net  /ice.png"
    "  200 http://www.psychicbazaar.com/oracles/119-psycards-book-and-deck-starter-pack.html Mo"
    "zilla/5.0%20(iPhone;%20CPU%20iPhone%20OS%205_1_1%20like%20Mac%20OS%20X)%20AppleWebKit/534."
    "46%20(KHTML,%20like%20Gecko)%20Version/5.1%20Mobile/9B206%20Safari/7534.48.3  e=lol&ue_px="
    "am9obitzbWl0aA&page=Psycards%2520book&tid=019539&uid=e7bccbb647296c98&vid=a&p=web&aid=CFe2"
    "3a&res=320x480&cookie=1"
)


def test_spark_spec_bad_tracker_line_lists_every_error():
    result = _enricher(lookups=("geo",)).process_line(BAD_TRACKER_LINE)
    [row] = _bad_rows_without_tstamp(result)
    assert row["line"] == BAD_TRACKER_LINE
    assert sorted(error["message"] for error in row["errors"]) == sorted(
        [
            "Field [e]: [lol] is not a recognised event code",
            "Field [vid]: cannot convert [a] to Int",
            "Field [ue_px]: invalid JSON [john+smith] with parsing error: Unrecognized token "
            "'john': was expecting ('true', 'false' or 'null') at [Source: john+smith; line: 1, "
            "column: 5]",
            "Unrecognized event [null]",
        ]
    )
    assert {error["level"] for error in row["errors"]} == {"error"}


def test_spark_spec_null_numeric_fields_clj_tomcat():
    line = (
        "2014-10-11  14:01:05    -   37  172.31.38.31    GET 24.209.95.109   /i  200 http://www."
        "myvideowebsite.com/embed/ab123456789?auto_start=e9&rf=cb Mozilla%2F5.0+%28Macintosh%3B+"
        "Intel+Mac+OS+X+10.6%3B+rv%3A32.0%29+Gecko%2F20100101+Firefox%2F32.0   e=se&se_ca=video-"
        "player%3Anewformat&se_ac=play-time&se_la=efba3ef384&se_va=&tid="
    )
    result = _enricher("clj-tomcat", anon_octets=2).process_line(line)
    [row] = _bad_rows_without_tstamp(result)
    assert sorted(error["message"] for error in row["errors"]) == [
        "Field [se_va]: cannot convert [] to Double-like String",
        "Field [tid]: [] is not a valid integer",
    ]


def test_header_lines_are_skipped():
    result = _enricher().process_line("#Version: 1.0")
    assert (result.good, result.bad, result.skipped) == ([], [], True)


def test_unknown_input_format_fails_at_construction():
    with pytest.raises(ValueError, match="lol"):
        Enricher("lol", EnrichmentRegistry(), ETL_TSTAMP_MS)


def _tp2_post_line(events):
    body = {
        "schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
        "data": events,
    }
    encoded = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    return "\t".join(
        [
            "2014-10-11",
            "14:01:05",
            "-",
            "37",
            "172.31.38.31",
            "POST",
            "collector.acme.com",
            "/com.snowplowanalytics.snowplow/tp2",
            "200",
            "-",
            "Mozilla%2F5.0",
            "&cv=clj-1.1.0-tom-0.2.0&nuid=8d5b2b2c-0c6a-4a0e-9a3e-1d2f1f7b7f0e",
            "-",
            "-",
            "-",
            "application%2Fjson%3B+charset%3DUTF-8",
            encoded,
        ]
    )


def test_each_event_of_a_request_is_good_or_bad_on_its_own():
    line = _tp2_post_line([{"e": "pv", "p": "web"}, {"e": "pv", "p": "mobile"}, {"e": "pp"}])
    result = Enricher("clj-tomcat", EnrichmentRegistry(), ETL_TSTAMP_MS).process_line(line)
    assert len(result.good) == 2
    [row] = _bad_rows_without_tstamp(result)
    assert row == {
        "line": line,
        "errors": [
            {
                "level": "error",
                "message": "Field [p]: [mobile] is not a supported tracking platform",
            }
        ],
    }
    columns = dict(zip(ENRICHED_EVENT_FIELDS, result.good[0].split("\t"), strict=True))
    assert columns["network_userid"] == "8d5b2b2c-0c6a-4a0e-9a3e-1d2f1f7b7f0e"
    assert columns["v_collector"] == "clj-1.1.0-tom-0.2.0"


def test_an_unexpected_exception_becomes_the_lines_only_bad_row(monkeypatch):
    def explode(*_):
        raise KeyError("boom")

    monkeypatch.setattr(pipeline_module, "enrich_event", explode)
    line = _tp2_post_line([{"e": "pv"}, {"e": "pv"}])
    result = Enricher("clj-tomcat", EnrichmentRegistry(), ETL_TSTAMP_MS).process_line(line)
    assert result.good == []
    [row] = _bad_rows_without_tstamp(result)
    assert row["line"] == line
    [error] = row["errors"]
    # One line naming the exception and where it was raised, not a traceback.
    assert re.fullmatch(
        r"Unexpected error processing events: KeyError: 'boom' "
        r"\(at test_enricher\.py:\d+ in explode\)",
        error["message"],
    )
