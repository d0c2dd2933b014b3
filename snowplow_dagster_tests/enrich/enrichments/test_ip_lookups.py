import logging
from pathlib import Path

import boto3
import pytest

from snowplow_dagster.enrich.enrichments import databases as assets
from snowplow_dagster.enrich.enrichments.config import EnrichmentConfigError
from snowplow_dagster.enrich.enrichments.ip_lookups import IpLookups, java_float
from snowplow_dagster.enrich.event import EnrichedEvent
from snowplow_dagster.samples import SAMPLE_MAXMIND

MAXMIND = SAMPLE_MAXMIND


def _db(database: str, uri: str | Path = MAXMIND) -> dict:
    return {"database": database, "uri": str(uri)}


ALL_DATABASES = {
    "geo": _db("GeoIP2-City-Test.mmdb"),
    "isp": _db("GeoIP2-ISP-Test.mmdb"),
    "domain": _db("GeoIP2-Domain-Test.mmdb"),
    "connectionType": _db("GeoIP2-Connection-Type-Test.mmdb"),
}


def _enriched(lookups: IpLookups, ip: str) -> dict:
    event = EnrichedEvent()
    lookups.enrich(event, ip)
    return vars(event)


def test_spec_vector_geo_and_isp():
    lookups = IpLookups.from_parameters({key: ALL_DATABASES[key] for key in ("geo", "isp")})
    assert _enriched(lookups, "216.160.83.56") == {
        "geo_country": "US",
        "geo_region": "WA",
        "geo_city": "Milton",
        "geo_zipcode": "98354",
        "geo_latitude": "47.2513",
        "geo_longitude": "-122.3149",
        "geo_region_name": "Washington",
        "geo_timezone": "America/Los_Angeles",
        "ip_isp": "Century Link",
        "ip_organization": "Lariat Software",
    }


def test_each_database_fills_its_own_columns():
    lookups = IpLookups.from_parameters(ALL_DATABASES)
    fields = _enriched(lookups, "89.160.20.112")
    assert fields["geo_country"] == "SE"
    assert fields["ip_isp"] == "Bredband2 AB"
    assert fields["ip_domain"] == "bredband2.com"
    assert _enriched(lookups, "216.160.83.56")["ip_netspeed"] == "Corporate"


def test_ipv6_addresses_are_looked_up():
    lookups = IpLookups.from_parameters({"geo": ALL_DATABASES["geo"]})
    fields = _enriched(lookups, "2001:218::")
    assert (fields["geo_country"], fields["geo_timezone"]) == ("JP", "Asia/Tokyo")
    assert "geo_city" not in fields  # a record without a city leaves the column unset


@pytest.mark.parametrize("ip", ["216.160.83.x", "not an ip", "", "1.2.3.4"])
def test_invalid_or_unknown_addresses_set_nothing(ip):
    lookups = IpLookups.from_parameters({"geo": ALL_DATABASES["geo"], "isp": ALL_DATABASES["isp"]})
    assert _enriched(lookups, ip) == {}


def test_asn_database_is_accepted_but_unused(caplog):
    with caplog.at_level(logging.INFO):
        lookups = IpLookups.from_parameters({"asn": _db("GeoLite2-ASN.mmdb")})
    assert _enriched(lookups, "216.160.83.56") == {}
    assert "asn database is not used" in caplog.text


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"geo": _db("GeoIP2-ISP-Test.mmdb")}, "is a GeoIP2-ISP database, not City"),
        ({"geo": _db("missing.mmdb")}, "missing.mmdb does not exist"),
        ({"geo": _db("LICENSE-MIT")}, "is not a MaxMind database"),
        ({"geo": {"database": "GeoIP2-City-Test.mmdb"}}, "parameters.geo.uri is required"),
        ({"geo": "GeoIP2-City.mmdb"}, "parameters.geo must be an object, got a string"),
        ({"netspeed": _db("x.mmdb")}, "unsupported key(s) netspeed"),
        (
            {"geo": {**_db("GeoIP2-City-Test.mmdb"), "url": "x"}},
            "parameters.geo has unsupported key(s) url",
        ),
        (
            {
                "geo": _db(
                    "GeoIP2-City.mmdb",
                    "http://snowplow-hosted-assets.s3.amazonaws.com/third-party/maxmind",
                )
            },
            "does not download over HTTP: mirror GeoIP2-City.mmdb to S3",
        ),
        ({"geo": _db("GeoIP2-City.mmdb", "hdfs:///maxmind")}, "unsupported scheme hdfs://"),
    ],
)
def test_configuration_errors_name_the_key(parameters, message):
    with pytest.raises(EnrichmentConfigError) as error:
        IpLookups.from_parameters(parameters)
    assert message in str(error.value)


def test_file_uris_are_opened_in_place():
    lookups = IpLookups.from_parameters({"geo": _db("GeoIP2-City-Test.mmdb", MAXMIND.as_uri())})
    assert _enriched(lookups, "216.160.83.56")["geo_city"] == "Milton"


def test_lookups_are_cached_per_ip():
    lookups = IpLookups.from_parameters({"geo": ALL_DATABASES["geo"]})
    _enriched(lookups, "216.160.83.56")
    _enriched(lookups, "216.160.83.56")
    info = lookups._fields.cache_info()
    assert (info.hits, info.misses) == (1, 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    # Expected values printed by Java 17's Float.toString for the same float32.
    [
        (47.2513, "47.2513"),
        (-122.3149, "-122.3149"),
        (26.461502, "26.461502"),
        (139.75309, "139.7531"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1e-4, "1.0E-4"),
        (0.001, "0.001"),
        (1e7, "1.0E7"),
        (123456.7, "123456.7"),
        (-0.0931, "-0.0931"),
    ],
)
def test_java_float_matches_java(value, expected):
    assert java_float(value) == expected


@pytest.fixture
def s3_cache(tmp_path, monkeypatch):
    """A fresh download cache, on disk and in the process (the shared moto server is the S3)."""
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    assets._s3_file.cache_clear()
    yield tmp_path / "cache"
    assets._s3_file.cache_clear()


def test_s3_databases_are_downloaded_once_and_reused(s3_bucket, s3_cache):
    s3 = boto3.client("s3")
    key = "third-party/maxmind/GeoIP2-City.mmdb"
    s3.upload_file(str(MAXMIND / "GeoIP2-City-Test.mmdb"), s3_bucket, key)
    parameters = {"geo": _db("GeoIP2-City.mmdb", f"s3://{s3_bucket}/third-party/maxmind/")}

    first = IpLookups.from_parameters(parameters)
    s3.delete_object(Bucket=s3_bucket, Key=key)
    second = IpLookups.from_parameters(parameters)  # same process: no second request

    assert _enriched(first, "216.160.83.56")["geo_city"] == "Milton"
    assert _enriched(second, "216.160.83.56")["geo_city"] == "Milton"
    assert [path.name.endswith("-GeoIP2-City.mmdb") for path in s3_cache.iterdir()] == [True]


def test_missing_s3_object_is_a_config_error(s3_bucket, s3_cache):
    with pytest.raises(EnrichmentConfigError, match=rf"Cannot fetch s3://{s3_bucket}/maxmind/"):
        IpLookups.from_parameters({"geo": _db("GeoIP2-City.mmdb", f"s3://{s3_bucket}/maxmind")})
