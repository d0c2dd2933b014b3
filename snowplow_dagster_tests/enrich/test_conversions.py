from snowplow_dagster.enrich.conversions import (
    format_timestamp,
    is_redshift_compatible,
    java_double,
    parse_java_integer,
)


def test_format_timestamp_is_joda_utc_with_millis():
    assert format_timestamp(1000000000000) == "2001-09-09 01:46:40.000"
    assert format_timestamp(-1) == "1969-12-31 23:59:59.999"
    assert format_timestamp(951782400123) == "2000-02-29 00:00:00.123"
    assert format_timestamp(-62167219200000) == "0000-01-01 00:00:00.000"
    assert format_timestamp(253402300799999) == "9999-12-31 23:59:59.999"
    assert is_redshift_compatible(format_timestamp(-62167219200000))
    assert not is_redshift_compatible(format_timestamp(253402300800000))
    assert not is_redshift_compatible(format_timestamp(-62167219200001))


def test_java_double():
    cases = {1.0: "1.0", 0.001: "0.001", 0.0005: "5.0E-4", 9999999.0: "9999999.0"}
    cases |= {1e7: "1.0E7", 12345678.9: "1.23456789E7", -0.0: "-0.0", 1e-5: "1.0E-5"}
    for value, text in cases.items():
        assert java_double(value) == text


def test_parse_java_integer():
    assert parse_java_integer("+12") == 12
    assert parse_java_integer("-2147483648") == -2147483648
    assert parse_java_integer("2147483648") is None
    assert parse_java_integer("1 ") is None
    assert parse_java_integer("") is None
