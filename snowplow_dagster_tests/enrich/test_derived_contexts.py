"""Validating derived contexts (ua_parser's) is an option, off by default: with it, a derived
context that fails its schema makes the event a bad row, as a failing ``cx`` context does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from snowplow_dagster.enrich.badrow import one_line
from snowplow_dagster.enrich.enricher import Enricher
from snowplow_dagster.enrich.enrichments.ua_parser import CONTEXT_SCHEMA, UaParser
from snowplow_dagster.enrich.iglu import SchemaKey
from snowplow_dagster.enrich.iglu_resolver import Resolver
from snowplow_dagster.enrich.iglu_validation import IgluValidator
from snowplow_dagster.enrich.job import UsageError, parse_args
from snowplow_dagster.enrich.manager import DerivedContextValidator
from snowplow_dagster_tests.enrich.test_enricher import (
    ETL_TSTAMP_MS,
    PAGE_VIEW_LINE,
    spark_spec_enrichments,
)
from snowplow_dagster_tests.enrich.test_job import encode, job_args
from snowplow_dagster_tests.fixtures.iglu import VENDORED

SP = "com.snowplowanalytics.snowplow"
DEMO_SCHEMAS = "sample_data/iglu"
"""The demo's embedded repository, inside the installed package: it has ua_parser_context."""


def _resolver(path: str) -> dict[str, Any]:
    return {
        "schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
        "data": {
            "cacheSize": 100,
            "repositories": [
                {
                    "name": "Embedded",
                    "priority": 0,
                    "vendorPrefixes": [SP],
                    "connection": {"embedded": {"path": path}},
                }
            ],
        },
    }


def _broken_repository(tmp_path: Path) -> str:
    """A repository whose ua_parser_context 1-0-0 wants an integer deviceFamily and a
    property ua_parser never sends: every real context fails it twice."""
    folder = tmp_path / "iglu" / "schemas" / SP / "ua_parser_context" / "jsonschema"
    folder.mkdir(parents=True)
    schema = {
        "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
        "self": {
            "vendor": SP, "name": "ua_parser_context", "format": "jsonschema", "version": "1-0-0"
        },
        "type": "object",
        "properties": {"deviceFamily": {"type": "integer"}},
        "required": ["deviceFamily", "accountType"],
    }  # fmt: skip
    (folder / "1-0-0").write_text(json.dumps(schema))
    return str(tmp_path / "iglu")


def _enricher(resolver_path: str | None, **options: Any) -> Enricher:
    resolver = None if resolver_path is None else _resolver(resolver_path)
    return Enricher.from_config(
        "cloudfront", spark_spec_enrichments(), ETL_TSTAMP_MS, resolver, **options
    )


def _errors(line: str) -> list[str]:
    return [error["message"] for error in json.loads(line)["errors"]]


def test_a_valid_derived_context_passes_against_the_demo_schemas() -> None:
    result = _enricher(DEMO_SCHEMAS, validate_derived_contexts=True).process_line(PAGE_VIEW_LINE)

    assert result.bad == []
    [good] = result.good
    derived = json.loads(good.split("\t")[122])
    assert [context["schema"] for context in derived["data"]] == [CONTEXT_SCHEMA]
    assert derived["data"][0]["data"]["useragentFamily"] == "Mobile Safari"


def test_a_derived_context_failing_its_schema_is_a_bad_row_every_time(tmp_path: Path) -> None:
    """Failures are not cached: the same user agent's context fails on every event."""
    enricher = _enricher(_broken_repository(tmp_path), validate_derived_contexts=True)

    for _ in range(2):
        result = enricher.process_line(PAGE_VIEW_LINE)
        assert result.good == []
        [bad] = result.bad
        # Bad rows hold each message on one line (``one_line`` escapes the line breaks).
        assert _errors(bad) == [one_line(message) for message in [
            'error: object has missing required properties (["accountType"])\n'
            '    level: "error"\n'
            '    schema: {"loadingURI":"#","pointer":""}\n'
            '    instance: {"pointer":""}\n'
            '    domain: "validation"\n'
            '    keyword: "required"\n'
            '    required: ["deviceFamily","accountType"]\n'
            '    missing: ["accountType"]',
            'error: instance type (string) does not match any allowed primitive type '
            '(allowed: ["integer"])\n'
            '    level: "error"\n'
            '    schema: {"loadingURI":"#","pointer":"/properties/deviceFamily"}\n'
            '    instance: {"pointer":"/deviceFamily"}\n'
            '    domain: "validation"\n'
            '    keyword: "type"\n'
            '    found: "string"\n'
            '    expected: ["integer"]',
        ]]  # fmt: skip


def test_a_derived_context_whose_schema_no_repository_has_names_it() -> None:
    """The vendored Iglu Central schemas have no ua_parser_context."""
    result = _enricher(str(VENDORED), validate_derived_contexts=True).process_line(PAGE_VIEW_LINE)

    assert result.good == []
    assert _errors(result.bad[0]) == [
        one_line(
            f"error: Could not find schema with key {CONTEXT_SCHEMA} in any repository, tried:\n"
            '    level: "error"\n'
            '    repositories: ["Iglu Client Embedded [embedded]","Embedded [embedded]"]'
        )
    ]


def test_off_by_default_nothing_changes(tmp_path: Path) -> None:
    """With a resolver whose ua_parser_context every real context fails, the default still
    trusts the derived context: the event is the one enriched without any resolver."""
    broken = _enricher(_broken_repository(tmp_path)).process_line(PAGE_VIEW_LINE)
    unvalidated = _enricher(None).process_line(PAGE_VIEW_LINE)

    assert broken.bad == []
    assert broken.good == unvalidated.good
    assert len(broken.good) == 1


class _Counting:
    """A real validator that counts what it is asked to validate."""

    def __init__(self, validator: IgluValidator) -> None:
        self.validator = validator
        self.calls = 0

    def validate(self, key: SchemaKey, data: Any) -> list[str]:
        self.calls += 1
        return self.validator.validate(key, data)


def test_a_context_is_validated_once_when_valid_and_every_time_when_not(tmp_path: Path) -> None:
    good = _Counting(IgluValidator(Resolver.from_config(_resolver(DEMO_SCHEMAS))))
    bad = _Counting(IgluValidator(Resolver.from_config(_resolver(_broken_repository(tmp_path)))))
    context = UaParser().context("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Firefox/120.0")
    passing, failing = DerivedContextValidator(good), DerivedContextValidator(bad)

    assert [passing.check(context) for _ in range(3)] == [[], [], []]
    assert good.calls == 1
    # An equal but distinct dict is validated on its own: the cache is by identity.
    assert passing.check(json.loads(json.dumps(context))) == []
    assert good.calls == 2

    assert all(len(failing.check(context)) == 2 for _ in range(3))
    assert bad.calls == 3


def test_validating_derived_contexts_needs_a_resolver(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs an Iglu resolver config"):
        _enricher(None, validate_derived_contexts=True)
    with pytest.raises(UsageError, match="--validate-derived-contexts needs --iglu-config"):
        parse_args(job_args(tmp_path, "cloudfront", {}, "--validate-derived-contexts"))


def test_the_job_flag_reaches_the_workers_enricher(tmp_path: Path) -> None:
    """``--validate-derived-contexts`` travels in the spec each worker builds its Enricher from."""
    enrichments = spark_spec_enrichments()
    iglu = ("--iglu-config", encode(_resolver(_broken_repository(tmp_path))))
    flag = "--validate-derived-contexts"
    on = parse_args(job_args(tmp_path, "cloudfront", enrichments, *iglu, flag)).enricher
    off = parse_args(job_args(tmp_path, "cloudfront", enrichments, *iglu)).enricher

    assert on.validate_derived_contexts and not off.validate_derived_contexts
    assert len(on.build().process_line(PAGE_VIEW_LINE).bad) == 1
    assert len(off.build().process_line(PAGE_VIEW_LINE).good) == 1
