"""SIGTERM and SIGINT stop a command at any point, with an exit code and a message.

Outside Dagster's execution a signal raises ``Interrupted`` at once. While a run executes, Dagster's
own handler is installed instead: it raises inside a step's code (the local engine then stops its
Spark application, and the run is marked failed), and only records a signal that comes between
steps, forgetting it when the run ends. So every signal is also written to a wakeup socket
(``signal.set_wakeup_fd``, whichever handler is installed), which the pass reads after each run
(``Signals.check``): a signal Dagster swallowed still stops the pass before its next batch.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType

STOPPING = (signal.SIGTERM, signal.SIGINT)


class Interrupted(BaseException):
    """A stop signal: a BaseException, like KeyboardInterrupt, so that no ``except Exception`` on
    the way takes it for an error to carry on after."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's code for a process stopped by this signal (130 SIGINT, 143 SIGTERM)."""
        return 128 + self.signum


class Signals:
    def __init__(self, wakeup: socket.socket | None) -> None:
        self._wakeup = wakeup

    def check(self) -> None:
        """Raise ``Interrupted`` if a stop signal came since the last check."""
        if self._wakeup is None:
            return
        try:
            received = self._wakeup.recv(4096)
        except BlockingIOError:
            return
        for signum in received:
            if signum in STOPPING:
                raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Signals]:
    """Within: SIGTERM and SIGINT raise ``Interrupted``. Only the main thread receives signals:
    called from another one (a command run by a wrapper's thread), this leaves them alone."""
    if threading.current_thread() is not threading.main_thread():
        yield Signals(None)
        return
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)

    def stop(signum: int, _: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, stop) for sig in STOPPING}
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    try:
        yield Signals(reader)
    finally:
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        reader.close()
        writer.close()
