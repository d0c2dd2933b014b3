"""Loaders: which raw lines become payloads, which are skipped, and the bad-row messages."""

from __future__ import annotations

import base64
import json
import random
import re
from datetime import UTC, datetime

import pytest

from snowplow_dagster.enrich.loaders import clj_tomcat as clj_tomcat_module
from snowplow_dagster.enrich.loaders import cloudfront as cloudfront_module
from snowplow_dagster.enrich.loaders import get_loader
from snowplow_dagster.enrich.loaders.common import parse_api, parse_timestamp_ms
from snowplow_dagster.enrich.payload import CollectorApi, ProcessingError

TP1 = CollectorApi("com.snowplowanalytics.snowplow", "tp1")
TP2 = CollectorApi("com.snowplowanalytics.snowplow", "tp2")
LINE_MISMATCH = "Line does not match CloudFront header or data row formats"
CLJ_MISMATCH = "Line does not match raw event format for Clojure Collector"

load_cloudfront = get_loader("cloudfront")
load_clj_tomcat = get_loader("clj-tomcat")


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def _errors(load, line: str) -> list[str]:
    with pytest.raises(ProcessingError) as error:
        load(line)
    return error.value.messages


# --- get_loader ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_format", "api"),
    [
        (
            "tsv/com.amazon.aws.cloudfront/wd_access_log",
            ("com.amazon.aws.cloudfront", "wd_access_log"),
        ),
        ("ndjson/com.urbanairship.connect/v1", ("com.urbanairship.connect", "v1")),
    ],
)
def test_get_loader_takes_the_adapter_from_the_format(input_format, api):
    payload = get_loader(input_format)('{"a": 1}')
    assert payload.api == CollectorApi(*api)


@pytest.mark.parametrize("input_format", ["lol", "CloudFront", "tsv", "ndjson", ""])
def test_unknown_input_format_is_a_startup_error_listing_the_supported_ones(input_format):
    with pytest.raises(ValueError) as error:
        get_loader(input_format)
    assert f"[{input_format}] is not a recognised Snowplow event collector" in str(error.value)
    assert "cloudfront, clj-tomcat, tsv/<vendor>/<version>, ndjson/<vendor>/<version>" in str(
        error.value
    )


def test_thrift_is_refused_at_startup():
    with pytest.raises(ValueError, match=r"\[thrift\] is not supported: .*LZO"):
        get_loader("thrift")


@pytest.mark.parametrize("input_format", ["tsv/com.acme", "ndjson/a/b/c"])
def test_line_format_without_vendor_and_version_is_a_startup_error(input_format):
    with pytest.raises(ValueError, match=r"does not name an adapter as (tsv|ndjson)/<vendor>"):
        get_loader(input_format)


# --- Request paths and timestamps, shared by the loaders -----------------------------------


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/i", TP1),
        ("/ice.png", TP1),
        ("/ice.png?x=1", TP1),
        ("/i?e=pv", TP1),
        ("/com.snowplowanalytics.snowplow/tp2", TP2),
        ("/com.snowplowanalytics.snowplow/tp2/", TP2),
        ("com.snowplowanalytics.snowplow/tp2", TP2),
        ("/r/tp2", CollectorApi("r", "tp2")),
        ("/i/x", CollectorApi("i", "x")),
    ],
)
def test_parse_api(path, api):
    assert parse_api(path) == api


@pytest.mark.parametrize("path", ["/not-ice.png", "/favicon.ico", "/a/b/c", "/", "/index"])
def test_unknown_path_is_a_bad_row(path):
    with pytest.raises(ProcessingError) as error:
        parse_api(path)
    assert error.value.messages == [
        f"Request path {path} does not match (/)vendor/version(/) pattern "
        "nor is a legacy /i(ce.png) request"
    ]


@pytest.mark.parametrize(
    ("date", "time", "expected"),
    [
        ("2012-05-24", "00:06:42", _ms(2012, 5, 24, 0, 6, 42)),
        ("2012-05-24", "00:06:42.5", _ms(2012, 5, 24, 0, 6, 42) + 500),
        ("2012-05-24", "00:06:42.1239", _ms(2012, 5, 24, 0, 6, 42) + 123),
        ("2012-05-24", "00:06:42,25", _ms(2012, 5, 24, 0, 6, 42) + 250),
        ("2012-5-4", "7:06", _ms(2012, 5, 4, 7, 6)),  # Joda takes one-digit fields
        ("2012-05-24", "07", _ms(2012, 5, 24, 7)),
        ("2012-05-24", "07.5", _ms(2012, 5, 24, 7, 30)),  # a fraction of an hour
        ("2012-145", "10:00:00", _ms(2012, 5, 24, 10)),  # ordinal date
        ("2012-W05-1", "10:00:00", _ms(2012, 1, 30, 10)),  # week date
        ("2012-02-29", "23:59:59", _ms(2012, 2, 29, 23, 59, 59)),
    ],
)
def test_timestamps_parse_as_joda_does(date, time, expected):
    assert parse_timestamp_ms(date, time) == expected


@pytest.mark.parametrize(
    ("date", "time", "message"),
    [
        ("a", "b", 'Invalid format: "aTb+00:00"'),
        ("2012-05-24", "x", 'Invalid format: "2012-05-24Tx+00:00" is malformed at "x+00:00"'),
        (
            "2012-05-24",
            "07:14:47Z",
            'Invalid format: "2012-05-24T07:14:47Z+00:00" is malformed at "+00:00"',
        ),
        (
            "2012-05-24",
            "07:14:",
            'Invalid format: "2012-05-24T07:14:+00:00" is malformed at ":+00:00"',
        ),
        (
            "2012-13-01",
            "00:00:00",
            'Cannot parse "2012-13-01T00:00:00+00:00": '
            "Value 13 for monthOfYear must be in the range [1,12]",
        ),
        (
            "2011-02-29",
            "00:00:00",
            'Cannot parse "2011-02-29T00:00:00+00:00": '
            "Value 29 for dayOfMonth must be in the range [1,28]",
        ),
        (
            "2012-05-24",
            "24:00:00",
            'Cannot parse "2012-05-24T24:00:00+00:00": '
            "Value 24 for hourOfDay must be in the range [0,23]",
        ),
        (
            "2012-05-24",
            "12:60:00",
            'Cannot parse "2012-05-24T12:60:00+00:00": '
            "Value 60 for minuteOfHour must be in the range [0,59]",
        ),
    ],
)
def test_timestamp_errors_carry_jodas_message(date, time, message):
    with pytest.raises(ValueError) as error:
        parse_timestamp_ms(date, time)
    assert str(error.value) == message


# --- CloudFront -----------------------------------------------------------------------------

# Spark Enrich's PageViewCfLineSpec input (spec §7.1), runs of spaces as in the Scala source.
SPEC_PAGE_VIEW = (
    "2012-05-24  00:06:42  LHR5  3402  216.160.83.56  GET d3gs014xn8p70.cloudfront.net  "
    "/ice.png  200 http://www.psychicbazaar.com/crystals/335-howlite-tumble-stone.html?view="
    "print#detail Mozilla/5.0%20(iPhone;%20CPU%20iPhone%20OS%205_1_1%20like%20Mac%20OS%20X)"
    "%20AppleWebKit/534.46%20(KHTML,%20like%20Gecko)%20Version/5.1%20Mobile/9B206%20Safari/"
    "7534.48.3  &e=pv&eid=550e8400-e29b-41d4-a716-446655440000&page=Psychic%20Bazaar%09Shop"
    "&dtm=1364219529188&tid=637309&vp=2560x935&ds=2543x1273&vid=41&duid=9795bd0203804cd1&p=web"
    "&tv=js-0.11.1&fp=2876815413&aid=pbzsite&lang=en-GB&cs=UTF-8&tz=Europe%2FLondon&refr=http"
    "%253A%252F%252Fwww.google.com%252Fsearch%253Fq%253Dgateway%252Boracle%252Bcards%252Bdenise"
    "%252Blinn%2526hl%253Den%2526client%253Dsafari&f_pdf=1&f_qt=0&f_realp=0&f_wma=0&f_dir=0"
    "&f_fla=1&f_java=1&f_gears=0&f_ag=1&res=2560x1440&cd=32&cookie=1&url=http%3A%2F%2Fwww."
    "psychicbazaar.com%2Fcrystals%2F335-howlite-tumble-stone.html%3Fview%3Dprint%23detail"
    "&cv=clj-0.5.0-tom-0.0.4"
)
# UnsupportedPayloadCfLinesSpec (spec §7.8)
SPEC_NOT_ICE = (
    "2012-05-24 11:35:53 DFW3 3343 99.116.172.58 GET d3gs014xn8p70.cloudfront.net /not-ice.png "
    "200 http://www.psychicbazaar.com/2-tarot-cards/genre/all/type/all?p=5 Mozilla/5.0%20"
    "(Windows%20NT%206.1;%20WOW64;%20rv:12.0)%20Gecko/20100101%20Firefox/12.0 e=pv&page=Tarot"
    "%2520cards%2520-%2520Psychic%2520Bazaar&tid=344260&uid=288112e0a5003be2&vid=1&lang=en-US"
    "&refr=http%253A%252F%252Fwww.psychicbazaar.com%252F2-tarot-cards%252Fgenre%252Fall%252F"
    "type%252Fall%253Fp%253D4&f_pdf=1&f_qt=0&f_realp=0&f_wma=0&f_dir=0&f_fla=1&f_java=1&f_gears"
    "=0&f_ag=1&res=1366x768&cookie=1"
)

CF_FIELDS = (
    "2013-10-07", "23:35:30", "LHR5", "3402", "255.255.255.255", "GET",
    "d3gs014xn8p70.cloudfront.net", "/i", "200", "http://www.example.com/page%2520one",
    "Mozilla/5.0%2520(Windows%2520NT%252010.0)", "e=pv&page=Caf%25C3%25A9%2520Shop&p=web",
    "-", "Hit", "sWZl5f9S5UiDlWGLVRIUUfXlC3MxT4l-NHSmGBc8dUj4zMUrdbg3Xg==", "sp.example.com",
    "https", "1048", "0.001", "-", "TLSv1.3", "TLS_AES_128_GCM_SHA256", "Hit", "HTTP/2.0",
    "-", "-", "53412", "0.001", "Hit", "image/gif", "43", "-", "-",
)  # fmt: skip


def _cf_line(count: int, separator: str = "\t", **replace: str) -> str:
    fields = list(CF_FIELDS[:count])
    for index, value in replace.items():
        fields[int(index.lstrip("f"))] = value
    return separator.join(fields)


def test_spec_page_view_line():
    payload = load_cloudfront(SPEC_PAGE_VIEW)
    assert payload.api == TP1
    assert payload.source_name == "cloudfront" and payload.encoding == "UTF-8"
    assert payload.timestamp_ms == _ms(2012, 5, 24, 0, 6, 42)
    assert payload.ip_address == "216.160.83.56"
    assert payload.useragent.startswith("Mozilla/5.0%20(iPhone;%20CPU%20iPhone%20OS%205_1_1")
    assert payload.referer == (
        "http://www.psychicbazaar.com/crystals/335-howlite-tumble-stone.html?view=print#detail"
    )
    params = payload.querystring
    assert params["e"] == "pv" and params["cv"] == "clj-0.5.0-tom-0.0.4"
    assert params["page"] == "Psychic Bazaar\tShop"
    assert params["refr"] == (
        "http://www.google.com/search?q=gateway+oracle+cards+denise+linn&hl=en&client=safari"
    )
    assert params["url"] == (
        "http://www.psychicbazaar.com/crystals/335-howlite-tumble-stone.html?view=print#detail"
    )
    assert len(params) == 31
    assert (payload.content_type, payload.body, payload.hostname) == (None, None, None)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "NOT VALID",
        "2012-05-21  07:14:47  FRA2  3343  83.4.209.35 GET d3t05xllj8hhgj.cloudfront.net",
    ],
)
def test_spec_lines_not_in_cloudfront_format(line):
    assert _errors(load_cloudfront, line) == [LINE_MISMATCH]


def test_spec_non_tracker_path():
    assert _errors(load_cloudfront, SPEC_NOT_ICE) == [
        "Request path /not-ice.png does not match (/)vendor/version(/) pattern "
        "nor is a legacy /i(ce.png) request"
    ]


@pytest.mark.parametrize("line", ["#Version: 1.0", "#Fields: date time x-edge-location c-ip"])
def test_header_lines_are_skipped(line):
    assert load_cloudfront(line) is None


@pytest.mark.parametrize("count", [12, 15, 18, 19, 23, 24, 26, 33])
@pytest.mark.parametrize("separator", ["\t", "  ", " \t "])
def test_every_cloudfront_variant_is_read_the_same(count, separator):
    payload = load_cloudfront(_cf_line(count, separator))
    assert payload.api == TP1
    assert payload.timestamp_ms == _ms(2013, 10, 7, 23, 35, 30)
    assert payload.querystring == {"e": "pv", "page": "Café Shop", "p": "web"}
    assert payload.ip_address == "255.255.255.255"
    assert payload.useragent == "Mozilla/5.0%20(Windows%20NT%2010.0)"  # still URL-encoded
    assert payload.referer == "http://www.example.com/page%20one"


@pytest.mark.parametrize("count", [11, 13, 14, 16, 17, 20, 21, 22])
def test_field_counts_no_variant_has_do_not_match(count):
    assert _errors(load_cloudfront, _cf_line(count)) == [LINE_MISMATCH]


def test_an_empty_cookie_hides_in_a_whitespace_run():
    # 14 fields split on whitespace, but the 15-field regex matches with an empty cookie.
    line = "\t".join([*CF_FIELDS[:12], "", *CF_FIELDS[13:15]])
    assert load_cloudfront(line).querystring == {"e": "pv", "page": "Café Shop", "p": "web"}
    # Likewise 22 fields read as 23: the forwarded-for field is then the 19th.
    fields = list(CF_FIELDS[:23])
    fields[12], fields[19] = "", "81.2.69.142"
    assert load_cloudfront("\t".join(fields)).ip_address == "81.2.69.142"


@pytest.mark.parametrize(
    "line",
    [
        " " + _cf_line(12),
        _cf_line(12) + " ",
        _cf_line(19) + "\t",
        _cf_line(33) + "\r",  # Java's "." does not match a line terminator
        _cf_line(24, f23="TLS\u2028"),
    ],
    ids=["leading-space", "trailing-space-12", "trailing-tab-19", "trailing-cr-33", "u2028-tail"],
)
def test_surrounding_whitespace_and_line_terminators(line):
    assert _errors(load_cloudfront, line) == [LINE_MISMATCH]


def test_anything_may_follow_the_23rd_field():
    payload = load_cloudfront(_cf_line(23) + "  whatever AWS adds next ")
    assert payload.querystring["e"] == "pv"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("\u00a0", "Mozilla/5.0%20(Windows%20NT%2010.0)\u00a0"),  # not Java whitespace
        ("\u2028", "Mozilla/5.0%20(Windows%20NT%2010.0)\u2028"),
        ("\x85", "Mozilla/5.0%20(Windows%20NT%2010.0)\x85"),
    ],
)
def test_unicode_spaces_are_not_separators(field, expected):
    line = _cf_line(12, f10=CF_FIELDS[10] + field)
    assert load_cloudfront(line).useragent == expected


def test_unicode_space_between_fields_breaks_the_line():
    assert _errors(load_cloudfront, _cf_line(12, "\u2003")) == [LINE_MISMATCH]


@pytest.mark.parametrize(
    ("forwarded_for", "ip"),
    [
        ("-", "255.255.255.255"),
        ("81.2.69.142", "81.2.69.142"),
        ("81.2.69.142,10.0.0.1", "81.2.69.142"),
        ("2001:db8::1", "2001:db8::1"),
        ('"[2001:db8::1]"', "2001:db8::1"),
        ("unknown", "255.255.255.255"),
    ],
)
def test_x_forwarded_for_wins_from_23_fields(forwarded_for, ip):
    assert load_cloudfront(_cf_line(33, f19=forwarded_for)).ip_address == ip


def test_field_20_is_not_forwarded_for_below_23_fields():
    assert load_cloudfront(_cf_line(19, f4="-")).ip_address is None


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        ("http://example.com/search?q=50%25", "http://example.com/search?q=50%25"),
        ("http://example.com/%", "http://example.com/"),
        ("%", ""),
        ("-", None),
    ],
)
def test_referer_loses_one_trailing_percent(referer, expected):
    assert load_cloudfront(_cf_line(12, f9=referer)).referer == expected


@pytest.mark.parametrize(("useragent", "expected"), [("-", None), ("curl/8.4.0", "curl/8.4.0")])
def test_missing_useragent(useragent, expected):
    assert load_cloudfront(_cf_line(12, f10=useragent)).useragent == expected


def test_missing_querystring_is_an_empty_map():
    assert load_cloudfront(_cf_line(12, f11="-")).querystring == {}


@pytest.mark.parametrize("method", ["POST", "post", "HEAD", "OPTIONS"])
@pytest.mark.parametrize("count", [12, 13, 33])
def test_only_get_is_accepted(method, count):
    assert _errors(load_cloudfront, _cf_line(count, f5=method)) == [
        f"Only GET operations supported for CloudFront Collector, not {method.upper()}"
    ]


def test_lower_case_get_is_accepted():
    assert load_cloudfront(_cf_line(12, f5="get")).querystring["e"] == "pv"


def test_non_get_line_shorter_than_12_fields_does_not_match():
    assert _errors(load_cloudfront, _cf_line(11, f5="POST")) == [LINE_MISMATCH]


def test_illegal_querystring_character_fails_the_line():
    assert _errors(load_cloudfront, _cf_line(12, f11="e=pv&x={")) == [
        "Exception extracting name-value pairs from querystring [e=pv&x={] with encoding "
        "[UTF-8]: [Illegal character in query at index 25: http://localhost/?e=pv&x={]"
    ]


def test_double_encoding_is_undone_before_the_querystring_is_checked():
    # "%25zz" stays a valid escape; "%2541" becomes "%41".
    payload = load_cloudfront(_cf_line(12, f11="a=100%25zz&b=%2541"))
    assert payload.querystring == {"a": "100%zz", "b": "A"}


def test_every_loader_error_of_a_line_is_reported():
    line = _cf_line(12, f0="2013-10-32", f7="/favicon.ico", f11="e=%zz")
    assert _errors(load_cloudfront, line) == [
        "Unexpected exception converting date [2013-10-32] and time [23:35:30] to timestamp: "
        '[Cannot parse "2013-10-32T23:35:30+00:00": Value 32 for dayOfMonth must be in the '
        "range [1,31]]",
        "Exception extracting name-value pairs from querystring [e=%zz] with encoding [UTF-8]: "
        "[Malformed escape pair at index 20: http://localhost/?e=%zz]",
        "Request path /favicon.ico does not match (/)vendor/version(/) pattern "
        "nor is a legacy /i(ce.png) request",
    ]


def test_unparseable_time_in_a_cloudfront_line():
    assert _errors(load_cloudfront, _cf_line(12, f0="a", f1="b")) == [
        "Unexpected exception converting date [a] and time [b] to timestamp: "
        '[Invalid format: "aTb+00:00"]'
    ]


# --- Clojure collector (Tomcat) -------------------------------------------------------------

CLJ_QUERY = "e=pv&page=100%2520&cv=clj-1.1.0-tom-0.2.0&nuid=6a2f1c34-0b8d-4f0e-9a51-1c7e6d1e8b4f"
CLJ_FIELDS = (
    "2014-10-07", "18:55:46", "-", "43", "81.2.69.142", "GET", "81.2.69.142", "/i", "200",
    "http://www.example.com/page?x=1%", "Mozilla%2F5.0+%28Windows+NT+10.0%29", CLJ_QUERY,
    "-", "-", "-", "-", "-",
)  # fmt: skip
JSON_CONTENT_TYPE = "application%2Fjson%3B+charset%3DUTF-8"
BODY = (
    '{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",'
    '"data":[{"e":"pv","tv":"js-2","p":"web"}]}'
)
BODY_B64 = base64.urlsafe_b64encode(BODY.encode()).decode().rstrip("=")


def _clj_line(count: int = 17, separator: str = "\t", **replace: str) -> str:
    fields = list(CLJ_FIELDS[:count])
    for index, value in replace.items():
        fields[int(index.lstrip("f"))] = value
    return separator.join(fields)


def _post(count: int = 17, **replace: str) -> str:
    fields = {"f5": "POST", "f7": "/com.snowplowanalytics.snowplow/tp2", "f11": "&cv=clj-1.1.0"}
    if count == 17:
        fields |= {"f15": JSON_CONTENT_TYPE, "f16": BODY_B64}
    return _clj_line(count, **(fields | replace))


@pytest.mark.parametrize("count", [12, 15, 17], ids=["A-12", "A-15", "B1-17"])
@pytest.mark.parametrize("separator", ["\t", "   "])
def test_clj_get_lines(count, separator):
    payload = load_clj_tomcat(_clj_line(count, separator))
    assert payload.api == TP1
    assert payload.source_name == "clj-tomcat"
    assert payload.timestamp_ms == _ms(2014, 10, 7, 18, 55, 46)
    assert payload.ip_address == "81.2.69.142"
    assert payload.useragent == "Mozilla%2F5.0+%28Windows+NT+10.0%29"  # decoded later
    assert payload.referer == "http://www.example.com/page?x=1%"  # no CloudFront clean-up
    # No double-encoding fix: "%2520" is a literal "%20".
    assert payload.querystring == {
        "e": "pv",
        "page": "100%20",
        "cv": "clj-1.1.0-tom-0.2.0",
        "nuid": "6a2f1c34-0b8d-4f0e-9a51-1c7e6d1e8b4f",
    }
    assert (payload.content_type, payload.body) == (None, None)


def test_clj_content_type_without_body_is_allowed_on_a_get():  # B.2, Lumia phones
    payload = load_clj_tomcat(_clj_line(f15="application%2Fjson"))
    assert (payload.content_type, payload.body) == ("application/json", None)


@pytest.mark.parametrize(
    ("method", "replace"),
    [("GET", {"f16": BODY_B64}), ("GET", {"f15": "text%2Fplain", "f16": BODY_B64}), ("put", {})],
)
def test_clj_body_needs_a_post(method, replace):  # C.1
    line = _clj_line(f5=method, **({"f15": JSON_CONTENT_TYPE, "f16": BODY_B64} | replace))
    assert _errors(load_clj_tomcat, line) == [
        f"Operation must be POST, not {method.upper()}, "
        "if request content type and/or body are provided"
    ]


@pytest.mark.parametrize("separator", ["\t", "  "])
def test_clj_post_decodes_content_type_and_body(separator):  # C.2
    payload = load_clj_tomcat(_post().replace("\t", separator))
    assert payload.api == TP2
    assert payload.content_type == "application/json; charset=UTF-8"
    assert payload.body == BODY
    assert payload.querystring == {"cv": "clj-1.1.0"}


def test_clj_14_fields_carry_content_type_and_body_without_the_dashes():
    line = "\t".join([*_post(12).split("\t"), JSON_CONTENT_TYPE, BODY_B64])
    payload = load_clj_tomcat(line)
    assert (payload.content_type, payload.body) == ("application/json; charset=UTF-8", BODY)


def test_clj_body_accepts_either_base64_alphabet_and_padding():
    padded = base64.b64encode(BODY.encode()).decode()
    assert load_clj_tomcat(_post(f16=padded)).body == BODY


def test_clj_malformed_content_type_is_a_bad_row():
    assert _errors(load_clj_tomcat, _post(f15="application%2")) == [
        "Field [Content type]: Exception URL-decoding [application%2] (encoding [UTF-8]): "
        "[URLDecoder: Incomplete trailing escape (%) pattern]"
    ]


@pytest.mark.parametrize(
    "line",
    [
        "",
        "NOT VALID",
        _clj_line(11),
        _clj_line(13),
        _clj_line(16),
        _clj_line(f2="FRA2"),  # the third field must be "-"
        _clj_line(f12="x"),  # so must the 13th to 15th
        " " + _clj_line(),
        _clj_line() + "\t",
    ],
    ids=["empty", "junk", "11", "13", "16", "edge", "cookie", "leading-space", "trailing-tab"],
)
def test_clj_lines_not_in_the_valve_format(line):
    assert _errors(load_clj_tomcat, line) == [CLJ_MISMATCH]


def test_clj_every_error_of_a_line_is_reported():
    line = _post(f1="25:00:00", f7="/favicon.ico", f11="e=%", f15="x%")
    assert _errors(load_clj_tomcat, line) == [
        "Unexpected exception converting date [2014-10-07] and time [25:00:00] to timestamp: "
        '[Cannot parse "2014-10-07T25:00:00+00:00": Value 25 for hourOfDay must be in the '
        "range [0,23]]",
        "Exception extracting name-value pairs from querystring [e=%] with encoding [UTF-8]: "
        "[Malformed escape pair at index 20: http://localhost/?e=%]",
        "Request path /favicon.ico does not match (/)vendor/version(/) pattern "
        "nor is a legacy /i(ce.png) request",
        "Field [Content type]: Exception URL-decoding [x%] (encoding [UTF-8]): "
        "[URLDecoder: Incomplete trailing escape (%) pattern]",
    ]


def test_clj_redirect_path():
    payload = load_clj_tomcat(_clj_line(f7="/r/tp2", f11="u=https%3A%2F%2Fexample.com"))
    assert payload.api == CollectorApi("r", "tp2")
    assert payload.querystring == {"u": "https://example.com"}


# --- TSV and NDJSON -------------------------------------------------------------------------


def test_tsv_line_is_the_body():
    line = "2013-10-07\t23:35:30\tc\t100\t255.255.255.255\tGET"
    payload = get_loader("tsv/com.amazon.aws.cloudfront/wd_access_log")(line)
    assert payload.body == line
    assert payload.source_name == "tsv"
    assert (payload.timestamp_ms, payload.querystring) == (None, {})


@pytest.mark.parametrize("line", ["#Version: 1.0", "#Fields: date time"])
def test_tsv_skips_cloudfront_headers(line):
    assert get_loader("tsv/com.amazon.aws.cloudfront/wd_access_log")(line) is None


NDJSON = "ndjson/com.urbanairship.connect/v1"


@pytest.mark.parametrize("line", ["", "\n", "\r\n", "\n\n"])
def test_ndjson_blank_lines_are_skipped(line):
    assert get_loader(NDJSON)(line) is None


@pytest.mark.parametrize(
    "line",
    ['{"event": {"type": "OPEN"}}', '  ["a", 1]', '{"a": 1} trailing text', '{"a": 1}\n', "3"],
)
def test_ndjson_line_is_the_body_when_it_starts_with_json(line):
    payload = get_loader(NDJSON)(line)
    assert payload.body == line
    assert payload.source_name == "ndjson"
    assert payload.api == CollectorApi("com.urbanairship.connect", "v1")


@pytest.mark.parametrize("line", ["{ ...", "NaN", "not json", "   ", "\r"])
def test_ndjson_unparsable_json(line):
    assert _errors(get_loader(NDJSON), line) == ["Unparsable JSON"]


@pytest.mark.parametrize("line", ['{"a":1}\n{"b":2}', '\n{"a":1}', '{"a":1}\r\nx'])
def test_ndjson_more_than_one_line(line):
    assert _errors(get_loader(NDJSON), line) == ["Too many lines! Expected single line"]


def test_ndjson_body_is_kept_verbatim():
    line = json.dumps({"name": "Χαριτίνη", "n": 1.50})
    assert get_loader(NDJSON)(line).body == line


# --- the loaders' linear-time regexes match exactly what Scala's regexes match ------------------

_JAVA_WS, _JAVA_NON_WS = r"[ \t\n\x0b\f\r]+", r"[^ \t\n\x0b\f\r]"
_JAVA_DOT = r"[^\n\r\x85\u2028\u2029]"


def _scala(*parts: str) -> re.Pattern[str]:
    """A regex as Scala Common Enrich wrote it, with Java's whitespace: quadratic on long runs."""
    return re.compile("".join(parts).replace("WS", _JAVA_WS).replace("T", _JAVA_NON_WS))


_SCALA_ORIGINAL_12 = "WS".join(["(T+)"] * 12)
_SCALA_CLOUDFRONT = _scala(
    _SCALA_ORIGINAL_12,
    "(?:WST*WST+WST+(?:WST+WST+WST+(?:WST+(?:WS(T+)WST+WST+WST+", _JAVA_DOT, "*)?)?)?)?",
)  # fmt: skip
_SCALA_CLOUDFRONT_ANY_METHOD = _scala(_SCALA_ORIGINAL_12, _JAVA_DOT, "*")
_SCALA_CLJ_TOMCAT = _scala(
    "WS".join(["(T+)", "(T+)", "-", "T+", "(T+)", "(T+)", "T+", "(T+)", "T+", "(T+)", "(T+)"]),
    "WS(T+)(?:WS-WS-WS-)?(?:WS(T+)?WS(T+)?)?",
)  # fmt: skip


def _random_lines(count: int) -> list[str]:
    """Lines of 10-27 fields from tokens and separators that make the variants ambiguous: runs
    of mixed whitespace, ``-`` fields, Java line terminators inside fields, edge whitespace."""
    rng = random.Random(9)
    separators = [" ", "\t", "  ", " \t ", "\r", "\n", "\x0b"]
    tokens = ["a", "-", "-", "GET", "x\x85y", "\x85", "b\u2028", "1.2.3.4", "--"]
    lines = []
    for _ in range(count):
        fields = [rng.choice(tokens) for _ in range(rng.randint(10, 27))]
        line = "".join(field + rng.choice(separators) for field in fields)[:-1]
        edge = rng.random()
        if edge < 0.1:
            line = rng.choice(separators) + line
        elif edge < 0.2:
            line += rng.choice(separators)
        lines.append(line)
    return lines


def test_cloudfront_regexes_match_what_scalas_match():
    lines = _random_lines(20_000)
    matched = 0
    for line in lines:
        scala, ours = _SCALA_CLOUDFRONT.fullmatch(line), cloudfront_module._CF_LINE.fullmatch(line)
        assert (scala and scala.groups()) == (ours and ours.groups()), repr(line)
        scala = _SCALA_CLOUDFRONT_ANY_METHOD.fullmatch(line)
        ours = cloudfront_module._ANY_METHOD_LINE.fullmatch(line)
        assert (scala and scala.groups()) == (ours and ours.groups()), repr(line)
        matched += scala is not None
    assert matched > 1000  # the lines exercise the variants, not just the mismatch


def test_clj_tomcat_regex_matches_what_scalas_matches():
    lines = _random_lines(20_000)
    matched = 0
    for line in lines:
        scala, ours = _SCALA_CLJ_TOMCAT.fullmatch(line), clj_tomcat_module._CLJ_LINE.fullmatch(line)
        if ours is not None:  # ours splits Scala's last group in two: with a content type or not
            *request, content_type, body, body_alone = ours.groups()
            ours_groups = (*request, content_type, body_alone if content_type is None else body)
        assert (scala and scala.groups()) == (ours and ours_groups), repr(line)
        matched += scala is not None
    assert matched > 100
