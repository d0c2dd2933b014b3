"""One staging or archiving step in a process of its own, stopped at a chosen point so that a test
can kill it there with SIGKILL, exactly as an OOM kill or a reboot would.

    python -m snowplow_dagster_tests.batches.crash_worker ROOT STEP BATCH PAUSE_AT AFTER WORKERS

The layout under ROOT is ``helpers.settings_for``'s. PAUSE_AT ``copy`` stops once AFTER copies have
landed at the destination, ``delete`` once AFTER source deletions went through (S3: DeleteObjects
requests, local: files). On reaching it the process prints ``paused`` and waits to be killed. The
pause sits where our code meets the outside world: a botocore ``after-call`` event, or the ``os``
function the local backend calls; our own code runs unmodified.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from snowplow_dagster.batches.moves import archive_batch, stage_batch
from snowplow_dagster.storage import Location, S3Storage, storage_for
from snowplow_dagster_tests.storage.helpers import settings_for


def main(root_uri: str, step: str, batch: str, pause_at: str, after: str, workers: str) -> None:
    root = Location.parse(root_uri)
    settings = settings_for(root)
    storage = storage_for(root)
    pause = _pause_after(int(after))
    if isinstance(storage, S3Storage):
        operation = "CopyObject" if pause_at == "copy" else "DeleteObjects"
        storage.client.meta.events.register(f"after-call.s3.{operation}", lambda **_: pause())
    else:
        source, destination = (
            (settings.in_locations[0], settings.processing)
            if step == "stage"
            else (settings.processing, settings.archive)
        )
        if pause_at == "copy":
            _pause_after_call("replace", destination, pause, path_argument=1)
        else:
            _pause_after_call("unlink", source, pause, path_argument=0)
    run = stage_batch if step == "stage" else archive_batch
    run(storage, settings, batch, workers=int(workers))
    print("finished", flush=True)


def _pause_after(count: int) -> Callable[[], None]:
    lock = threading.Lock()
    calls = 0

    def pause() -> None:
        nonlocal calls
        with lock:
            calls += 1
            if calls == count:
                print("paused", flush=True)
        if calls >= count:
            threading.Event().wait()

    return pause


def _pause_after_call(
    function: str, under: Location, pause: Callable[[], None], *, path_argument: int
) -> None:
    real = getattr(os, function)
    prefix = "/" + under.folder().key

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        path = str(args[path_argument])
        if path.startswith(prefix) and ".snowplow-dagster-tmp-" not in path:
            pause()
        return result

    setattr(os, function, wrapped)


if __name__ == "__main__":
    main(*sys.argv[1:])
