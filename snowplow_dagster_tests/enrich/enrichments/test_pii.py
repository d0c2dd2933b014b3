import json
import logging

import pytest

from snowplow_dagster.enrich.enrichments.config import EnrichmentConfigError
from snowplow_dagster.enrich.enrichments.pii import PiiPseudonymizer, parse_json_path
from snowplow_dagster.enrich.event import EnrichedEvent

SALT = "pink123"


def _config(*fields, function="SHA-1", salt=SALT):
    return {
        "pii": list(fields),
        "strategy": {"pseudonymize": {"hashFunction": function, "salt": salt}},
    }


def _pojo(name):
    return {"pojo": {"field": name}}


def _json(column, criterion, path):
    return {"json": {"field": column, "schemaCriterion": criterion, "jsonPath": path}}


def test_spec_vectors_hash_value_plus_salt():
    pii = PiiPseudonymizer.from_parameters(_config(_pojo("user_id"), _pojo("user_ipaddress")))
    event = EnrichedEvent()
    event.user_ipaddress = "216.160.83.x"
    pii.enrich(event)
    assert event.user_ipaddress == "a56b2a47752ef6dac5d5c2d9cbebf2fd69fd1f36"
    assert event.user_id is None  # null stays null
    event.user_ipaddress = "216.160.83.56"  # the un-anonymised vector of YauaaEnrichmentCfLineSpec
    pii.enrich(event)
    assert event.user_ipaddress == "17803d07577023208861c69cbccbdfc0a041b06c"


@pytest.mark.parametrize(
    ("function", "length"), [("MD5", 32), ("SHA-256", 64), ("SHA-384", 96), ("SHA-512", 128)]
)
def test_other_hash_functions(function, length):
    pii = PiiPseudonymizer.from_parameters(_config(_pojo("domain_userid"), function=function))
    event = EnrichedEvent()
    event.domain_userid = "9795bd0203804cd1"
    pii.enrich(event)
    assert len(event.domain_userid) == length


UNSTRUCT = {
    "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
    "data": {
        "schema": "iglu:com.mailchimp/subscribe/jsonschema/1-0-0",
        "data": {
            "data": {"email": "a@b.c", "ip_opt": "1.2.3.4", "merges": {"FNAME": "Ann"}},
            "type": "subscribe",
        },
    },
}
CONTEXTS = {
    "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0",
    "data": [
        {
            "schema": "iglu:com.acme/user/jsonschema/1-0-0",
            "data": {"emails": ["x@y.z", 3], "name": "Ann"},
        },
        {"schema": "iglu:com.acme/user/jsonschema/2-0-0", "data": {"emails": ["kept@y.z"]}},
    ],
}


def test_json_fields_hash_matching_entities_only():
    pii = PiiPseudonymizer.from_parameters(
        _config(
            _json(
                "unstruct_event",
                "iglu:com.mailchimp/subscribe/jsonschema/1-*-*",
                "$.data.['email', 'ip_opt']",
            ),
            _json("contexts", "iglu:com.acme/user/jsonschema/1-0-*", "$.emails"),
        )
    )
    event = EnrichedEvent()
    event.unstruct_event = json.dumps(UNSTRUCT, separators=(",", ":"))
    event.contexts = json.dumps(CONTEXTS, separators=(",", ":"))
    pii.enrich(event)
    inner = json.loads(event.unstruct_event)["data"]["data"]["data"]
    assert inner["email"] == pii.scramble("a@b.c")
    assert inner["ip_opt"] == pii.scramble("1.2.3.4")
    assert inner["merges"] == {"FNAME": "Ann"}
    contexts = json.loads(event.contexts)["data"]
    assert contexts[0]["data"] == {"emails": [pii.scramble("x@y.z"), 3], "name": "Ann"}
    assert contexts[1]["data"] == {"emails": ["kept@y.z"]}  # 2-0-0 does not match 1-0-*


def test_json_fields_without_a_match_are_left_byte_for_byte():
    pii = PiiPseudonymizer.from_parameters(
        _config(_json("contexts", "iglu:com.other/x/jsonschema/1-*-*", "$.a"))
    )
    event = EnrichedEvent()
    event.contexts = json.dumps(CONTEXTS)  # not compact: proves it was not re-serialised
    pii.enrich(event)
    assert event.contexts == json.dumps(CONTEXTS)


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$.email", (("email",),)),
        ("$.data.['email', 'ip_opt']", (("data",), ("email", "ip_opt"))),
        ("$['a']", (("a",),)),
        ("$.items[*].id", (("items",), None, ("id",))),
        ("$.*", (None,)),
        ("$..email", None),
        ("$.items[0]", None),
        ("$.items[?(@.id)]", None),
        ("email", None),
    ],
)
def test_json_path_subset(path, steps):
    assert parse_json_path(path) == steps


def test_unsupported_json_paths_are_skipped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        pii = PiiPseudonymizer.from_parameters(
            _config(
                _pojo("user_id"),
                _json("contexts", "iglu:com.acme/user/jsonschema/1-*-*", "$..email"),
            )
        )
    assert pii.json_fields == ()
    assert "$..email is not supported yet" in caplog.text


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (_config(_pojo("page_url")), "parameters.pii[0].pojo.field is 'page_url'; supported:"),
        (
            _config({"pojo": {"field": "user_id"}, "json": {}}),
            "parameters.pii[0] must be an object with one key",
        ),
        (
            _config(_json("page_url", "iglu:a/b/jsonschema/1-*-*", "$.a")),
            "parameters.pii[0].json.field is 'page_url'",
        ),
        (_config(_json("contexts", "com.acme/user", "$.a")), "schemaCriterion must look like"),
        (_config(_pojo("user_id"), function="MD2"), "hashFunction is 'MD2'; supported: MD5, SHA-1"),
        ({"pii": [_pojo("user_id")]}, "parameters.strategy is required"),
        ({"pii": {}, "strategy": {}}, "parameters.pii must be an array"),
        (
            _config(_pojo("user_id"), salt=123),
            "parameters.strategy.pseudonymize.salt must be a string, got a number",
        ),
    ],
)
def test_configuration_errors(parameters, message):
    with pytest.raises(EnrichmentConfigError) as error:
        PiiPseudonymizer.from_parameters(parameters)
    assert message in str(error.value)


def test_salt_is_not_in_the_repr():
    pii = PiiPseudonymizer.from_parameters(_config(_pojo("user_id"), salt="s3cret-salt"))
    assert "s3cret-salt" not in repr(pii)
