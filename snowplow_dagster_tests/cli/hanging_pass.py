"""A ``snowplow-dagster run`` whose enrichment never ends, for a test to find live, then kill.

Usage: ``python -m snowplow_dagster_tests.cli.hanging_pass <run arguments>``.
"""

import sys
import time

from snowplow_dagster.cli import main
from snowplow_dagster.resources.pipeline import SnowplowPipeline


class HangingEngine:
    def run_steps(self, steps: object, *, log: object, cancel_event: object = None) -> None:
        while True:
            time.sleep(1)


if __name__ == "__main__":
    SnowplowPipeline.execution_engine = lambda self: HangingEngine()  # type: ignore[method-assign]
    sys.exit(main(sys.argv[1:]))
