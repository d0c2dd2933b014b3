"""``snowplow-dagster run`` refuses Spark settings Spark could not read before anything moves:
the key is named, and the raw objects stay where the collector put them."""

from pathlib import Path

import pytest

from snowplow_dagster.cli import main
from snowplow_dagster_tests.cli.helpers import run_args
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.platform.helpers import put_raw_logs, write_config


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("driver_memory: 1g", "driver_memory: lots", "snowplow_dagster.local_spark.driver_memory"),
        ("master: local[2]", "master: local[two]", "snowplow_dagster.local_spark.master"),
        (
            'spark.ui.enabled: "false"',
            'spark.executor.memory: "1.5g"',
            "snowplow_dagster.local_spark.conf: spark.executor.memory",
        ),
    ],
)
def test_unreadable_spark_settings_exit_1_before_anything_moves(
    backend: Backend,
    tmp_path: Path,
    dagster_home: Path,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    key: str,
) -> None:
    config = write_config(tmp_path / "config.yml", backend.root)
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))
    put_raw_logs(backend, tmp_path, "in/", events=30, files=2)
    raw = backend.objects("in/")

    assert main(run_args(config)) == 1

    assert key in capsys.readouterr().err
    assert backend.objects("in/") == raw
    assert backend.objects("processing/") == {} and backend.objects("manifests/") == {}
