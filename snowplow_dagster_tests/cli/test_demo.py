"""``snowplow-dagster demo``: generated logs through the whole pipeline on a persistent instance
in ``./.dagster_home``, a summary, and the command that opens the UI on that instance."""

import sys
from pathlib import Path

import dagster as dg
import pytest

from snowplow_dagster.cli import main


@pytest.mark.spark
def test_the_demo_runs_a_batch_and_leaves_it_in_the_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", "unset below; restored after the test")
    monkeypatch.delenv("DAGSTER_HOME")
    monkeypatch.setenv("SNOWPLOW_DAGSTER_HOME", "set by the demo; restored after the test")

    assert main(["demo", "--events", "400", "--files", "2"]) == 0

    out = capsys.readouterr().out
    home = tmp_path / ".dagster_home"
    demo = tmp_path / "snowplow-demo"
    dagster = Path(sys.executable).with_name("dagster")
    assert f"SNOWPLOW_DAGSTER_HOME={demo} DAGSTER_HOME={home} {dagster} dev" in out
    assert "enriched_events done" in out and "archived_logs done" in out
    summary = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in out.splitlines()
        if line.count("│") == 3
    }
    assert summary["files"] == "2" and summary["status"] == "ok"
    events, bad, lines = (
        int(summary[k].replace(",", "")) for k in ("events", "bad rows", "input lines")
    )
    assert events >= 390 and bad > 0 and lines > 0
    assert list((demo / "raw" / "in").iterdir()) == []
    assert (home / "dagster.yaml").exists()

    with dg.DagsterInstance.from_config(str(home)) as instance:
        [batch] = instance.get_dynamic_partitions("batches")
        for asset in ("raw_logs", "staged_logs", "enriched_events", "archived_logs"):
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == {batch}
