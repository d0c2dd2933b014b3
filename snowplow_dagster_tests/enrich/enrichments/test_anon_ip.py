import re

import pytest

from snowplow_dagster.enrich.enrichments.anon_ip import AnonIp
from snowplow_dagster.enrich.enrichments.config import EnrichmentConfigError


@pytest.mark.parametrize(
    ("octets", "expected"),
    [(1, "216.160.83.x"), (2, "216.160.x.x"), (3, "216.x.x.x"), (4, "x.x.x.x")],
)
def test_ipv4_octets_are_masked_from_the_right(octets, expected):
    assert AnonIp.from_parameters({"anonOctets": octets}).anonymise("216.160.83.56") == expected


@pytest.mark.parametrize(
    ("ip", "octets", "expected"),
    [
        ("2001:db8::1", 3, "2001:db8::1"),  # no dots: one part, masked only when all 4 go
        ("2001:db8::1", 4, "x"),
        ("777.2.23", 1, "777.2.23"),  # Scala counts positions from the left, not parts
        ("777.2.23", 2, "777.2.x"),
        ("1.2.3.", 1, "1.2.3"),  # Java split drops the trailing empty part
        ("", 4, "x"),
    ],
)
def test_schema_1_0_0_follows_scala_common_enrich_0_37(ip, octets, expected):
    assert AnonIp(octets).anonymise(ip) == expected


@pytest.mark.parametrize(
    ("ip", "segments", "expected"),
    [
        ("2605:2700:0:3::4713:93e3", 4, "2605:2700:0:3:x:x:x:x"),
        ("2605:2700:0000:0003::4713:93E3", 1, "2605:2700:0:3:0:0:4713:x"),
        ("::1", 8, "x:x:x:x:x:x:x:x"),
        ("not:an:address", 1, "not:an:address:x:x:x:x:x"),
    ],
)
def test_anon_segments_mask_ipv6_segments(ip, segments, expected):
    anon = AnonIp.from_parameters({"anonOctets": 1, "anonSegments": segments})
    assert anon.anonymise(ip) == expected


def test_anon_segments_leave_ipv4_to_anon_octets():
    anon = AnonIp.from_parameters({"anonOctets": 2, "anonSegments": 8})
    assert anon.anonymise("216.160.83.56") == "216.160.x.x"
    assert anon.anonymise("::ffff:216.160.83.56") == "::ffff:216.160.x.x"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({}, "parameters.anonOctets must be an integer from 1 to 4"),
        ({"anonOctets": 0}, "got 0"),
        ({"anonOctets": 5}, "got 5"),
        ({"anonOctets": "1"}, "got a string"),
        ({"anonOctets": True}, "got a boolean"),
        (
            {"anonOctets": 1, "anonSegments": 9},
            "parameters.anonSegments must be an integer from 1 to 8",
        ),
        ({"anonOctets": 1, "anonOctet": 1}, "unsupported key(s) anonOctet"),
    ],
)
def test_invalid_parameters_name_the_key(parameters, message):
    with pytest.raises(EnrichmentConfigError, match=re.escape(message)):
        AnonIp.from_parameters(parameters)


def test_anon_octets_may_be_a_whole_json_number():
    assert AnonIp.from_parameters({"anonOctets": 2.0}).octets == 2
