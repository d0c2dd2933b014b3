"""The EMR bundle: what the zip holds, that it alone runs the enrichment, and its upload."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote

import boto3

from snowplow_dagster.engines.bundle import (
    ARCHIVE_NAME,
    BOOTSTRAP_NAME,
    CLUSTER_PYTHON,
    DRIVER_NAME,
    build_bundle,
    ensure_bundle,
    release_version,
)
from snowplow_dagster.engines.steps import ENRICH, enrich_steps
from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS
from snowplow_dagster.generator import generate_lines, generate_records
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS, SAMPLE_RESOLVER
from snowplow_dagster.storage import Location, S3Storage
from snowplow_dagster_tests.engines.emr_support import write_config

_ENRICH_FROM_THE_ZIP = """
import json, sys
sys.path.insert(0, sys.argv[1])
from snowplow_dagster.enrich.enrichments.registry import load_enrichments_directory
from snowplow_dagster.enrich.enricher import Enricher
import maxminddb, ua_parser

enrichments = load_enrichments_directory(__import__("pathlib").Path(sys.argv[2]))
resolver = json.loads(open(sys.argv[3]).read())
enricher = Enricher.from_config("cloudfront", enrichments, 1_700_000_000_000, resolver)
results = [enricher.process_line(line) for line in sys.stdin.read().splitlines()]
print(json.dumps({
    "good": [event for result in results for event in result.good],
    "bad": [row for result in results for row in result.bad],
    "resolver": ua_parser.BestAvailableResolver.__module__,
    "maxminddb_extension": "maxminddb.extension" in sys.modules,
    "module_files": sorted(
        {getattr(module, "__file__", None) or "" for module in list(sys.modules.values())}
    ),
}))
"""


def _names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as opened:
        return opened.namelist()


def test_the_zip_holds_the_enrichment_package_and_its_dependencies_only(tmp_path: Path) -> None:
    names = _names(build_bundle(tmp_path).archive)

    version = release_version()
    for needed in (
        "snowplow_dagster/__init__.py",
        "snowplow_dagster/enrich/job.py",
        "snowplow_dagster/enrich/enrichments/ip_lookups.py",
        f"snowplow_dagster-{version}.dist-info/METADATA",
        "ua_parser/basic.py",
        "ua_parser_builtins/matchers.py",
        "maxminddb/reader.py",
        "referer_parser/__init__.py",
        "referer_parser/data/referers.json",
        "fastjsonschema/draft04.py",
        "snowplow_dagster/enrich/iglu_embedded/draft-04-schema.json",
        "snowplow_dagster/sample_data/iglu/schemas/com.snowplowanalytics.snowplow/web_page/"
        "jsonschema/1-0-0",
    ):
        assert needed in names
    assert any(name.startswith("maxminddb-") and name.endswith("/METADATA") for name in names)
    top_level = {name.split("/")[0] for name in names if "/" in name}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {
        "snowplow_dagster",
        "ua_parser",
        "ua_parser_builtins",
        "maxminddb",
        "referer_parser",
        "fastjsonschema",
    }
    ours = [name for name in names if name.startswith("snowplow_dagster/")]
    shipped = ("snowplow_dagster/enrich/", "snowplow_dagster/sample_data/iglu/")
    assert all(n.startswith(shipped) for n in ours[1:]), ours
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".so", ".mmdb"))]
    assert not [n for n in names if "test" in n.split("/")[:-1]]
    assert names == sorted(names)


def test_the_bundle_is_the_same_bytes_every_build(tmp_path: Path) -> None:
    first, second = build_bundle(tmp_path / "a"), build_bundle(tmp_path / "b")

    assert first.archive.read_bytes() == second.archive.read_bytes()
    assert first.driver.read_bytes() == second.driver.read_bytes()
    with zipfile.ZipFile(first.archive) as opened:
        assert {info.date_time for info in opened.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_the_driver_runs_the_job_module_imported_by_name(tmp_path: Path) -> None:
    driver = build_bundle(tmp_path).driver.read_text()

    assert "from snowplow_dagster.enrich.job import main" in driver
    assert "sys.exit(main())" in driver
    compile(driver, DRIVER_NAME, "exec")


def test_a_bare_interpreter_enriches_with_the_zip_alone(tmp_path: Path) -> None:
    """No site-packages, no repository on ``sys.path``: what EMR's Python sees, pyspark aside.
    The sample resolver's schemas and the validator come from the zip: a context that breaks
    its schema is a bad row there too."""
    archive = build_bundle(tmp_path / "bundle").archive
    line = next(line for line in generate_lines("cloudfront", 1) if not line.startswith("#"))
    invalid = next(
        record.text
        for record in generate_records("cloudfront", 2000, seed=5, bad_fraction=0.3)
        if not record.good and "pageType" in unquote(unquote(record.text))
    )

    finished = subprocess.run(
        [
            *(sys.executable, "-I", "-S", "-c", _ENRICH_FROM_THE_ZIP, str(archive)),
            *(SAMPLE_ENRICHMENTS, SAMPLE_RESOLVER),
        ],
        input=f"{line}\n{invalid}\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={},
        check=False,
        timeout=120,
    )

    assert finished.returncode == 0, finished.stderr
    outcome = json.loads(finished.stdout)
    [bad_row] = outcome["bad"]
    [error] = json.loads(bad_row)["errors"]
    assert error["message"].startswith(
        'error: object instance has properties which are not allowed by the schema: ["pageType"]'
    )
    [event] = outcome["good"]
    fields = dict(zip(ENRICHED_EVENT_FIELDS, event.split("\t"), strict=True))
    assert len(event.split("\t")) == 131
    assert fields["v_etl"].endswith(release_version())  # our dist-info, read from the zip
    assert fields["geo_country"] == "SE"  # the sample's MaxMind test database
    assert fields["br_family"] or fields["br_name"]
    assert outcome["resolver"] == "ua_parser.basic"
    assert outcome["maxminddb_extension"] is False
    third_party = [f for f in outcome["module_files"] if "site-packages" in f]
    assert third_party == []
    assert any(f.startswith(str(archive)) for f in outcome["module_files"])
    assert f"{archive}/fastjsonschema/__init__.py" in outcome["module_files"]


def _run_bootstrap(tmp_path: Path, dnf_exit: int) -> tuple[int, list[str]]:
    """The bootstrap action with ``sudo`` running its command, ``dnf`` and ``pip`` recorded and
    ``-c`` checks run by this interpreter (3.11+, with boto3), as on a node where all succeed."""
    script = build_bundle(tmp_path / "bundle").bootstrap
    calls = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stubs = {
        "sudo": 'exec "$@"',
        "dnf": f'echo "dnf $*" >> {calls}; exit {dnf_exit}',
        "python3.11": f'[ "$1" = -m ] && echo "python $*" >> {calls} || exec {sys.executable} "$@"',
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    script.write_text(script.read_text().replace(CLUSTER_PYTHON, str(bin_dir / "python3.11")))
    finished = subprocess.run(
        ["bash", str(script)],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        check=False,
        timeout=60,
    )
    return finished.returncode, calls.read_text().splitlines() if calls.exists() else []


def test_the_bootstrap_action_installs_python_3_11_with_our_boto3(tmp_path: Path) -> None:
    assert _run_bootstrap(tmp_path, dnf_exit=0) == (
        0,
        [
            "dnf install -y python3.11 python3.11-pip",
            f"python -m pip install --no-cache-dir boto3=={metadata.version('boto3')}",
        ],
    )


def test_a_failed_install_fails_the_bootstrap_action(tmp_path: Path) -> None:
    """So EMR reports a bootstrap failure, not a cluster whose enrich step cannot start."""
    returncode, calls = _run_bootstrap(tmp_path, dnf_exit=1)
    assert returncode != 0
    assert calls == ["dnf install -y python3.11 python3.11-pip"]


def test_ensure_bundle_uploads_what_is_missing_or_different_only(s3_bucket: str) -> None:
    storage = S3Storage()
    puts: list[str] = []
    storage.client.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: puts.append(params["Key"])
    )
    assets = Location("s3", s3_bucket, "assets/")
    prefix = f"assets/snowplow-dagster/{release_version()}/"

    uris = ensure_bundle(storage, assets)
    assert uris == (
        f"s3://{s3_bucket}/{prefix}{DRIVER_NAME}",
        f"s3://{s3_bucket}/{prefix}{ARCHIVE_NAME}",
    )
    assert sorted(puts) == sorted(
        prefix + name for name in (DRIVER_NAME, ARCHIVE_NAME, BOOTSTRAP_NAME)
    )

    puts.clear()
    assert ensure_bundle(storage, assets) == uris
    assert puts == []

    s3 = boto3.client("s3")
    s3.put_object(Bucket=s3_bucket, Key=prefix + ARCHIVE_NAME, Body=b"an older build")
    ensure_bundle(storage, assets)
    assert puts == [prefix + ARCHIVE_NAME]
    uploaded = s3.get_object(Bucket=s3_bucket, Key=prefix + ARCHIVE_NAME)["Body"].read()
    assert uploaded.startswith(b"PK")
    assert hashlib.md5(uploaded).hexdigest() != hashlib.md5(b"an older build").hexdigest()


def test_the_emr_spark_step_submits_the_uploaded_bundle(s3_bucket: str, tmp_path: Path) -> None:
    config_path = write_config(tmp_path, {"aws.s3.buckets.assets": f"s3://{s3_bucket}/assets"})
    pipeline = SnowplowPipeline(config_path=str(config_path))

    app_uri, py_files_uri = pipeline.application_uris()
    steps = enrich_steps(
        pipeline.config,
        batch_id="2026-11-21-10-00-00",
        input_folder=f"{pipeline.config.locations.raw_processing}run=2026-11-21-10-00-00/",
        enrichments_b64=pipeline.enrichments_b64(),
        resolver_b64=pipeline.resolver_b64(),
        etl_tstamp_ms=1_700_000_000_000,
        app_uri=app_uri,
        py_files_uri=py_files_uri,
    )

    [args] = [step["HadoopJarStep"]["Args"] for step in steps if step["Name"] == ENRICH]
    assert args[args.index("--py-files") + 1 : args.index("--py-files") + 3] == [
        py_files_uri,
        app_uri,
    ]
    local = build_bundle(tmp_path / "bundle")
    for uri, built in ((app_uri, local.driver), (py_files_uri, local.archive)):
        location = Location.parse(uri)
        assert location.bucket == s3_bucket
        assert location.key.startswith(f"assets/snowplow-dagster/{release_version()}/")
        body = boto3.client("s3").get_object(Bucket=s3_bucket, Key=location.key)["Body"].read()
        assert body == built.read_bytes()
