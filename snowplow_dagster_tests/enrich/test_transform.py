import base64
import json

import pytest

from snowplow_dagster.enrich.event import EnrichedEvent
from snowplow_dagster.enrich.transform import transform_parameters


def _apply(**parameters):
    event = EnrichedEvent()
    result = transform_parameters(event, parameters)
    return event, result


def _column(name, value):
    """The column a single parameter fills, or its error message."""
    event, result = _apply(**{name: value})
    if result.errors:
        return ("error", *result.errors)
    return {k: v for k, v in vars(event).items() if v is not None}


STRING_PARAMETERS = {
    "aid": "app_id",
    "uid": "user_id",
    "duid": "domain_userid",
    "nuid": "network_userid",
    "ua": "useragent",
    "fp": "user_fingerprint",
    "tna": "name_tracker",
    "tv": "v_tracker",
    "cv": "v_collector",
    "lang": "br_lang",
    "cd": "br_colordepth",
    "tz": "os_timezone",
    "refr": "page_referrer",
    "url": "page_url",
    "page": "page_title",
    "cs": "doc_charset",
    "ev_ca": "se_category",
    "ev_ac": "se_action",
    "ev_la": "se_label",
    "ev_pr": "se_property",
    "se_ca": "se_category",
    "se_ac": "se_action",
    "se_la": "se_label",
    "se_pr": "se_property",
    "tr_id": "tr_orderid",
    "tr_af": "tr_affiliation",
    "tr_ci": "tr_city",
    "tr_st": "tr_state",
    "tr_co": "tr_country",
    "ti_id": "ti_orderid",
    "ti_sk": "ti_sku",
    "ti_na": "ti_name",
    "ti_nm": "ti_name",
    "ti_ca": "ti_category",
    "tr_cu": "tr_currency",
    "ti_cu": "ti_currency",
}


@pytest.mark.parametrize(("parameter", "column"), STRING_PARAMETERS.items())
def test_string_parameters_are_made_tsv_safe(parameter, column):
    assert _column(parameter, "Psychic Bazaar\tShop\n\x07é") == {column: "Psychic Bazaar    Shopé"}
    assert _column(parameter, "") == {}
    assert _column(parameter, None) == {}


def test_ip_keeps_the_first_address_of_a_list():
    assert _column("ip", "70.46.123.145, 10.0.0.1") == {"user_ipaddress": "70.46.123.145"}
    assert _column("ip", "1.2.3.4|5.6.7.8") == {"user_ipaddress": "1.2.3.4"}
    assert _column("ip", "1.2.3.4 5.6.7.8") == {"user_ipaddress": "1.2.3.4"}
    assert _column("ip", "2001:db8::1") == {"user_ipaddress": "2001:db8::1"}


@pytest.mark.parametrize(
    ("code", "event"),
    [
        ("pv", "page_view"),
        ("pp", "page_ping"),
        ("se", "struct"),
        ("ev", "struct"),
        ("ue", "unstruct"),
        ("tr", "transaction"),
        ("ti", "transaction_item"),
        ("ad", "ad_impression"),
    ],
)
def test_event_codes(code, event):
    assert _column("e", code) == {"event": event}


@pytest.mark.parametrize(("value", "shown"), [("lol", "lol"), ("", ""), (None, "null")])
def test_unknown_event_code(value, shown):
    assert _column("e", value) == (
        "error",
        f"Field [e]: [{shown}] is not a recognised event code",
    )


@pytest.mark.parametrize("platform", ["web", "iot", "app", "mob", "pc", "cnsl", "tv", "srv"])
def test_platforms(platform):
    assert _column("p", platform) == {"platform": platform}


def test_unsupported_platform():
    assert _column("p", "mobile") == (
        "error",
        "Field [p]: [mobile] is not a supported tracking platform",
    )


def test_txn_id_is_validated_as_an_int_but_kept_verbatim():
    assert _column("tid", "028288") == {"txn_id": "028288"}
    for bad, shown in [("x", "x"), ("", ""), ("2147483648", "2147483648"), (None, "null")]:
        assert _column("tid", bad) == ("error", f"Field [tid]: [{shown}] is not a valid integer")


@pytest.mark.parametrize(
    ("parameter", "column"),
    [
        ("vid", "domain_sessionidx"),
        ("ti_qu", "ti_quantity"),
        ("pp_mix", "pp_xoffset_min"),
        ("pp_max", "pp_xoffset_max"),
        ("pp_miy", "pp_yoffset_min"),
        ("pp_may", "pp_yoffset_max"),
    ],
)
def test_int_parameters(parameter, column):
    assert _column(parameter, "041") == {column: "41"}
    assert _column(parameter, "-7") == {column: "-7"}
    assert _column(parameter, None) == {}
    for bad in ["a", "", " 1", "1_0", "2147483648", "1.0"]:
        assert _column(parameter, bad) == (
            "error",
            f"Field [{parameter}]: cannot convert [{bad}] to Int",
        )


@pytest.mark.parametrize(
    ("parameter", "column"), [("sid", "domain_sessionid"), ("eid", "event_id")]
)
def test_uuid_parameters_are_lower_cased(parameter, column):
    value = "550E8400-E29B-41D4-A716-446655440000"
    assert _column(parameter, value) == {column: value.lower()}
    for bad, shown in [("1-1-1-1-1", "1-1-1-1-1"), ("x", "x"), ("", ""), (None, "null")]:
        assert _column(parameter, bad) == (
            "error",
            f"Field [{parameter}]: [{shown}] is not a valid UUID",
        )


@pytest.mark.parametrize(
    ("parameter", "column"),
    [("dtm", "dvce_created_tstamp"), ("stm", "dvce_sent_tstamp"), ("ttm", "true_tstamp")],
)
def test_timestamp_parameters(parameter, column):
    assert _column(parameter, "1364219529188") == {column: "2013-03-25 13:52:09.188"}
    assert _column(parameter, "1") == {column: "1970-01-01 00:00:00.001"}
    for bad, shown in [("v", "v"), ("", ""), ("1.5", "1.5"), (None, "null")]:
        assert _column(parameter, bad) == (
            "error",
            f"Field [{parameter}]: [{shown}] is not in the expected format (ms since epoch)",
        )
    assert _column(parameter, "1111111111111111") == (
        "error",
        f"Field [{parameter}]: [1111111111111111] is formatted as [37179-09-17 07:18:31.111] "
        "which isn't Redshift-compatible",
    )
    assert _column(parameter, "-63113904000000") == (
        "error",
        f"Field [{parameter}]: [-63113904000000] is formatted as [-0030-01-01 00:00:00.000] "
        "which isn't Redshift-compatible",
    )


BOOLEAN_PARAMETERS = {
    "f_pdf": "br_features_pdf",
    "f_fla": "br_features_flash",
    "f_java": "br_features_java",
    "f_dir": "br_features_director",
    "f_qt": "br_features_quicktime",
    "f_realp": "br_features_realplayer",
    "f_wma": "br_features_windowsmedia",
    "f_gears": "br_features_gears",
    "f_ag": "br_features_silverlight",
    "cookie": "br_cookies",
}


@pytest.mark.parametrize(("parameter", "column"), BOOLEAN_PARAMETERS.items())
def test_boolean_parameters_accept_only_1_and_0(parameter, column):
    assert _column(parameter, "1") == {column: "1"}
    assert _column(parameter, "0") == {column: "0"}
    for bad, shown in [("true", "true"), ("", ""), (None, "null")]:
        assert _column(parameter, bad) == (
            "error",
            f"Field [{parameter}]: cannot convert [{shown}] to Boolean-like JByte",
        )


@pytest.mark.parametrize(
    ("parameter", "columns"),
    [
        ("res", ("dvce_screenwidth", "dvce_screenheight")),
        ("vp", ("br_viewwidth", "br_viewheight")),
        ("ds", ("doc_width", "doc_height")),
    ],
)
def test_dimension_parameters(parameter, columns):
    assert _column(parameter, "2560x01440") == dict(zip(columns, ("2560", "1440"), strict=True))
    for bad, shown in [("2560*1440", "2560*1440"), ("1x", "1x"), ("١x2", "١x2"), (None, "null")]:
        assert _column(parameter, bad) == (
            "error",
            f"Field [{parameter}]: [{shown}] does not contain valid view dimensions",
        )
    assert _column(parameter, "2147483648x1") == (
        "error",
        f"Field [{parameter}]: view dimensions [2147483648x1] exceed Integer's max range",
    )


@pytest.mark.parametrize(
    ("parameter", "column"),
    [
        ("se_va", "se_value"),
        ("ev_va", "se_value"),
        ("tr_tt", "tr_total"),
        ("tr_tx", "tr_tax"),
        ("tr_sh", "tr_shipping"),
        ("ti_pr", "ti_price"),
    ],
)
def test_decimal_parameters_are_plain_big_decimals(parameter, column):
    for value, plain in [("1E3", "1000"), ("12.50", "12.50"), ("-0.0", "0.0"), ("1e-3", "0.001")]:
        assert _column(parameter, value) == {column: plain}
    assert _column(parameter, "null") == {}
    assert _column(parameter, None) == {}
    for bad in ["", "19,999.99", "0x54", "NaN", "-7.51E^9", "Trịnh Công Sơn"]:
        assert _column(parameter, bad) == (
            "error",
            f"Field [{parameter}]: cannot convert [{bad}] to Double-like String",
        )


CONTEXTS = {
    "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0",
    "data": [
        {"schema": "iglu:com.acme/ctx/jsonschema/1-0-0", "data": {"name": "Χαριτίνη", "n": 3}}
    ],
}
COMPACT = json.dumps(CONTEXTS, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(("parameter", "column"), [("co", "contexts"), ("ue_pr", "unstruct_event")])
def test_json_parameters_are_reformatted_compactly(parameter, column):
    event, result = _apply(**{parameter: json.dumps(CONTEXTS, indent=2)})
    assert result.errors == []
    assert getattr(event, column) == COMPACT
    assert result.parsed_json == {column: CONTEXTS}


@pytest.mark.parametrize(("parameter", "column"), [("cx", "contexts"), ("ue_px", "unstruct_event")])
def test_base64_json_parameters_take_either_alphabet_without_padding(parameter, column):
    raw = json.dumps(CONTEXTS).encode()
    for encoded in [base64.urlsafe_b64encode(raw).rstrip(b"="), base64.b64encode(raw)]:
        assert _column(parameter, encoded.decode()) == {column: COMPACT}


def test_json_like_jackson_reads_the_first_value_and_writes_java_doubles():
    assert _column("co", '{"a":9}}}') == {"contexts": '{"a":9}'}
    assert _column("co", "[1.00, 2.5, 1e7, 0.0001, 12]") == {
        "contexts": "[1.0,2.5,1.0E7,1.0E-4,12]"
    }


def test_invalid_json_reports_jacksons_message():
    # BadTrackerCfLinesSpec: ue_px=am9obitzbWl0aA decodes to "john+smith"
    assert _column("ue_px", "am9obitzbWl0aA") == (
        "error",
        "Field [ue_px]: invalid JSON [john+smith] with parsing error: Unrecognized token 'john': "
        "was expecting ('true', 'false' or 'null') at [Source: john+smith; line: 1, column: 5]",
    )
    assert _column("co", '{"a"::2}') == (
        "error",
        """Field [co]: invalid JSON [{"a"::2}] with parsing error: Unexpected character (':' """
        "(code 58)): expected a valid value (number, String, array, object, 'true', 'false' or "
        """'null') at [Source: {"a"::2}; line: 1, column: 7]""",
    )
    assert _column("co", '{9:"a"}') == (
        "error",
        """Field [co]: invalid JSON [{9:"a"}] with parsing error: Unexpected character ('9' """
        '(code 57)): was expecting double-quote to start field name at [Source: {9:"a"}; '
        "line: 1, column: 3]",
    )
    assert _column("co", "") == (
        "error",
        "Field [co]: invalid JSON [] with parsing error: No content to map due to end-of-input "
        "at [Source: ; line: 1, column: 1]",
    )
    assert _column("co", "[NaN]")[1].startswith(
        "Field [co]: invalid JSON [[NaN]] with parsing error: Non-standard token 'NaN'"
    )


def test_repeated_json_gives_the_same_result_and_a_repeated_error_each_time():
    # Recent JSON results are cached; the cache must be invisible: the same text as another
    # parameter still reports under its own name, and a bad text is a bad row every time.
    text = json.dumps(CONTEXTS)
    first, second = _apply(co=text), _apply(ue_pr=text)
    assert first[0].contexts == second[0].unstruct_event == COMPACT
    assert first[1].parsed_json["contexts"] == second[1].parsed_json["unstruct_event"] == CONTEXTS
    for parameter in ("co", "co", "ue_pr"):
        assert _column(parameter, '{"a"::2}')[1].startswith(f"Field [{parameter}]: invalid JSON")


def test_missing_json_values_are_errors():
    assert _column("cx", None) == (
        "error",
        "Field [cx]: exception Base64-decoding [null] (URL-safe encoding): [null]",
    )
    assert _column("ue_pr", None)[0] == "error"


def test_tnuid_overrides_nuid_whatever_the_order():
    event, _ = _apply(tnuid="tracker", nuid="collector")
    assert event.network_userid == "tracker"


def test_unknown_parameters_are_ignored():
    assert _column("evn", "com.acme") == {}
    assert _column("u", "http://x") == {}


def test_all_errors_are_collected_and_failing_columns_stay_unset():
    event, result = _apply(e="lol", vid="a", aid="app", dtm="x", res="1x1")
    assert sorted(result.errors) == sorted(
        [
            "Field [e]: [lol] is not a recognised event code",
            "Field [vid]: cannot convert [a] to Int",
            "Field [dtm]: [x] is not in the expected format (ms since epoch)",
        ]
    )
    assert event.app_id == "app"
    assert event.dvce_screenwidth == "1"
    assert event.event is None
    assert event.domain_sessionidx is None
