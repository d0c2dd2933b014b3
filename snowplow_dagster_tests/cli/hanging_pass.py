"""A ``snowplow-dagster run`` that hangs in one step, for a test to find live, then kill.

Usage: ``python -m snowplow_dagster_tests.cli.hanging_pass [--hang-in STEP] <run arguments>``.
By default the enrichment never ends (the engine hangs). ``--hang-in raw_logs`` (or any batch
step) hangs that step as soon as it reaches for the pipeline's storage, and ``--hang-in nowhere``
hangs nothing; with ``--hang-in``, enrichment runs ``LineCountingEngine`` (no Spark).
"""

import sys
import time

import dagster as dg

from snowplow_dagster.cli import main
from snowplow_dagster.resources import SnowplowPipeline
from snowplow_dagster_tests.cli.helpers import LineCountingEngine

HANG_FLAG = "--hang-in"


class HangingEngine:
    def run_steps(self, steps: object, *, log: object, cancel_event: object = None) -> None:
        while True:
            time.sleep(1)


def _hang() -> None:
    while True:
        time.sleep(1)


def hang_in(step: str) -> None:
    """Make ``step`` hang when it first asks the pipeline for storage or manifests."""
    for name in ("storage", "manifest_store"):
        original = getattr(SnowplowPipeline, name)

        def hanging(self: SnowplowPipeline, *args: object, _original=original) -> object:
            try:
                current = dg.OpExecutionContext.get().op.name
            except dg.DagsterInvariantViolationError:
                current = None
            if current == step:
                _hang()
            return _original(self, *args)

        setattr(SnowplowPipeline, name, hanging)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == [HANG_FLAG]:
        hang_in(arguments[1])
        engine: object = LineCountingEngine()
        arguments = arguments[2:]
    else:
        engine = HangingEngine()
    SnowplowPipeline.execution_engine = lambda self: engine  # type: ignore[method-assign]
    sys.exit(main(arguments))
