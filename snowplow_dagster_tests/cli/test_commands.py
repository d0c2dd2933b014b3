"""The command line as a new user meets it: ``generate`` twice, bad arguments, ``--help``,
``--version``, and the Dagster home every command and ``make dev`` share."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snowplow_dagster.cli import main
from snowplow_dagster.cli.home import PROJECT_SETTINGS, dagster_home, ui_command
from snowplow_dagster.cli.selection import FOREIGN_STEPS, RESUMABLE
from snowplow_dagster.engines.bundle import release_version

REPO = Path(__file__).parents[2]


def test_generate_twice_writes_new_files_and_a_seed_repeats_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "in"
    assert main(["generate", str(out), "--events", "50", "--files", "2"]) == 0
    first = capsys.readouterr()
    assert main(["generate", str(out), "--events", "50", "--files", "2"]) == 0
    second = capsys.readouterr()

    assert len(list(out.iterdir())) == 4  # nothing overwritten
    assert set(first.out.split()).isdisjoint(second.out.split())
    seed = first.err.split()[-1]
    again = tmp_path / "again"
    assert main(["generate", str(again), "--events", "50", "--files", "2", "--seed", seed]) == 0
    assert sorted(p.name for p in again.iterdir()) == sorted(
        Path(p).name for p in first.out.split()
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--files", "0"], "argument --files: must be at least 1, got 0"),
        (["--events", "-5"], "argument --events: must be at least 1, got -5"),
        (["--events", "many"], "argument --events: 'many' is not a whole number"),
        (["--bad-fraction", "2"], "argument --bad-fraction: must be between 0 and 1, got 2.0"),
    ],
)
def test_bad_generate_arguments_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["generate", str(tmp_path / "in"), *arguments])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "in").exists()


def test_every_generate_flag_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = capsys.readouterr().out
    for flag, words in [
        ("--format", "collector log format"),
        ("--events", "events in all"),
        ("--files", "log files"),
        ("--seed", "a new seed each call"),
        ("--bad-fraction", "malformed"),
        ("--plain", "uncompressed"),
    ]:
        assert flag in text and words in text, flag


def test_run_help_lists_exit_codes_and_steps(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for code in ("0 done", "1 an error", "3 no data to process", "4 a live run", "17 the lock"):
        assert code in text
    for step in ("staging", "enrich", "archive_raw", "staging_stream_enrich", *FOREIGN_STEPS):
        assert step in text
    assert ", ".join(RESUMABLE) in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"snowplow-dagster {release_version()}"


def test_a_dagster_home_from_the_environment_gets_the_project_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "some" / "dir"
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    assert dagster_home() == home
    assert (home / "dagster.yaml").read_text() == PROJECT_SETTINGS.read_text()
    info = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "instance", "info"],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "max_concurrent_runs: 4" in info.stdout and "default_limit: 1" in info.stdout
    assert "No dagster instance configuration file" not in info.stderr


def test_the_ui_hint_carries_every_variable_the_code_location_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNOWPLOW_DAGSTER_HOME", str(tmp_path / "buckets"))
    command = ui_command(tmp_path / "home", {"SNOWPLOW_DAGSTER_CONFIG": str(tmp_path / "c.yml")})
    dagster = Path(sys.executable).with_name("dagster")
    assert command == (
        f"SNOWPLOW_DAGSTER_CONFIG={tmp_path / 'c.yml'} "
        f"SNOWPLOW_DAGSTER_HOME={tmp_path / 'buckets'} "
        f"DAGSTER_HOME={tmp_path / 'home'} {dagster} dev -m snowplow_dagster.definitions"
    )
