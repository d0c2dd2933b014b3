"""Reading the command line: ``-c -`` (EmrEtlRunner reads the config from stdin; everything
downstream wants a path), and argument types that turn bad values into usage errors."""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

STDIN_CONFIG_PREFIX = "snowplow-config-"


@contextlib.contextmanager
def config_path(value: str, stdin: TextIO | None = None) -> Iterator[Path]:
    """The config's path; for ``-`` a private temporary copy of stdin, removed afterwards (the text
    may hold keys, so it is readable by this user only and never outlives the command)."""
    if value != "-":
        yield Path(value)
        return
    with tempfile.NamedTemporaryFile("w", prefix=STDIN_CONFIG_PREFIX, suffix=".yml") as file:
        file.write((stdin or sys.stdin).read())
        file.flush()
        yield Path(file.name)


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1, else a usage error (exit 2) naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def new_seed() -> int:
    """A fresh seed, so two calls never write the same events or file names."""
    return secrets.randbelow(2**31)
