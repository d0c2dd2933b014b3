"""Iglu resolution and schema validation against real Iglu Central schemas, over real HTTP.

The schemas are a few of Iglu Central's, vendored in ``data/iglu-central`` (Apache-2.0), served
by a real ``http.server`` on loopback (an HTTP repository) and read from disk (embedded).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from pathlib import Path

import boto3
import pytest

from snowplow_dagster.enrich.enricher import Enricher
from snowplow_dagster.enrich.enrichments.registry import ENRICHMENTS_SCHEMA
from snowplow_dagster.enrich.iglu import parse_schema_uri
from snowplow_dagster.enrich.iglu_resolver import Resolver, ResolverConfigError
from snowplow_dagster.enrich.iglu_validation import IgluValidator
from snowplow_dagster_tests.enrich.test_enricher import PAGE_VIEW_LINE
from snowplow_dagster_tests.fixtures.iglu import VENDORED

TESTS = Path(__file__).resolve().parents[1]
SHARED = Path(
    os.environ.get("IGLU_CENTRAL_SNAPSHOT", TESTS.parent.parent / "shared" / "iglu-central")
)
"""The full snapshot: ``../shared/iglu-central`` beside the repository, as in CI."""
SP = "com.snowplowanalytics.snowplow"
UUID = "6ac7d8a0-7b1e-4b7b-9f0e-1c2d3e4f5a6b"


def _http(name: str, uri: str, priority: int = 0, prefixes: list[str] | None = None, **extra):
    connection = {"http": {"uri": uri, **extra}}
    return {
        "name": name,
        "priority": priority,
        "vendorPrefixes": prefixes or [],
        "connection": connection,
    }


def _embedded(name: str, path: str, priority: int = 0, prefixes: list[str] | None = None):
    return {
        "name": name,
        "priority": priority,
        "vendorPrefixes": prefixes or [],
        "connection": {"embedded": {"path": path}},
    }


def _config(*repositories, cache_size: int = 500, **data) -> dict:
    return {
        "schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
        "data": {"cacheSize": cache_size, "repositories": list(repositories), **data},
    }


def _validator(*repositories, **options) -> IgluValidator:
    return IgluValidator(Resolver.from_config(_config(*repositories, **options), timeout=2))


def _key(uri: str):
    return parse_schema_uri(uri)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


GOOD = [
    (f"iglu:{SP}/web_page/jsonschema/1-0-0", {"id": UUID}),
    (
        f"iglu:{SP}/client_session/jsonschema/1-0-2",
        {
            "userId": UUID,
            "sessionId": UUID,
            "sessionIndex": 3,
            "previousSessionId": None,
            "storageMechanism": "COOKIE_1",
            "firstEventId": UUID,
            "firstEventTimestamp": "2024-03-01T10:11:12.123Z",
        },
    ),
    (
        f"iglu:{SP}/mobile_context/jsonschema/1-0-1",
        {
            "osType": "ios",
            "osVersion": "17.2",
            "deviceManufacturer": "Apple",
            "deviceModel": "iPhone15,2",
            "carrier": None,
            "networkType": "wifi",
        },
    ),
    (
        f"iglu:{SP}/link_click/jsonschema/1-0-1",
        {"targetUrl": "https://example.com/a", "elementId": "nav", "elementClasses": ["x"]},
    ),
    (
        f"iglu:{SP}/submit_form/jsonschema/1-0-0",
        {
            "formId": "signup",
            "formClasses": ["f"],
            "elements": [{"name": "email", "value": "a@b.c", "nodeName": "INPUT"}],
        },
    ),
]


@pytest.mark.parametrize("where", ["http", "embedded"])
@pytest.mark.parametrize(("uri", "data"), GOOD, ids=[uri.split("/")[1] for uri, _ in GOOD])
def test_real_tracker_payloads_are_valid(iglu_server, where, uri, data):
    repository = (
        _http("Test", iglu_server.uri) if where == "http" else _embedded("Test", str(VENDORED))
    )
    assert _validator(repository).validate(_key(uri), data) == []


def _session(**changes):
    data = dict(GOOD[1][1])
    data.update(changes)
    return data


BAD = [
    pytest.param(
        f"iglu:{SP}/link_click/jsonschema/1-0-1",
        {"elementId": "nav"},
        'error: object has missing required properties (["targetUrl"])\n'
        '    level: "error"\n'
        '    schema: {"loadingURI":"#","pointer":""}\n'
        '    instance: {"pointer":""}\n'
        '    domain: "validation"\n'
        '    keyword: "required"\n'
        '    required: ["targetUrl"]\n'
        '    missing: ["targetUrl"]',
        id="missing-required",
    ),
    pytest.param(
        f"iglu:{SP}/client_session/jsonschema/1-0-2",
        _session(sessionIndex="3"),
        "error: instance type (string) does not match any allowed primitive type "
        '(allowed: ["integer"])\n'
        '    level: "error"\n'
        '    schema: {"loadingURI":"#","pointer":"/properties/sessionIndex"}\n'
        '    instance: {"pointer":"/sessionIndex"}\n'
        '    domain: "validation"\n'
        '    keyword: "type"\n'
        '    found: "string"\n'
        '    expected: ["integer"]',
        id="wrong-type",
    ),
    pytest.param(
        f"iglu:{SP}/web_page/jsonschema/1-0-0",
        {"id": UUID, "title": "Home"},
        'error: object instance has properties which are not allowed by the schema: ["title"]',
        id="additional-property",
    ),
    pytest.param(
        f"iglu:{SP}/client_session/jsonschema/1-0-2",
        _session(sessionId="not-a-uuid"),
        'error: string "not-a-uuid" is not a valid UUID',
        id="bad-uuid",
    ),
    pytest.param(
        f"iglu:{SP}/client_session/jsonschema/1-0-2",
        _session(firstEventTimestamp="2024-03-01 10:11:12"),
        'error: string "2024-03-01 10:11:12" is invalid against requested date format(s)',
        id="bad-date-time",
    ),
    pytest.param(
        f"iglu:{SP}/web_page/jsonschema/1-0-9",
        {"id": UUID},
        f"error: Could not find schema with key iglu:{SP}/web_page/jsonschema/1-0-9 in any "
        "repository, tried:\n"
        '    level: "error"\n'
        '    repositories: ["Iglu Client Embedded [embedded]","Test [HTTP]"]',
        id="unknown-version",
    ),
    pytest.param(
        "iglu:com.acme/checkout/jsonschema/1-0-0",
        {"step": 1},
        "error: Could not find schema with key iglu:com.acme/checkout/jsonschema/1-0-0 in any "
        "repository, tried:",
        id="unknown-vendor",
    ),
]


@pytest.mark.parametrize(("uri", "data", "expected"), BAD)
def test_each_kind_of_bad_payload_has_snowplows_message(iglu_server, uri, data, expected):
    [message] = _validator(_http("Test", iglu_server.uri)).validate(_key(uri), data)
    assert message.startswith(expected), message


def test_every_error_is_reported_not_just_the_first(iglu_server):
    data = _session(sessionIndex=-1, storageMechanism="DISK", extra=True)
    del data["userId"]
    messages = _validator(_http("Test", iglu_server.uri)).validate(
        _key(f"iglu:{SP}/client_session/jsonschema/1-0-2"), data
    )
    keywords = sorted(m.split('keyword: "')[1].split('"')[0] for m in messages)
    assert keywords == ["additionalProperties", "enum", "minimum", "required"], messages


def test_a_ref_to_iglu_central_resolves_to_the_bundled_copy(iglu_server):
    """campaign_attribution ``$ref``s iglucentral.com's instance-iglu-only: never fetched."""
    validator = _validator(_http("Test", iglu_server.uri))
    key = _key(f"iglu:{SP}/campaign_attribution/jsonschema/1-0-1")
    good = {
        "name": "campaign_attribution",
        "vendor": SP,
        "enabled": True,
        "parameters": {
            "mapping": "static",
            "fields": {
                "mktMedium": ["utm_medium"],
                "mktSource": ["utm_source"],
                "mktTerm": ["utm_term"],
                "mktContent": ["utm_content"],
                "mktCampaign": ["utm_campaign"],
            },
        },
    }
    assert validator.validate(key, good) == []
    assert list(iglu_server.requests) == [f"/schemas/{SP}/campaign_attribution/jsonschema/1-0-1"]


@pytest.mark.parametrize(
    "ref", ["file:///etc/hostname", "http://127.0.0.1:9/x.json", "other.json", "ftp://h/x"]
)
def test_a_ref_outside_the_repositories_is_never_fetched(tmp_path, ref):
    """Schemas are compiled to code: a ``$ref`` must not make the worker read files or URLs."""
    target = tmp_path / "repo" / "schemas" / "com.acme" / "x" / "jsonschema" / "1-0-0"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"type": "object", "properties": {"a": {"$ref": ref}}}))
    validator = _validator(_embedded("Ours", str(tmp_path / "repo")))
    [message] = validator.validate(_key("iglu:com.acme/x/jsonschema/1-0-0"), {"a": 1})
    assert message.startswith("error: Schema iglu:com.acme/x/jsonschema/1-0-0 cannot be used")
    assert "cannot be resolved offline" in message


def test_the_whole_iglu_central_snapshot_compiles_offline():
    """Every schema of ../shared/iglu-central compiles, its ``$ref``s resolved from the bundle
    and the snapshot itself: nothing reaches the network."""
    if not (SHARED / "schemas").is_dir():
        pytest.skip(f"the Iglu Central snapshot is not beside the repository: {SHARED}")
    validator = _validator(_embedded("Iglu Central snapshot", str(SHARED)), cache_size=5000)
    paths = sorted((SHARED / "schemas").glob("*/*/jsonschema/*"))
    assert len(paths) > 500
    unusable = []
    for path in paths:
        vendor, name, _, version = path.relative_to(SHARED / "schemas").parts
        messages = validator.validate(_key(f"iglu:{vendor}/{name}/jsonschema/{version}"), {})
        unusable += [m for m in messages if "cannot be used for validation" in m]
    assert unusable == []


# --- in the enrichment core ------------------------------------------------------------------


NO_ENRICHMENTS = {"schema": ENRICHMENTS_SCHEMA, "data": []}


def _line_with_contexts(*contexts) -> str:
    envelope = {"schema": f"iglu:{SP}/contexts/jsonschema/1-0-0", "data": list(contexts)}
    cx = base64.urlsafe_b64encode(json.dumps(envelope).encode()).decode().rstrip("=")
    return f"{PAGE_VIEW_LINE}&cx={cx}"


def test_a_valid_event_with_one_invalid_context_is_one_bad_row(iglu_server):
    config = _config(_http("Test", iglu_server.uri))
    enricher = Enricher.from_config("cloudfront", NO_ENRICHMENTS, 0, config)
    web_page = {"schema": GOOD[0][0], "data": {"id": UUID}}
    session = {"schema": GOOD[1][0], "data": GOOD[1][1]}

    good = enricher.process_line(_line_with_contexts(web_page, session))
    assert (len(good.good), good.bad) == (1, [])

    broken = {"schema": GOOD[1][0], "data": _session(sessionId="x")}
    result = enricher.process_line(_line_with_contexts(web_page, broken))
    assert result.good == []
    [row] = result.bad
    [error] = json.loads(row)["errors"]
    assert error["level"] == "error"
    assert error["message"].startswith('error: string "x" is not a valid UUID')


def test_unstruct_event_data_is_validated(iglu_server):
    config = _config(_http("Test", iglu_server.uri))
    enricher = Enricher.from_config("cloudfront", NO_ENRICHMENTS, 0, config)
    inner = {"schema": GOOD[3][0], "data": {"elementId": "x"}}
    envelope = {"schema": f"iglu:{SP}/unstruct_event/jsonschema/1-0-0", "data": inner}
    ue_px = base64.urlsafe_b64encode(json.dumps(envelope).encode()).decode().rstrip("=")
    line = PAGE_VIEW_LINE.replace("&e=pv&", "&e=ue&") + f"&ue_px={ue_px}"
    result = enricher.process_line(line)
    assert result.good == []
    messages = [e["message"] for e in json.loads(result.bad[0])["errors"]]
    assert any('missing required properties (["targetUrl"])' in m for m in messages), messages


# --- resolution order, failures, cache --------------------------------------------------------


def _folder_with(tmp_path: Path, name: str, description: str) -> str:
    """An embedded repository whose web_page 1-0-0 is told apart by its description."""
    schema = json.loads((VENDORED / "schemas" / SP / "web_page/jsonschema/1-0-0").read_text())
    target = tmp_path / name / "schemas" / SP / "web_page" / "jsonschema" / "1-0-0"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({**schema, "description": description}))
    return str(tmp_path / name)


def _found(resolver: Resolver) -> str:
    return resolver.lookup(_key(GOOD[0][0])).schema["description"]


def test_vendor_prefixes_first_then_embedded_before_http_then_priority(tmp_path, iglu_server):
    low = _folder_with(tmp_path, "low", "low priority")
    high = _folder_with(tmp_path, "high", "high priority")
    prefixed = _folder_with(tmp_path, "prefixed", "prefixed")

    by_priority = Resolver.from_config(_config(_embedded("B", low, 5), _embedded("A", high, 1)))
    assert _found(by_priority) == "high priority"

    by_prefix = _config(_embedded("A", high, 0), _embedded("P", prefixed, 9, ["com.snowplow"]))
    assert _found(Resolver.from_config(by_prefix)) == "prefixed"

    http_first_in_file = _config(_http("H", iglu_server.uri, 0), _embedded("E", low, 10))
    assert _found(Resolver.from_config(http_first_in_file)) == "low priority"
    assert iglu_server.requests.total() == 0

    order = Resolver.from_config(
        _config(
            _http("H", iglu_server.uri, 0, ["com.snowplowanalytics"]),
            _embedded("E", low, 10),
        )
    ).ordered(_key(GOOD[0][0]))
    assert [r.label for r in order] == [
        "Iglu Client Embedded [embedded]",
        "H [HTTP]",
        "E [embedded]",
    ]


def test_a_repository_that_is_down_is_skipped_and_named(iglu_server):
    down = f"http://127.0.0.1:{_free_port()}"
    validator = _validator(_http("Down", down, 0), _http("Up", iglu_server.uri, 1))
    assert validator.validate(_key(GOOD[0][0]), GOOD[0][1]) == []

    only_down = _validator(_http("Down", down))
    [message] = only_down.validate(_key(GOOD[0][0]), GOOD[0][1])
    assert message.startswith("error: Could not find schema with key")
    assert '"Down [HTTP]"' in message
    assert "failures: [" in message and down in message

    # Another schema soon after: the dead repository is not asked again (no retries, no wait).
    started = time.monotonic()
    [message] = only_down.validate(_key(GOOD[1][0]), GOOD[1][1])
    assert time.monotonic() - started < 0.2
    assert "not asked, unreachable moments ago" in message


def test_a_500_is_retried_and_the_200_that_follows_is_used(iglu_server):
    path = f"/schemas/{SP}/web_page/jsonschema/1-0-0"
    iglu_server.failures[path] = 1
    validator = _validator(_http("Flaky", iglu_server.uri))
    assert validator.validate(_key(GOOD[0][0]), {"id": "x"}) != []  # validated, not "not found"
    assert iglu_server.requests[path] == 2


def test_the_apikey_is_sent(iglu_server):
    validator = _validator(_http("Private", iglu_server.uri, apikey="s3cr3t"))
    validator.validate(_key(GOOD[0][0]), GOOD[0][1])
    assert iglu_server.apikeys == ["s3cr3t"]


def test_one_fetch_per_schema_hits_and_misses_alike(iglu_server):
    validator = _validator(_http("Test", iglu_server.uri))
    for _ in range(200):
        for uri, data in GOOD:
            assert validator.validate(_key(uri), data) == []
        assert validator.validate(_key("iglu:com.acme/x/jsonschema/1-0-0"), {}) != []
    assert set(iglu_server.requests.values()) == {1}
    assert iglu_server.requests.total() == len(GOOD) + 1


def test_the_cache_is_an_lru_of_cache_size_entries(iglu_server):
    validator = _validator(_http("Test", iglu_server.uri), cache_size=2)
    first, second, third = (_key(uri) for uri, _ in GOOD[:3])
    for key in (first, second, first, third, first, second):
        validator.validate(key, {})
    # first stays (recently used); second is evicted by third, so fetched again
    assert iglu_server.requests.total() == 4
    assert len(validator.resolver._cache) == 2


def test_cache_ttl_expires_entries(iglu_server):
    now = [0.0]
    resolver = Resolver.from_config(_config(_http("Test", iglu_server.uri), cacheTtl=60))
    resolver._clock = lambda: now[0]
    resolver.lookup(_key(GOOD[0][0]))
    now[0] = 59
    resolver.lookup(_key(GOOD[0][0]))
    assert iglu_server.requests.total() == 1
    now[0] = 61
    resolver.lookup(_key(GOOD[0][0]))
    assert iglu_server.requests.total() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"repositories": []}, "data.cacheSize: must be an integer"),
        ({"cacheSize": 5}, "data.repositories: must be an array"),
        (
            {"cacheSize": 5, "repositories": [{"name": "x", "priority": 0, "vendorPrefixes": []}]},
            "data.repositories[0].connection: must be an object",
        ),
        (
            {
                "cacheSize": 5,
                "repositories": [
                    {"name": "x", "priority": 0, "vendorPrefixes": [], "connection": {}}
                ],
            },
            "data.repositories[0].connection: must have exactly one of http and embedded",
        ),
    ],
)
def test_an_unusable_resolver_config_names_the_key(data, message):
    with pytest.raises(ResolverConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Resolver.from_config({"schema": "iglu:x", "data": data})


def test_an_s3_static_registry_is_an_embedded_repository(s3_bucket):
    """``s3://bucket/prefix`` (the user's own registry on EMR), read with boto3 from moto."""
    s3 = boto3.client("s3")
    for uri, _ in GOOD[:2]:
        key = _key(uri)
        path = f"{key.vendor}/{key.name}/{key.format}/{key.version}"
        body = (VENDORED / "schemas" / path).read_bytes()
        s3.put_object(Bucket=s3_bucket, Key=f"registry/schemas/{path}", Body=body)
    validator = _validator(_embedded("Our registry", f"s3://{s3_bucket}/registry"))

    for uri, data in GOOD[:2]:
        assert validator.validate(_key(uri), data) == []
    assert validator.validate(_key(GOOD[0][0]), {"id": "x"}) != []
    [missing] = validator.validate(_key(GOOD[3][0]), GOOD[3][1])
    assert missing.startswith("error: Could not find schema with key")
    assert '"Our registry [embedded]"' in missing
