import json

import pytest

from snowplow_dagster.enrich.enrichments.registry import EnrichmentRegistry
from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS
from snowplow_dagster.enrich.manager import DERIVED_CONTEXTS_SCHEMA, ETL_VERSION, enrich_event
from snowplow_dagster.enrich.payload import (
    CollectorApi,
    CollectorPayload,
    ProcessingError,
    RawEvent,
)
from snowplow_dagster.enrich.uri import string_to_uri

ETL_TSTAMP = "2001-09-09 01:46:40.000"
COLLECTOR_MS = 1398762054000  # 2014-04-29 09:00:54.000
NO_ENRICHMENTS = EnrichmentRegistry()


def _raw(parameters=None, **context):
    payload = CollectorPayload(
        api=CollectorApi("com.snowplowanalytics.snowplow", "tp2"),
        querystring={},
        source_name=context.pop("source_name", "clj-tomcat"),
        timestamp_ms=context.pop("timestamp_ms", COLLECTOR_MS),
        **context,
    )
    return RawEvent({"e": "pv", **(parameters or {})}, payload)


def _enrich(parameters=None, registry=NO_ENRICHMENTS, **context):
    return enrich_event(_raw(parameters, **context), registry, ETL_TSTAMP, ETL_VERSION)


def _errors(parameters=None, registry=NO_ENRICHMENTS, **context):
    with pytest.raises(ProcessingError) as caught:
        _enrich(parameters, registry, **context)
    return sorted(caught.value.messages)


def test_initial_values_and_the_131_column_line():
    event = _enrich(ip_address="70.46.123.145, 10.0.0.1", network_user_id="nuid-1")
    assert event.v_collector == "clj-tomcat"
    assert event.v_etl == ETL_VERSION
    assert ETL_VERSION.startswith("pyspark-") and "-common-" in ETL_VERSION
    assert event.etl_tstamp == ETL_TSTAMP
    assert event.collector_tstamp == "2014-04-29 09:00:54.000"
    assert event.user_ipaddress == "70.46.123.145"
    assert event.network_userid == "nuid-1"
    assert len(event.event_id) == 36 and event.event_id[14] == "4"  # random UUID v4
    tsv = event.to_tsv()
    assert tsv.count("\t") == 130
    columns = dict(zip(ENRICHED_EVENT_FIELDS, tsv.split("\t"), strict=True))
    assert columns["event"] == "page_view"
    assert columns["dvce_created_tstamp"] == ""  # None is written as the empty string


def test_eid_and_cv_replace_the_initial_values():
    event = _enrich({"eid": "550E8400-E29B-41D4-A716-446655440000", "cv": "clj-0.5.0"})
    assert event.event_id == "550e8400-e29b-41d4-a716-446655440000"
    assert event.v_collector == "clj-0.5.0"


def test_collector_timestamp_must_exist_and_be_redshift_compatible():
    assert "No collector_tstamp set" in _errors(timestamp_ms=None)
    assert (
        "Collector timestamp [-63113904000000] formatted as [-0030-01-01 00:00:00.000] "
        "which isn't Redshift-compatible"
    ) in _errors(timestamp_ms=-63113904000000)


def test_collector_version_must_be_set():
    assert _errors({"cv": ""}) == ["Collector version not set"]


def test_useragent_is_url_decoded_strictly_and_made_safe():
    event = _enrich(useragent="Mozilla/5.0+(X11;%20Linux)%0D%0A%09x")
    assert event.useragent == "Mozilla/5.0 (X11; Linux)    x"
    assert _errors(useragent="Mozilla%2") == [
        "Field [useragent]: Exception URL-decoding [Mozilla%2] (encoding [UTF-8]): "
        "[URLDecoder: Incomplete trailing escape (%) pattern]"
    ]
    assert _enrich({"ua": "from tracker"}, useragent="header").useragent == "from tracker"


def test_page_url_from_the_tracker_wins_over_the_collector_referer():
    event = _enrich({"url": "http://a.com/x"}, referer="http://b.com/y")
    assert (event.page_url, event.page_urlhost) == ("http://a.com/x", "a.com")
    event = _enrich(referer="http://b.com/y?q=1#f")
    assert (event.page_url, event.page_urlpath, event.page_urlquery) == (
        "http://b.com/y?q=1#f",
        "/y",
        "q=1",
    )
    assert event.page_urlfragment == "f"


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "path"),
    [
        ("http://a.com/x", "http", "a.com", "80", "/x"),
        ("https://a.com/x", "https", "a.com", "443", "/x"),
        ("https://a.com:8443/x", "https", "a.com", "8443", "/x"),
        ("http://a.com:80/x", "http", "a.com", "80", "/x"),
        ("http://user@10.0.0.1:81", "http", "10.0.0.1", "81", None),
        ("http://my_host.com/x", "http", None, "80", "/x"),  # registry-based authority
        ("mailto:a@b.com", "mailto", None, "80", None),  # opaque
    ],
)
def test_page_uri_components_follow_java_net_uri(url, scheme, host, port, path):
    event = _enrich({"url": url})
    assert (event.page_urlscheme, event.page_urlhost, event.page_urlport) == (scheme, host, port)
    assert event.page_urlpath == path


def test_page_uri_keeps_raw_components_and_encodes_spaces():
    event = _enrich({"url": "http://a.com/a b/%7E?x=%20y&z#top frag"})
    assert event.page_url == "http://a.com/a%20b/%7E?x=%20y&z#top%20frag"
    assert event.page_urlpath == "/a%20b/%7E"
    assert event.page_urlquery == "x=%20y&z"
    assert event.page_urlfragment == "top%20frag"


def test_java_rejected_uris_are_reencoded_leniently():
    assert string_to_uri("http://a.com/p?q=a|b&r={x}").text == "http://a.com/p?q=a%7Cb&r=%7Bx%7D"


def test_unparsable_uris_are_errors():
    [message] = _errors({"url": "http://a|b.com/"})
    assert message.startswith(
        "Provided URI [http://a|b.com/] could not be parsed, neither by Java parsing (error: "
        "[Illegal character in authority at index 7: http://a|b.com/]) nor by Scala parsing"
    )


def test_referer_is_parsed_into_refr_columns():
    event = _enrich({"refr": "https://www.google.com/search?q=x#r"})
    assert (event.refr_urlscheme, event.refr_urlhost, event.refr_urlport) == (
        "https",
        "www.google.com",
        "443",
    )
    assert (event.refr_urlpath, event.refr_urlquery, event.refr_urlfragment) == (
        "/search",
        "q=x",
        "r",
    )
    assert event.refr_medium is None  # no referer_parser configured


@pytest.mark.parametrize(
    ("created", "sent", "true", "derived"),
    [
        ("2014-04-29 12:00:54.555", None, None, "2014-04-29 09:00:54.000"),
        (None, None, None, "2014-04-29 09:00:54.000"),
        ("2014-04-29 09:00:54.001", "2014-04-29 09:00:54.000", None, "2014-04-29 09:00:54.000"),
        ("2014-04-29 09:00:54.000", "2014-04-29 09:00:54.001", None, "2014-04-29 09:00:53.999"),
        ("2014-04-29 09:00:54.000", "2014-04-29 10:00:54.000", None, "2014-04-29 08:00:54.000"),
        ("2014-04-29 09:00:54.001", None, "2000-01-01 00:00:00.000", "2000-01-01 00:00:00.000"),
    ],
)
def test_derived_timestamp(created, sent, true, derived):
    ms = {
        "2014-04-29 12:00:54.555": "1398772854555",
        "2014-04-29 09:00:54.000": "1398762054000",
        "2014-04-29 09:00:54.001": "1398762054001",
        "2014-04-29 10:00:54.000": "1398765654000",
        "2000-01-01 00:00:00.000": "946684800000",
    }
    parameters = {}
    for name, value in (("dtm", created), ("stm", sent), ("ttm", true)):
        if value is not None:
            parameters[name] = ms[value]
    assert _enrich(parameters).derived_tstamp == derived


def test_no_derived_timestamp_without_a_collector_timestamp():
    assert "No collector_tstamp set" in _errors({"dtm": "1"}, timestamp_ms=None)


def test_cross_domain_linker_parameter():
    event = _enrich({"url": "http://a.com/?_sp=6de9024e-17b9-4026-bd4d-efec50ae84cb.1383312000000"})
    assert event.refr_domain_userid == "6de9024e-17b9-4026-bd4d-efec50ae84cb"
    assert event.refr_dvce_tstamp == "2013-11-01 13:20:00.000"
    event = _enrich({"url": "http://a.com/?_sp=abc"})
    assert (event.refr_domain_userid, event.refr_dvce_tstamp) == ("abc", None)
    assert _errors({"url": "http://a.com/?_sp=abc.later"}) == [
        "Field [sp_dtm]: [later] is not in the expected format (ms since epoch)"
    ]


def test_unrecognised_events():
    assert _errors({"e": "ad"}) == ["Unrecognized event [ad_impression]"]
    raw = _raw()
    del raw.parameters["e"]
    with pytest.raises(ProcessingError) as caught:
        enrich_event(raw, NO_ENRICHMENTS, ETL_TSTAMP, ETL_VERSION)
    assert caught.value.messages == ["Unrecognized event [null]"]
    assert _errors({"e": "ue"}) == ["Unstructured event couldn't be extracted"]


def _unstruct(inner):
    envelope = {"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"}
    return json.dumps({**envelope, "data": inner})


def test_event_schema_columns():
    event = _enrich({"e": "se"})
    assert (event.event_vendor, event.event_name, event.event_format, event.event_version) == (
        "com.google.analytics",
        "event",
        "jsonschema",
        "1-0-0",
    )
    inner = {"schema": "iglu:com.acme/link_click/jsonschema/2-1-0", "data": {"x": 1}}
    event = _enrich({"e": "ue", "ue_pr": _unstruct(inner)})
    assert (event.event_vendor, event.event_name, event.event_format, event.event_version) == (
        "com.acme",
        "link_click",
        "jsonschema",
        "2-1-0",
    )


def test_unstruct_envelope_and_inner_event_are_checked():
    wrong = json.dumps({"schema": "iglu:com.acme/other/jsonschema/1-0-0", "data": {}})
    errors = _errors({"e": "ue", "ue_pr": wrong})
    assert "Unstructured event couldn't be extracted" in errors
    assert len(errors) == 2
    errors = _errors({"e": "ue", "ue_pr": _unstruct({"no": "schema"})})
    assert "Unstructured event couldn't be extracted" in errors
    assert len(errors) == 2


def test_contexts_must_be_an_array_of_self_describing_jsons():
    envelope = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
    good = {"schema": "iglu:com.acme/c/jsonschema/1-0-0", "data": {}}
    _enrich({"co": json.dumps({"schema": envelope, "data": [good]})})
    assert len(_errors({"co": json.dumps({"schema": envelope, "data": [good, {"x": 1}]})})) == 1
    assert len(_errors({"co": json.dumps({"schema": envelope, "data": good})})) == 1
    assert (
        len(_errors({"co": json.dumps({"schema": "iglu:com.acme/c/jsonschema/1-0-0", "data": []})}))
        == 1
    )


def test_errors_from_every_step_are_accumulated():
    errors = _errors(
        {"e": "lol", "vid": "a", "cv": "", "url": "http://a|b.com", "tnuid": None},
        timestamp_ms=None,
        useragent="%zz",
    )
    assert len(errors) == 7
    assert "Field [e]: [lol] is not a recognised event code" in errors
    assert "Field [vid]: cannot convert [a] to Int" in errors
    assert "Unrecognized event [null]" in errors
    assert "No collector_tstamp set" in errors
    assert "Collector version not set" in errors


class _Recorder:
    """A fake enrichment that records what it saw and can fail like a real one."""

    def __init__(self, fail=None, result=None):
        self.seen = []
        self.fail = fail
        self.result = result

    def _record(self, *args):
        self.seen.append(args)
        if self.fail:
            raise ProcessingError(self.fail)
        return self.result

    enrich = context = fingerprint = _record

    def anonymise(self, ip):
        return ip.rsplit(".", 1)[0] + ".x"


def test_enrichments_run_with_the_right_inputs_in_the_right_order():
    ip_lookups, anon, campaign, fingerprint = _Recorder(), _Recorder(), _Recorder(), _Recorder()
    fingerprint.result = "abc123"
    ua_context = {
        "schema": "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0"
    }
    ua_parser = _Recorder(result={**ua_context, "data": {}})
    pii = _Recorder()
    registry = EnrichmentRegistry(
        anon_ip=anon,
        ip_lookups=ip_lookups,
        campaign_attribution=campaign,
        ua_parser=ua_parser,
        event_fingerprint=fingerprint,
        pii=pii,
    )
    parameters = {"url": "http://a.com/?utm_source=x&a", "ip": "216.160.83.56"}
    event = _enrich(parameters, registry, useragent="UA%201", ip_address="1.1.1.1")
    assert ip_lookups.seen == [(event, "216.160.83.56")]  # before anonymisation
    assert event.user_ipaddress == "216.160.83.x"
    assert campaign.seen == [(event, {"utm_source": "x", "a": None})]
    assert ua_parser.seen == [("UA 1",)]
    assert fingerprint.seen == [({"e": "pv", **parameters},)]
    assert event.event_fingerprint == "abc123"
    assert json.loads(event.derived_contexts) == {
        "schema": DERIVED_CONTEXTS_SCHEMA,
        "data": [{**ua_context, "data": {}}],
    }
    assert pii.seen == [(event,)]


def test_no_derived_contexts_without_a_useragent():
    registry = EnrichmentRegistry(ua_parser=_Recorder(result={}))
    assert _enrich(registry=registry).derived_contexts is None


def test_enrichment_failures_join_the_other_errors():
    registry = EnrichmentRegistry(
        user_agent_utils=_Recorder(fail="ua broken"), pii=_Recorder(fail="pii broken")
    )
    assert _errors({"vid": "x"}, registry, useragent="UA") == [
        "Field [vid]: cannot convert [x] to Int",
        "pii broken",
        "ua broken",
    ]
