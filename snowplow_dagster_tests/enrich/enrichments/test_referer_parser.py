import json

import pytest

from snowplow_dagster.enrich.enrichments.config import EnrichmentConfigError
from snowplow_dagster.enrich.enrichments.referer_parser import RefererParser
from snowplow_dagster.enrich.event import EnrichedEvent

INTERNAL = {"internalDomains": ["www.subdomain1.snowplowanalytics.com"]}


def _refr(parser, url_parts, page_host="www.psychicbazaar.com"):
    scheme, host, path, query = url_parts
    event = EnrichedEvent()
    event.refr_urlscheme, event.refr_urlhost, event.refr_urlpath, event.refr_urlquery = (
        scheme,
        host,
        path,
        query,
    )
    event.page_urlhost = page_host
    parser.enrich(event)
    return event.refr_medium, event.refr_source, event.refr_term


@pytest.fixture(scope="module")
def parser():
    return RefererParser.from_parameters(INTERNAL, model=1)


def test_spec_vector_google_search(parser):
    refr = (
        "http",
        "www.google.com",
        "/search",
        "q=gateway+oracle+cards+denise+linn&hl=en&client=safari",
    )
    assert _refr(parser, refr) == ("search", "Google", "gateway oracle cards denise linn")


@pytest.mark.parametrize(
    ("refr", "expected"),
    [
        (("https", "www.psychicbazaar.com", "/x", None), ("internal", None, None)),
        (("http", "www.subdomain1.snowplowanalytics.com", "/", None), ("internal", None, None)),
        (("http", "blog.example.org", "/post", "q=1"), ("unknown", None, None)),
        (("http", "www.facebook.com", "/", None), ("social", "Facebook", None)),
        (("https", "mail.google.com", "/mail/u/0/", None), ("email", "Gmail", None)),
        (("android-app", "com.google.android.gm", None, None), (None, None, None)),
        (("http", None, None, None), (None, None, None)),
    ],
)
def test_mediums(parser, refr, expected):
    assert _refr(parser, refr) == expected


def test_subdomains_are_stripped_until_a_known_domain(parser):
    assert _refr(parser, ("http", "a.b.www.bing.com", "/search", "q=python"))[:2] == (
        "search",
        "Bing",
    )


def test_first_search_parameter_in_url_order_is_the_term(parser):
    # Google lists q and query; the first one present in the URL wins, decoded and TSV-safe.
    refr = ("http", "www.google.co.uk", "/search", "hl=en&query=first%09one&q=second")
    assert _refr(parser, refr) == ("search", "Google", "first    one")


def test_a_query_java_net_uri_rejects_gives_no_term(parser):
    assert _refr(parser, ("http", "www.google.com", "/search", "q=50%")) == (
        "search",
        "Google",
        None,
    )


def test_search_parameter_names_are_case_sensitive(parser):
    assert _refr(parser, ("http", "www.google.com", "/search", "Q=upper"))[2] is None


def test_a_search_engine_path_entry_is_preferred(parser):
    # google.com/imgres is listed as its own referer (Google Images).
    assert _refr(parser, ("http", "www.google.com", "/imgres", "q=cats"))[:2] == (
        "search",
        "Google Images",
    )


def test_custom_database_with_schema_2(tmp_path):
    database = {"search": {"Acme Search": {"domains": ["search.acme.test"], "parameters": ["k"]}}}
    (tmp_path / "referers-latest.json").write_text(json.dumps(database))
    parser = RefererParser.from_parameters(
        {"internalDomains": [], "database": "referers-latest.json", "uri": tmp_path.as_uri()},
        model=2,
    )
    assert _refr(parser, ("http", "search.acme.test", "/", "k=anvils")) == (
        "search",
        "Acme Search",
        "anvils",
    )
    assert _refr(parser, ("http", "www.google.com", "/search", "q=x")) == ("unknown", None, None)


@pytest.mark.parametrize(
    ("parameters", "model", "message"),
    [
        ({}, 1, "parameters.internalDomains is required"),
        ({"internalDomains": "a.com"}, 1, "parameters.internalDomains must be an array of strings"),
        ({"internalDomains": [], "database": "x.json"}, 1, "unsupported key(s) database"),
        ({"internalDomains": []}, 2, "parameters.uri is required"),
        (
            {"internalDomains": [], "database": "r.json", "uri": "https://example.com/r"},
            2,
            "does not download over HTTP",
        ),
    ],
)
def test_configuration_errors(parameters, model, message):
    with pytest.raises(EnrichmentConfigError) as error:
        RefererParser.from_parameters(parameters, model=model)
    assert message in str(error.value)


def test_broken_custom_database_is_a_config_error(tmp_path):
    (tmp_path / "r.json").write_text('{"search": {"X": {"parameters": ["q"]}}}')
    with pytest.raises(EnrichmentConfigError, match=r"Referer database .* is not usable"):
        RefererParser.from_parameters(
            {"internalDomains": [], "database": "r.json", "uri": str(tmp_path)}, model=2
        )
