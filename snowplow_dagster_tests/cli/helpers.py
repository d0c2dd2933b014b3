"""An engine that enriches without Spark, and the command lines the tests run.

``LineCountingEngine`` stands in for the execution engine where a test is about the command line
and the batch's state, not about enrichment (Spark is tested in ``enrich/`` and once here): every
raw line becomes one good event, so "enriched output once" is checkable line for line.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from snowplow_dagster.engines.contract import StepConfig, StepFailed, StepResult
from snowplow_dagster.engines.steps import ENRICH, ENRICHED_TO_S3, RAW_TO_HDFS
from snowplow_dagster.samples import SAMPLE_RESOLVER
from snowplow_dagster.storage import Location, storage_for
from snowplow_dagster_tests.platform.helpers import step_arg

ON_S3_AND_LOCAL = pytest.mark.parametrize("backend", ["s3", "local"], indirect=True)
"""For a test that must hold on moto's S3 too: the ``backend`` fixture is local otherwise."""


class LineCountingEngine:
    """Reads the batch's raw folder the first step names and writes one good line per raw line,
    the counts file and ``_SUCCESS``; ``failures`` > 0 fails that many calls first."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0

    def run_steps(
        self,
        steps: Sequence[StepConfig],
        *,
        log: logging.Logger,
        cancel_event: threading.Event | None = None,
    ) -> list[StepResult]:
        self.calls += 1
        if self.calls <= self.failures:
            raise StepFailed(f"{ENRICH} failed: injected", [StepResult(ENRICH, "FAILED")])
        by_name = {step["Name"]: step for step in steps}
        raw = Location.parse(step_arg(by_name[RAW_TO_HDFS], "--src")).folder()
        storage = storage_for(raw)
        per_file = {
            raw.relative(info.key): gzip.decompress(
                storage.read(raw.object(info.key)).data
            ).splitlines()
            for info in storage.list(raw)
        }
        lines = [line for file_lines in per_file.values() for line in file_lines]
        good = Location.parse(step_arg(by_name[ENRICHED_TO_S3], "--dest")).folder()
        storage.write(good.join("part-00000"), b"".join(line + b"\n" for line in lines))
        storage.write(good.join("_SUCCESS"), b"")
        counts = Location.parse(step_arg(by_name[ENRICH], "--counts-file"))
        n = len(lines)
        storage.write(
            counts,
            json.dumps(
                {
                    "input_lines": n,
                    "skipped_lines": 0,
                    "lines_with_output": n,
                    "good_events": n,
                    "bad_rows": 0,
                    "objects": {
                        name: {
                            "lines": len(file_lines),
                            "input_lines": len(file_lines),
                            "skipped_lines": 0,
                            "lines_with_output": len(file_lines),
                        }
                        for name, file_lines in per_file.items()
                    },
                }
            ).encode(),
        )
        return [StepResult(step["Name"], "COMPLETED") for step in steps]


def run_args(config: Path, *extra: str) -> list[str]:
    return ["run", "-c", str(config), "-r", str(SAMPLE_RESOLVER), *extra]
