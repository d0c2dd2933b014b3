"""``run --lock PATH``: a local lock file, so two scheduled passes never overlap.

The file holds its owner (pid, host, start time) as JSON and is created atomically
(``O_CREAT | O_EXCL``), where EmrEtlRunner's existence check then write could race. A lock whose pid
is dead on this host is stale: the owner crashed (SIGKILL, OOM, reboot), so it is taken over with a
warning instead of blocking every later run with exit 17. A bare pid (EmrEtlRunner's own lock
format) is read as a pid on this host; anything unreadable counts as held.

Released at the end of every pass that started, failed ones included (EmrEtlRunner keeps its "hard
lock" after a failure): a failed batch is resumed by the next run from its manifest, so a lock kept
only to make an operator delete it buys nothing; a crash leaves a lock the next run takes over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class LockOwner:
    pid: int
    host: str
    started: str

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "started": self.started})

    @classmethod
    def parse(cls, text: str) -> LockOwner | None:
        """The owner a lock file names; None when the file does not say."""
        text = text.strip()
        if text.isdigit():
            return cls(int(text), socket.gethostname(), "")
        try:
            document = json.loads(text)
            return cls(int(document["pid"]), str(document["host"]), str(document["started"]))
        except (ValueError, KeyError, TypeError):
            return None


class LockHeld(Exception):
    """EmrEtlRunner's ``LockHeldError`` (exit 17)."""


def pid_alive(pid: int) -> bool:
    """Whether a process of this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def is_stale(owner: LockOwner | None, host: str, alive: Callable[[int], bool] = pid_alive) -> bool:
    """A lock is stale only when we can tell its owner is gone: its pid, here, is dead."""
    return owner is not None and owner.host == host and not alive(owner.pid)


def me() -> LockOwner:
    return LockOwner(os.getpid(), socket.gethostname(), datetime.now(UTC).isoformat())


def acquire(path: Path, *, warn: Callable[[str], None]) -> None:
    """Take the lock, taking over a stale one; ``LockHeld`` when a live owner has it."""
    owner = me()
    for _ in range(2):  # a second try after removing a stale lock
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            held_by = LockOwner.parse(_read(path))
            if not is_stale(held_by, owner.host):
                raise LockHeld(f"Lock already held at {path}") from None
            assert held_by is not None
            warn(
                f"Taking over the lock at {path}: its owner (pid {held_by.pid} on {held_by.host}, "
                f"started {held_by.started or 'at an unknown time'}) is no longer running"
            )
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        with os.fdopen(descriptor, "w") as file:
            file.write(owner.to_json())
        return
    raise LockHeld(f"Lock already held at {path}")


def release(path: Path) -> None:
    """Remove the lock (absent is fine: ``--ignore-lock-on-start`` may not have made one)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
