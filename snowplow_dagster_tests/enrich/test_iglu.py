import pytest

from snowplow_dagster.enrich.iglu import SchemaKey, check_self_describing, parse_schema_uri

CONTEXTS = ("com.snowplowanalytics.snowplow", "contexts", "jsonschema", 1)


@pytest.mark.parametrize(
    ("uri", "key"),
    [
        (
            "iglu:com.acme/event/jsonschema/1-0-0",
            SchemaKey("com.acme", "event", "jsonschema", "1-0-0"),
        ),
        (
            "iglu:com.acme-co/my_event/jsonschema/12-3-45",
            SchemaKey("com.acme-co", "my_event", "jsonschema", "12-3-45"),
        ),
    ],
)
def test_valid_iglu_uris_parse(uri: str, key: SchemaKey) -> None:
    assert parse_schema_uri(uri) == key
    assert key.uri == uri


@pytest.mark.parametrize(
    "uri",
    [
        "com.acme/event/jsonschema/1-0-0",
        "iglu:com.acme/event/jsonschema/1-0",
        "iglu:com.acme/event/jsonschema/01-0-0",
        "iglu:com.acme/event/1-0-0",
        "iglu:com acme/event/jsonschema/1-0-0",
        "",
        None,
        42,
    ],
)
def test_malformed_uris_are_rejected(uri: object) -> None:
    assert parse_schema_uri(uri) is None


def test_a_self_describing_json_of_the_expected_schema_passes() -> None:
    key, errors = check_self_describing(
        {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1", "data": []},
        expected=CONTEXTS,
    )
    assert errors == []
    assert key is not None and key.model == 1


@pytest.mark.parametrize(
    ("instance", "fragment"),
    [
        ([], "not an object"),
        ({"data": {}}, "schema and data members required"),
        ({"schema": "iglu:com.acme/e/jsonschema/1-0-0"}, "schema and data members required"),
        ({"schema": "nope", "data": {}}, "is not a valid Iglu URI"),
        ({"schema": "iglu:com.acme/e/jsonschema/1-0-0", "data": []}, "failed: found iglu:com.acme"),
        (
            {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/2-0-0", "data": []},
            "contexts/jsonschema/1-*-*",
        ),
    ],
)
def test_each_envelope_problem_is_named(instance: object, fragment: str) -> None:
    _, errors = check_self_describing(instance, expected=CONTEXTS)
    assert len(errors) == 1
    assert fragment in errors[0]


def test_the_validator_seam_receives_the_key_and_data() -> None:
    seen = []

    class Recording:
        def validate(self, key: SchemaKey, data: object) -> list[str]:
            seen.append((key.uri, data))
            return ["data is wrong"]

    _, errors = check_self_describing(
        {"schema": "iglu:com.acme/e/jsonschema/1-0-0", "data": {"a": 1}}, validator=Recording()
    )
    assert errors == ["data is wrong"]
    assert seen == [("iglu:com.acme/e/jsonschema/1-0-0", {"a": 1})]
