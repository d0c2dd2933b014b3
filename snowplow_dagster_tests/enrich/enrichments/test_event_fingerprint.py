import hashlib
import re
from urllib.parse import unquote_plus

import pytest

from snowplow_dagster.enrich.enrichments.config import EnrichmentConfigError
from snowplow_dagster.enrich.enrichments.event_fingerprint import EventFingerprint

# The querystring of Spark Enrich 1.18's YauaaEnrichmentCfLineSpec, whose expected
# event_fingerprint (MD5, eid and stm excluded) is 6a2f7bbf7669eb1808c79cfe3e1f8e57.
SPEC_QUERYSTRING = (
    "&e=ue&ue_pr=%7B%22schema%22%3A%22iglu%3Acom.snowplowanalytics.snowplow%2Funstruct_event%2Fjsonschema"
    "%2F1-0-0%22%2C%22data%22%3A%7B%22schema%22%3A%22iglu%3Acom.snowplowanalytics.snowplow.input-adapters"
    "%2Fsegment_webhook_config%2Fjsonschema%2F1-0-0%22%2C%22data%22%3A%7B%22vendor%22%3A%22%CE%A7%CE%B1%CF"
    "%81%CE%B9%CF%84%CE%AF%CE%BD%CE%B7%20NEW%20Unicode%20test%22%2C%22name%22%3A%22alex%2Btest%40snowplow"
    "analytics.com%22%2C%22parameters%22%3A%7B%22mappings%22%3A%7B%22eventsPerMonth%22%3A%22%3C%201%20million"
    "%22%2C%22serviceType%22%3A%22unsure%22%7D%7D%7D%7D%7D&dtm=1364230969450&evn=com.acme&tid=598951"
    "&vp=2560x934&ds=2543x1420&vid=43&duid=9795bd0203804cd1&p=web&tv=js-0.11.1&fp=2876815413&aid=pbzsite"
    "&lang=en-GB&cs=UTF-8&tz=Europe%2FLondon&refr=http%3A%2F%2Fwww.psychicbazaar.com%2F&f_pdf=1&f_qt=0"
    "&f_realp=0&f_wma=0&f_dir=0&f_fla=1&f_java=1&f_gears=0&f_ag=1&res=2560x1440&cd=32&cookie=1"
    "&url=http%3A%2F%2Fwww.psychicbazaar.com%2F2-tarot-cards"
)
SPEC_CONFIG = {"excludeParameters": ["eid", "stm"], "hashAlgorithm": "MD5"}


def _parameters(querystring: str) -> dict[str, str]:
    pairs = (token.partition("=") for token in re.split("[&;]", querystring) if token)
    return {unquote_plus(name): unquote_plus(value) for name, _, value in pairs}


def test_spec_vector():
    fingerprint = EventFingerprint.from_parameters(SPEC_CONFIG)
    assert (
        fingerprint.fingerprint(_parameters(SPEC_QUERYSTRING)) == "6a2f7bbf7669eb1808c79cfe3e1f8e57"
    )


def test_excluded_parameters_do_not_change_the_fingerprint():
    fingerprint = EventFingerprint.from_parameters(SPEC_CONFIG)
    parameters = _parameters(SPEC_QUERYSTRING)
    assert fingerprint.fingerprint(
        {**parameters, "eid": "x", "stm": "1"}
    ) == fingerprint.fingerprint(parameters)
    assert fingerprint.fingerprint({**parameters, "evn": "other"}) != fingerprint.fingerprint(
        parameters
    )


def test_layout_is_sorted_name_unit_separator_value():
    fingerprint = EventFingerprint.from_parameters(
        {"excludeParameters": [], "hashAlgorithm": "MD5"}
    )
    expected = hashlib.md5(b"a\x1f1\x1fb\x1fnull\x1f").hexdigest()
    assert fingerprint.fingerprint({"b": None, "a": "1"}) == expected  # Java appends null as "null"


def test_the_order_parameters_arrive_in_does_not_matter():
    # The name order is worked out once per name sequence: a new sequence, a repeated one and
    # the empty one must all hash as the sorted layout says.
    fingerprint = EventFingerprint.from_parameters(SPEC_CONFIG)
    parameters = _parameters(SPEC_QUERYSTRING)
    reversed_order = dict(reversed(parameters.items()))
    expected = "6a2f7bbf7669eb1808c79cfe3e1f8e57"
    assert fingerprint.fingerprint(reversed_order) == expected
    assert fingerprint.fingerprint(parameters) == expected
    assert fingerprint.fingerprint({**reversed_order, "eid": "x"}) == expected
    assert fingerprint.fingerprint({}) == hashlib.md5(b"").hexdigest()


@pytest.mark.parametrize("name", ["SHA1", "SHA256", "SHA384", "SHA512"])
def test_later_algorithms(name):
    fingerprint = EventFingerprint.from_parameters({"excludeParameters": [], "hashAlgorithm": name})
    expected = hashlib.new(name.replace("SHA", "sha"), b"e\x1fpv\x1f").hexdigest()
    assert fingerprint.fingerprint({"e": "pv"}) == expected


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"excludeParameters": []}, "parameters.hashAlgorithm is required"),
        (
            {"excludeParameters": [], "hashAlgorithm": "CRC32"},
            "parameters.hashAlgorithm is 'CRC32'; supported: MD5",
        ),
        ({"hashAlgorithm": "MD5"}, "parameters.excludeParameters is required"),
        ({"excludeParameters": "eid", "hashAlgorithm": "MD5"}, "must be an array of strings"),
    ],
)
def test_configuration_errors(parameters, message):
    with pytest.raises(EnrichmentConfigError) as error:
        EventFingerprint.from_parameters(parameters)
    assert message in str(error.value)
