"""``snowplow-dagster lint``: ``Valid ...`` and exit 0, or the errors by key and exit 1, no secret
ever printed, and no data touched (no instance, no storage)."""

import json
import shutil
import sys
from io import StringIO
from pathlib import Path

import boto3
import pytest

from snowplow_dagster.cli import main
from snowplow_dagster.samples import SAMPLE_CONFIG, SAMPLE_ENRICHMENTS, SAMPLE_RESOLVER

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(autouse=True)
def demo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOWPLOW_DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


def test_lint_all_of_the_samples_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "lint",
            "all",
            "-c",
            str(SAMPLE_CONFIG),
            "-r",
            str(SAMPLE_RESOLVER),
            "-n",
            str(SAMPLE_ENRICHMENTS),
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    # Whether iglucentral.com answers depends on the network; every other line does not.
    assert [line for line in lines if "Iglu Central" not in line] == [
        f"Valid configuration: {SAMPLE_CONFIG}",
        "Iglu Client Embedded [embedded]: answers",
        "Demo schemas [embedded]: answers (empty)",
        "Valid Iglu resolver config",
        "Note: ip_lookups.json: iglu:com.snowplowanalytics.snowplow/ip_lookups/jsonschema/2-0-0"
        " is in no repository; not validated",
        "Valid enrichments",
    ]
    assert sum("Iglu Central" in line for line in lines) == 2
    assert list(Path.cwd().iterdir()) == []  # no instance, nothing written


def test_config_errors_name_the_key_and_never_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yml"
    text = SAMPLE_CONFIG.read_text().replace(
        "  s3:\n", f"  access_key_id: AKIAEXAMPLE\n  secret_access_key: {SECRET}\n  s3:\n", 1
    )
    config.write_text(text.replace("format: cloudfront", "format: thrift-please"))

    assert main(["lint", "config", "-c", str(config)]) == 1

    err = capsys.readouterr().err
    assert "collectors.format" in err and str(config) in err
    assert SECRET not in err


def test_config_is_read_from_stdin_with_dash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", StringIO(SAMPLE_CONFIG.read_text()))
    assert main(["lint", "config", "-c", "-"]) == 0
    assert capsys.readouterr().out.startswith("Valid configuration")


def test_an_enrichment_with_a_bad_parameter_fails_the_lint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enrichments = tmp_path / "enrichments"
    shutil.copytree(SAMPLE_ENRICHMENTS, enrichments)
    anon_ip = json.loads((enrichments / "anon_ip.json").read_text())
    anon_ip["data"]["parameters"]["anonOctets"] = 7
    (enrichments / "anon_ip.json").write_text(json.dumps(anon_ip))

    code = main(["lint", "enrichments", "-r", str(SAMPLE_RESOLVER), "-n", str(enrichments)])

    assert code == 1
    captured = capsys.readouterr()
    assert "Valid Iglu resolver config" in captured.out.splitlines()
    assert "Valid enrichments" not in captured.out
    # Found by the anon_ip schema of the sample resolver's embedded repository, value unquoted.
    assert captured.err.splitlines() == [
        f"{enrichments / 'anon_ip.json'}: data/parameters/anonOctets: "
        "fails the schema's maximum rule"
    ]


def test_lint_resolver_says_which_repository_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], iglu_server
) -> None:
    resolver = tmp_path / "resolver.json"
    schema = "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-2"
    repositories = [
        {"name": name, "priority": 0, "vendorPrefixes": [], "connection": {"http": {"uri": uri}}}
        for name, uri in (("Up", iglu_server.uri), ("Down", "http://127.0.0.1:9"))
    ]
    resolver.write_text(
        json.dumps({"schema": schema, "data": {"cacheSize": 5, "repositories": repositories}})
    )

    assert main(["lint", "resolver", "-r", str(resolver)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["Iglu Client Embedded [embedded]: answers", "Up [HTTP]: answers (empty)"]
    assert lines[2].startswith("Warning: Down [HTTP]: unreachable: http://127.0.0.1:9/schemas/")
    assert lines[3] == "Valid Iglu resolver config"
    assert list(iglu_server.requests) == [
        "/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0"
    ]


def test_a_broken_resolver_and_missing_flags_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resolver = tmp_path / "resolver.json"
    schema = "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-1"
    broken = {"schema": schema, "data": {"cacheSize": -1, "repositories": []}}
    resolver.write_text(json.dumps(broken))
    assert main(["lint", "resolver", "-r", str(resolver)]) == 1
    err = capsys.readouterr().err
    assert "data.cacheSize" in err and "data.repositories" in err

    assert main(["lint", "enrichments", "-r", str(SAMPLE_RESOLVER)]) == 1
    assert "needs -n/--enrichments" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "driver_memory: 2g",
            "driver_memory: lots",
            "snowplow_dagster.local_spark.driver_memory: must be a JVM heap size",
        ),
        ("master: local[2]", "master: yarn", "snowplow_dagster.local_spark.master: must be"),
    ],
)
def test_spark_settings_fail_the_lint_naming_their_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, expected: str
) -> None:
    config = tmp_path / "config.yml"
    text = SAMPLE_CONFIG.read_text()
    assert old in text
    config.write_text(text.replace(old, new))

    assert main(["lint", "config", "-c", str(config)]) == 1

    assert expected in capsys.readouterr().err


def test_emr_cluster_settings_fail_the_lint_on_the_emr_engine(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    moto_server: str,
) -> None:
    """On the emr engine, lint also uploads the application (``check_application``): the sample's
    assets bucket exists on the loopback S3 server."""
    monkeypatch.setenv("AWS_SNOWPLOW_ACCESS_KEY", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SNOWPLOW_SECRET_KEY", SECRET)
    boto3.client("s3").create_bucket(Bucket="acme-snowplow-assets")
    sample = SAMPLE_CONFIG.with_name("config.emr.yml")
    config = tmp_path / "config.yml"
    config.write_text(sample.read_text().replace("ami_version: 7.5.0", "ami_version: 6.15.0"))

    assert main(["lint", "config", "-c", str(sample)]) == 0
    assert main(["lint", "config", "-c", str(config)]) == 1

    output = capsys.readouterr()
    assert "aws.emr.ami_version: EMR release 6.15.0 is too old" in output.err
    assert SECRET not in output.out + output.err
