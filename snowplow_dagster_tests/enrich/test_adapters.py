"""Adapters: the raw events a payload carries, and the messages when it carries none."""

from __future__ import annotations

import json

import pytest

from snowplow_dagster.enrich.adapters import to_raw_events
from snowplow_dagster.enrich.loaders import get_loader
from snowplow_dagster.enrich.payload import CollectorApi, CollectorPayload, ProcessingError
from snowplow_dagster.enrich.querystring import decode_base64url, encode_base64url

SNOWPLOW = "com.snowplowanalytics.snowplow"
JSON_TYPES = "application/json, application/json; charset=utf-8, application/json; charset=UTF-8"
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
URI_REDIRECT = "iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0"
CONTEXTS_1_0_1 = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"


def _payload(vendor=SNOWPLOW, version="tp2", querystring=None, **fields) -> CollectorPayload:
    return CollectorPayload(
        api=CollectorApi(vendor, version),
        querystring=querystring if querystring is not None else {},
        source_name="clj-tomcat",
        timestamp_ms=1_000,
        **fields,
    )


def _errors(payload: CollectorPayload) -> list[str]:
    with pytest.raises(ProcessingError) as error:
        to_raw_events(payload)
    return error.value.messages


def _body(data, schema=PAYLOAD_DATA) -> str:
    return json.dumps({"schema": schema, "data": data})


@pytest.mark.parametrize(
    ("vendor", "version"), [("com.acme", "v1"), (SNOWPLOW, "tp3"), ("i", "x"), ("r", "tp1")]
)
def test_unknown_api_keeps_snowplows_wording(vendor, version):
    assert _errors(_payload(vendor, version, {"e": "pv"})) == [
        f"Payload with vendor {vendor} and version {version} "
        "not supported by this version of Scala Common Enrich"
    ]


# --- Tracker protocol 1 ---------------------------------------------------------------------


def test_tp1_is_the_querystring():
    payload = _payload(version="tp1", querystring={"e": "pv", "p": None})
    [event] = to_raw_events(payload)
    assert event.parameters == {"e": "pv", "p": None}
    assert event.payload is payload


def test_tp1_needs_a_querystring():
    assert _errors(_payload(version="tp1")) == ["Querystring is empty: no raw event to process"]


# --- Tracker protocol 2 ---------------------------------------------------------------------


def test_tp2_get_is_one_event():
    [event] = to_raw_events(_payload(querystring={"e": "pv", "nuid": "n-1"}))
    assert event.parameters == {"e": "pv", "nuid": "n-1"}


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_tp2_post_gives_one_event_per_element_with_the_querystring_winning(content_type):
    body = _body([{"e": "pv", "tv": "js-2", "nuid": "from-body"}, {"e": "pp", "tv": "js-2"}])
    payload = _payload(
        querystring={"nuid": "from-collector", "cv": "clj-1.1.0"},
        content_type=content_type,
        body=body,
    )
    events = to_raw_events(payload)
    assert [event.parameters for event in events] == [
        {"e": "pv", "tv": "js-2", "nuid": "from-collector", "cv": "clj-1.1.0"},
        {"e": "pp", "tv": "js-2", "nuid": "from-collector", "cv": "clj-1.1.0"},
    ]
    assert all(event.payload is payload for event in events)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Request body and querystring parameters empty, expected at least one populated"),
        (
            {"content_type": "text/plain"},
            "Request body and querystring parameters empty, expected at least one populated",
        ),
        (
            {"content_type": "text/plain", "body": "{}"},
            f"Content type of text/plain provided, expected one of: {JSON_TYPES}",
        ),
        (
            {"content_type": "application/json;charset=UTF-8", "body": "{}"},
            "Content type of application/json;charset=UTF-8 provided, "
            f"expected one of: {JSON_TYPES}",
        ),
        (
            {"body": "{}"},
            f"Request body provided but content type empty, expected one of: {JSON_TYPES}",
        ),
    ],
)
def test_tp2_request_errors(fields, message):
    assert _errors(_payload(**fields)) == [message]


def test_tp2_content_type_without_body():
    payload = _payload(querystring={"e": "pv"}, content_type="application/json")
    assert _errors(payload) == ["Content type of application/json provided but request body empty"]


def _post_errors(body: str) -> list[str]:
    return _errors(_payload(content_type="application/json", body=body))


def test_tp2_body_must_be_json():
    [message] = _post_errors('{"schema": ')
    assert message.startswith('Field [Body]: invalid JSON [{"schema": ] with parsing error: ')


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[]", "JSON instance is not self-describing (not an object): []"),
        (
            '{"data": []}',
            "JSON instance is not self-describing (schema and data members required): {'data': []}",
        ),
        (
            _body(
                [{"e": "pv"}], "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/2-0-0"
            ),
            "Verifying schema as com.snowplowanalytics.snowplow/payload_data/jsonschema/1-*-* "
            "failed: found iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/2-0-0",
        ),
        (
            _body(
                [{"e": "pv"}], "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-1-0"
            ),
            "Verifying schema as com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-* "
            "failed: found iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-1-0",
        ),
    ],
)
def test_tp2_body_must_be_payload_data_1_0(body, message):
    assert _post_errors(body) == [message]


@pytest.mark.parametrize("data", [[], {}, "events", None])
def test_tp2_body_data_must_be_a_non_empty_array(data):
    assert _post_errors(_body(data)) == [
        "Field [Body]: data of com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-* "
        "must be a non-empty array of events"
    ]


def test_tp2_every_bad_element_is_reported():
    data = [{"e": "pv"}, "pv", {"e": "se", "se_va": 1.5, "tv": None}]
    assert _post_errors(_body(data)) == [
        "Field [Body]: event at index 1 is not a JSON object",
        "Field [Body]: event at index 2: value for key se_va is not a string",
        "Field [Body]: event at index 2: value for key tv is not a string",
    ]


def test_tp2_post_line_end_to_end():
    body = _body([{"e": "pv", "url": "https://example.com/ünï"}])
    encoded = encode_base64url(body).replace("\r\n", "")
    line = "\t".join(
        [
            "2014-10-07", "18:55:46", "-", "-", "81.2.69.142", "POST", "81.2.69.142",
            "/com.snowplowanalytics.snowplow/tp2", "200", "-", "curl%2F8.4.0",
            "&cv=clj-1.1.0-tom-0.2.0&nuid=n-1", "-", "-", "-",
            "application%2Fjson%3B+charset%3Dutf-8", encoded,
        ]
    )  # fmt: skip
    [event] = to_raw_events(get_loader("clj-tomcat")(line))
    assert event.parameters == {
        "e": "pv",
        "url": "https://example.com/ünï",
        "cv": "clj-1.1.0-tom-0.2.0",
        "nuid": "n-1",
    }


# --- Redirect (r/tp2) -------------------------------------------------------------------------


def _redirect(**querystring: str | None) -> dict[str, str | None]:
    [event] = to_raw_events(_payload("r", "tp2", dict(querystring)))
    return event.parameters


def _uri_redirect(uri: str | None) -> dict:
    return {"schema": URI_REDIRECT, "data": {"uri": uri}}


def test_redirect_alone_is_an_unstructured_event():
    parameters = _redirect(u="https://example.com/landing?a=1", aid="email")
    ue_pr = json.loads(parameters.pop("ue_pr"))
    assert ue_pr == {"schema": UNSTRUCT, "data": _uri_redirect("https://example.com/landing?a=1")}
    assert parameters == {"aid": "email", "e": "ue", "tv": "r-tp2", "p": "web"}


def test_redirect_keeps_a_given_platform():
    assert _redirect(u="https://example.com", p="mob")["p"] == "mob"


def test_redirect_without_target_value_has_a_null_uri():
    assert json.loads(_redirect(u=None)["ue_pr"])["data"]["data"] == {"uri": None}


@pytest.mark.parametrize("co", [None, ""], ids=["no-co", "empty-co"])
def test_redirect_of_an_event_becomes_a_new_context(co):
    querystring = {"u": "https://example.com", "e": "se", "se_ca": "email"}
    if co is not None:
        querystring["co"] = co
    parameters = _redirect(**querystring)
    assert json.loads(parameters.pop("co")) == {
        "schema": CONTEXTS_1_0_1,
        "data": [_uri_redirect("https://example.com")],
    }
    assert parameters == {"e": "se", "se_ca": "email", "tv": "r-tp2", "p": "web"}


WEB_PAGE = {"schema": "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0", "data": {}}
CONTEXTS = {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"}


def test_redirect_is_appended_to_existing_co():
    co = json.dumps({**CONTEXTS, "data": [WEB_PAGE]})
    parameters = _redirect(u="https://example.com", e="pv", co=co)
    assert json.loads(parameters["co"]) == {
        **CONTEXTS,
        "data": [WEB_PAGE, _uri_redirect("https://example.com")],
    }


@pytest.mark.parametrize(
    ("co", "merged"),
    [
        ({**CONTEXTS}, {**CONTEXTS, "data": [_uri_redirect("x")]}),  # no data: it is added
        ({**CONTEXTS, "data": "junk"}, {**CONTEXTS, "data": [_uri_redirect("x")]}),
        ({**CONTEXTS, "data": [_uri_redirect("x")]}, {**CONTEXTS, "data": [_uri_redirect("x")]}),
        ([1, 2], {"data": [_uri_redirect("x")]}),  # json4s merge: the object replaces
    ],
    ids=["no-data", "data-not-array", "already-there", "not-an-object"],
)
def test_redirect_merges_into_co_as_json4s_does(co, merged):
    assert json.loads(_redirect(u="x", e="pv", co=json.dumps(co))["co"]) == merged


def test_redirect_is_appended_to_existing_cx_and_re_encoded():
    cx = encode_base64url(json.dumps({**CONTEXTS, "data": [WEB_PAGE]}))
    parameters = _redirect(u="https://example.com", e="pv", cx=cx, co="ignored")
    assert parameters["co"] == "ignored"
    assert json.loads(decode_base64url(parameters["cx"])) == {
        **CONTEXTS,
        "data": [WEB_PAGE, _uri_redirect("https://example.com")],
    }


@pytest.mark.parametrize("co", ["{not json", None])
def test_redirect_into_unreadable_co_is_a_bad_row(co):
    [message] = _errors(_payload("r", "tp2", {"u": "x", "e": "pv", "co": co}))
    assert message.startswith(f"Field [co|cx]: invalid JSON [{co}] with parsing error: ")


@pytest.mark.parametrize(
    ("querystring", "message"),
    [
        ({}, "Querystring is empty: cannot be a valid URI redirect"),
        ({"e": "pv"}, "Querystring does not contain u parameter: not a valid URI redirect"),
    ],
)
def test_redirect_errors(querystring, message):
    assert _errors(_payload("r", "tp2", querystring)) == [message]


# --- CloudFront web-distribution access logs --------------------------------------------------

ACCESS_LOG = "tsv/com.amazon.aws.cloudfront/wd_access_log"
DOUBLE_ENCODED_UA = "Mozilla/5.0%2520(Macintosh;%2520Intel%2520Mac%2520OS%2520X%252010_9_2)"
URL = "http://snowplowanalytics.com/analytics/index.html"
FIELDS = (
    "2013-10-07", "23:35:30", "c", "100", "255.255.255.255", "f", "g", "h", "i", URL,
    DOUBLE_ENCODED_UA, "a=b%2520c", "m", "n", "o", "p", "q", "90", "0.001", "r", "s", "t", "u",
    "HTTP/2.0", "Processed", "12",
)  # fmt: skip
EXPECTED_DATA = {
    "dateTime": "2013-10-07T23:35:30Z",
    "xEdgeLocation": "c",
    "scBytes": 100,
    "cIp": "255.255.255.255",
    "csMethod": "f",
    "csHost": "g",
    "csUriStem": "h",
    "scStatus": "i",
    "csReferer": URL,
    "csUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_2)",
    "csUriQuery": "a=b%20c",
    "csCookie": "m",
    "xEdgeResultType": "n",
    "xEdgeRequestId": "o",
    "xHostHeader": "p",
    "csProtocol": "q",
    "csBytes": 90,
    "timeTaken": 0.001,
    "xForwardedFor": "r",
    "sslProtocol": "s",
    "sslCipher": "t",
    "xEdgeResponseResultType": "u",
    "csProtocolVersion": "HTTP/2.0",
    "fleStatus": "Processed",
    "fleEncryptedFields": "12",
}


def _access_log(line: str):
    return to_raw_events(get_loader(ACCESS_LOG)(line))


@pytest.mark.parametrize(
    ("count", "version"),
    [(12, "1-0-0"), (15, "1-0-1"), (18, "1-0-2"), (19, "1-0-3"), (23, "1-0-4"), (24, "1-0-5"),
     (26, "1-0-6")],
)  # fmt: skip
def test_access_log_line_is_an_unstructured_event(count, version):
    [event] = _access_log("\t".join(FIELDS[:count]))
    parameters = dict(event.parameters)
    ue_pr = json.loads(parameters.pop("ue_pr"))
    assert parameters == {
        "tv": "com.amazon.aws.cloudfront/wd_access_log",
        "e": "ue",
        "p": "srv",
        "url": URL,
    }
    assert ue_pr == {
        "schema": UNSTRUCT,
        "data": {
            "schema": f"iglu:com.amazon.aws.cloudfront/wd_access_log/jsonschema/{version}",
            "data": dict(list(EXPECTED_DATA.items())[: count - 1]),
        },
    }
    context = event.payload
    assert context.timestamp_ms == 1381188930000  # 2013-10-07T23:35:30Z
    assert context.ip_address == "255.255.255.255"
    assert context.useragent == "Mozilla/5.0%20(Macintosh;%20Intel%20Mac%20OS%20X%2010_9_2)"
    assert context.referer is None
    assert context.source_name == "tsv"


def test_access_log_empty_fields_are_null_and_no_referer_no_url():
    fields = list(FIELDS[:12])
    fields[4] = fields[9] = fields[10] = ""
    [event] = _access_log("\t".join(fields))
    data = json.loads(event.parameters["ue_pr"])["data"]["data"]
    assert data["cIp"] is data["csReferer"] is data["csUserAgent"] is None
    assert "url" not in event.parameters
    assert (event.payload.ip_address, event.payload.useragent) == (None, None)


@pytest.mark.parametrize("count", [5, 11, 13, 20, 25, 27, 33])
def test_access_log_field_count_must_be_known(count):
    line = "\t".join((FIELDS * 2)[:count])
    assert _errors(get_loader(ACCESS_LOG)(line)) == [
        f"Access log TSV line contained {count} fields, expected 12, 15, 18, 19, 23, 24 or 26"
    ]


def test_access_log_every_field_error_is_reported_timestamp_first():
    fields = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "%", "k", "l", "m", "n", "o", "p",
              "q", "9x", "fast"]  # fmt: skip
    assert _errors(get_loader(ACCESS_LOG)("\t".join(fields))) == [
        "Unexpected exception converting Cloudfront web distribution access log date [a] and "
        'time [b] to timestamp: [Invalid format: "aTb+00:00"]',
        "Field [timeTaken]: cannot convert [fast] to Double",
        "Field [csBytes]: cannot convert [9x] to Int",
        "Field [csReferer]: Exception URL-decoding [%] (encoding [UTF-8]): "
        "[URLDecoder: Incomplete trailing escape (%) pattern]",
        "Field [scBytes]: cannot convert [d] to Int",
    ]


@pytest.mark.parametrize(
    ("bytes_", "taken", "expected"),
    [
        ("+7", "1e3", (7, 1000.0)),
        ("-1", " .5 ", (-1, 0.5)),
        ("2147483647", "10", (2**31 - 1, 10.0)),
    ],
)
def test_access_log_numbers_parse_as_java_does(bytes_, taken, expected):
    fields = list(FIELDS[:19])
    fields[3], fields[18] = bytes_, taken
    [event] = _access_log("\t".join(fields))
    data = json.loads(event.parameters["ue_pr"])["data"]["data"]
    assert (data["scBytes"], data["timeTaken"]) == expected


@pytest.mark.parametrize("value", ["2147483648", "1_000", "0x10", "-"])
def test_access_log_int_overflow_and_python_only_forms_fail(value):
    fields = list(FIELDS[:12])
    fields[3] = value
    assert _errors(get_loader(ACCESS_LOG)("\t".join(fields))) == [
        f"Field [scBytes]: cannot convert [{value}] to Int"
    ]
