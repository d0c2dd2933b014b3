"""An EmrEtlRunner user's own ``config.yml`` (Snowplow's sample, only the buckets filled in) on
moto's S3 and EMR servers: ``run`` on cron right after files land, and ``--engine emr`` with
Snowplow's hosted-assets bucket, its EMR 5 release, or an assets bucket nobody can write."""

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest
from botocore import handlers

from snowplow_dagster.assets import archived_logs, staged_logs
from snowplow_dagster.cli import main
from snowplow_dagster.engines.bundle import ARCHIVE_NAME, BOOTSTRAP_NAME, release_version
from snowplow_dagster.generator import write_log_files
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster_tests.cli.helpers import LineCountingEngine, run_args
from snowplow_dagster_tests.engines.emr_support import ENV, SECRET_KEY, json_response

SAMPLE = Path(__file__).parents[1] / "data" / "config" / "emretlrunner_sample.yml"
HOSTED = "snowplow-hosted-assets"


@pytest.fixture
def buckets(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fresh buckets for each of the sample's locations (and Snowplow's hosted one, empty), the
    sample's ERB credentials set."""
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    s3 = boto3.client("s3")
    suffix = uuid.uuid4().hex[:10]
    names = {role: f"{role}-{suffix}" for role in ("logs", "collector", "etl", "archive", "out")}
    for name in names.values():
        s3.create_bucket(Bucket=name)
    s3.create_bucket(Bucket=HOSTED)
    return names


def sample_config(tmp_path: Path, buckets: dict[str, str], **replace: str) -> Path:
    """EmrEtlRunner's sample, unchanged except that every ``ADD HERE`` is filled in (buckets,
    regions, subnet, key and tracker names) and the given ``old=new`` text replacements."""
    fill = [
        "us-east-1",
        f"s3://{buckets['logs']}/",
        f"s3://{buckets['collector']}/old/",
        f"s3://{buckets['collector']}/new/",
        f"s3://{buckets['etl']}/processing/",
        f"s3://{buckets['archive']}/raw/",
        f"s3://{buckets['out']}/enriched/good/",
        f"s3://{buckets['out']}/enriched/bad/",
        "",
        f"s3://{buckets['archive']}/enriched/",
        f"s3://{buckets['out']}/shredded/good/",
        f"s3://{buckets['out']}/shredded/bad/",
        "",
        f"s3://{buckets['archive']}/shredded/",
        "us-east-1",
        "",
        "subnet-0123456789abcdef0",
        "acme-emr",
        "",
        "snowplow",
        "collector.acme.example",
    ]
    text = SAMPLE.read_text()
    for value in fill:
        text = text.replace("ADD HERE", value, 1)
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "config.yml"
    path.write_text(text)
    return path


def upload_logs(tmp_path: Path, bucket: str, files: int = 3) -> dict[str, bytes]:
    """Collector logs put into the in-bucket just now, as CloudFront delivers them."""
    s3 = boto3.client("s3")
    uploaded = {}
    for path in write_log_files(tmp_path / "generated", "cloudfront", 60, files=files, seed=3):
        key = f"new/{path.name}"
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        uploaded[key] = path.read_bytes()
    return uploaded


def keys(bucket: str, prefix: str = "") -> list[str]:
    pages = (
        boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))


def clusters() -> int:
    return len(boto3.client("emr", region_name="us-east-1").list_clusters()["Clusters"])


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> LineCountingEngine:
    counting = LineCountingEngine()
    monkeypatch.setattr(SnowplowPipeline, "execution_engine", lambda self: counting)
    for asset in (staged_logs, archived_logs):
        monkeypatch.setattr(asset.op, "_retry_policy", dg.RetryPolicy(max_retries=1))
    return counting


def test_cron_right_after_files_land_enriches_them_on_the_first_call(
    tmp_path: Path,
    dagster_home: Path,
    buckets: dict[str, str],
    engine: LineCountingEngine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = upload_logs(tmp_path, buckets["collector"])

    assert main(run_args(sample_config(tmp_path, buckets))) == 0

    assert keys(buckets["collector"]) == []
    archived = keys(buckets["archive"], "raw/")
    assert len(archived) == len(raw)
    [batch] = {key.split("/")[1] for key in archived}
    good = (
        boto3.client("s3")
        .get_object(Bucket=buckets["out"], Key=f"enriched/good/{batch}/part-00000")["Body"]
        .read()
    )
    expected = [line for data in raw.values() for line in gzip.decompress(data).splitlines()]
    assert sorted(good.splitlines()) == sorted(expected)
    assert "Completed successfully" in capsys.readouterr().out


def test_files_waiting_for_a_local_quiet_period_are_counted_and_dated(
    tmp_path: Path, dagster_home: Path, buckets: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    upload_logs(tmp_path, buckets["collector"], files=2)
    config = sample_config(
        tmp_path, buckets, **{"aws:": "snowplow_dagster: {quiet_period_seconds: 3600}\naws:"}
    )

    assert main(run_args(config)) == 3

    out = capsys.readouterr().out
    assert "No logs to process" in out
    assert "2 object(s) modified since" in out and "wait for the quiet period (3600 s" in out


class RunJobFlow:
    """EMR's answer to RunJobFlow at the HTTP boundary: recorded, then refused as EMR refuses a
    role it cannot assume (moto would accept it, then never run a step)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.requests: list[dict[str, Any]] = []
        monkeypatch.setattr(
            handlers,
            "BUILTIN_HANDLERS",
            [*handlers.BUILTIN_HANDLERS, ("before-send.emr.RunJobFlow", self._answer)],
        )

    def _answer(self, request: Any, **_: Any) -> Any:
        self.requests.append(json.loads(request.body))
        return json_response(
            request.url,
            400,
            {
                "__type": "ValidationException",
                "message": f"Invalid InstanceProfile: EMR_EC2_DefaultRole ({SECRET_KEY}).",
            },
        )


def test_emr_with_snowplow_s_hosted_assets_uploads_the_bundle_to_a_bucket_we_own(
    tmp_path: Path,
    dagster_home: Path,
    buckets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer = RunJobFlow(monkeypatch)
    upload_logs(tmp_path, buckets["collector"], files=2)
    config = sample_config(tmp_path, buckets, **{"ami_version: 5.29.0": "ami_version: 7.5.0"})

    assert main(run_args(config, "--engine", "emr")) == 1

    assert keys(HOSTED) == []
    owned = f"snowplow-dagster/{release_version()}/"
    assert {ARCHIVE_NAME, BOOTSTRAP_NAME} <= {
        key.removeprefix(owned) for key in keys(buckets["logs"], owned)
    }
    [request] = answer.requests
    bootstrap = request["BootstrapActions"][0]["ScriptBootstrapAction"]["Path"]
    assert bootstrap == f"s3://{buckets['logs']}/{owned}{BOOTSTRAP_NAME}"
    submitted = json.dumps(request.get("Steps", []))
    assert HOSTED not in submitted and HOSTED not in bootstrap
    err = capsys.readouterr().err
    assert "step enriched_events failed" in err
    assert "Invalid InstanceProfile: EMR_EC2_DefaultRole" in err
    assert SECRET_KEY not in err
    assert "Exit code 1" in err


def test_emr_5_is_refused_naming_the_key_before_anything_is_claimed(
    tmp_path: Path,
    dagster_home: Path,
    buckets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer = RunJobFlow(monkeypatch)
    raw = upload_logs(tmp_path, buckets["collector"], files=2)
    before = clusters()

    assert main(run_args(sample_config(tmp_path, buckets), "--engine", "emr")) == 1

    assert "aws.emr.ami_version" in capsys.readouterr().err
    assert keys(buckets["collector"]) == sorted(raw)
    assert keys(buckets["logs"]) == [] and keys(buckets["etl"]) == []
    assert answer.requests == [] and clusters() == before


def test_an_assets_bucket_we_cannot_write_is_refused_naming_the_key_before_anything_moves(
    tmp_path: Path,
    dagster_home: Path,
    buckets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer = RunJobFlow(monkeypatch)
    raw = upload_logs(tmp_path, buckets["collector"], files=2)
    config = sample_config(
        tmp_path,
        buckets,
        **{
            "ami_version: 5.29.0": "ami_version: 7.5.0",
            f"assets: s3://{HOSTED}": f"assets: s3://not-ours-{uuid.uuid4().hex[:8]}",
        },
    )

    assert main(run_args(config, "--engine", "emr")) == 1

    err = capsys.readouterr().err
    assert "aws.s3.buckets.assets" in err and "snowplow_dagster.assets" in err
    assert keys(buckets["collector"]) == sorted(raw)
    assert keys(buckets["logs"]) == [] and keys(buckets["etl"]) == []
    assert answer.requests == []
    on_emr = tmp_path / "on_emr.yml"
    on_emr.write_text(
        config.read_text().replace("aws:", "snowplow_dagster: {engine: emr}\naws:", 1)
    )
    assert main(["lint", "config", "-c", str(on_emr)]) == 1
    assert "aws.s3.buckets.assets" in capsys.readouterr().err
