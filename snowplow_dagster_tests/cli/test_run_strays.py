"""``snowplow-dagster run`` on what it cannot take (issue 9, items 6 and 7): names that cannot be
claimed are reported on stderr by name and count, not hidden behind "No logs to process", and a
corrupt index is an error naming its file, exit 1, with nothing moved."""

from pathlib import Path

import pytest

from snowplow_dagster.cli import main
from snowplow_dagster_tests.cli.helpers import run_args
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.platform.helpers import write_config


@pytest.fixture
def config(backend: Backend, tmp_path: Path) -> Path:
    return write_config(tmp_path / "config.yml", backend.root)


def test_names_that_cannot_be_claimed_are_reported_on_stderr(
    backend: Backend,
    config: Path,
    tmp_path: Path,
    dagster_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend.put("in/a\nb.gz", b"x\n")
    backend.put(f"in/.snowplow-dagster-tmp-{'c' * 8}", b"y\n")
    (tmp_path / "elsewhere.gz").write_bytes(b"outside\n")
    (Path("/" + backend.location("in/").key) / "link.gz").symlink_to(tmp_path / "elsewhere.gz")

    assert main(run_args(config)) == 3

    out, err = capsys.readouterr()
    assert "Warning: 3 object(s) cannot be claimed and stay where they are" in err
    assert f'"{backend.location("in/a").uri}\\nb.gz" (a line break in its name)' in err
    assert 'link.gz" (a symbolic link: not followed)' in err
    assert ".snowplow-dagster-tmp-cccccccc\" (named like snowplow-dagster's temporary files" in err
    assert "No logs to process: nothing to claim in" in out
    assert "but the objects named above" in out
    assert (tmp_path / "elsewhere.gz").read_bytes() == b"outside\n"
    left = sorted(path.name for path in Path("/" + backend.location("in/").key).iterdir())
    assert left == [".snowplow-dagster-tmp-cccccccc", "a\nb.gz", "link.gz"]
    assert backend.objects("processing/") == {} and backend.objects("archive/") == {}


def test_a_corrupt_pending_index_is_an_error_naming_it(
    backend: Backend, config: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend.put("in/a.gz", b"x\n")
    backend.put("manifests/pending.json", b'{"pending": [')

    assert main(run_args(config)) == 1

    err = capsys.readouterr().err
    assert f"{backend.location('manifests/pending.json').uri} is corrupt: not valid JSON" in err
    assert "Traceback" not in err and "Restore it from a backup" in err
    assert backend.objects("in/") == {"in/a.gz": b"x\n"}
