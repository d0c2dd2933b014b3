"""``-c -``: EmrEtlRunner reads the config from stdin; everything downstream wants a path."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def config_path(value: str, stdin: TextIO | None = None) -> Iterator[Path]:
    """The config's path; for ``-`` a private temporary copy of stdin, removed afterwards (the text
    may hold keys, so it is readable by this user only and never outlives the command)."""
    if value != "-":
        yield Path(value)
        return
    with tempfile.NamedTemporaryFile("w", prefix="snowplow-config-", suffix=".yml") as file:
        file.write((stdin or sys.stdin).read())
        file.flush()
        yield Path(file.name)
