"""Work done in a forked child process while the parent goes on.

The command line renders part of its chart set this way while it writes the data files:
both cores busy instead of one. Only on Linux, where ``fork`` is the platform's own way
to start a process; elsewhere, and when asked not to, the work runs in place, at once.
The child's result travels back as JSON through a pipe, never as a pickle.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from sim.core.interrupt import HANDLED_SIGNALS, raise_interrupted


def fork_available() -> bool:
    """Whether :class:`Background` forks (Linux with ``os.fork``)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


class BackgroundError(RuntimeError):
    """The background work raised (its type and message), or its process died."""


class Background:
    """Start ``work()`` now in a forked child; :meth:`result` waits for its JSON-able value.

    Parameters
    ----------
    work : callable
        Takes no arguments; returns something :func:`json.dumps` accepts. It sees the
        parent's memory as it was at the fork; what it changes there stays in the child.
    fork : bool
        ``False`` runs ``work`` in place (also the case where fork is not available).
    """

    def __init__(self, work: Callable[[], Any], fork: bool = True) -> None:
        self._pid: int | None = None
        self._value: Any = None
        self._error: str | None = None
        if not (fork and fork_available()):
            try:
                self._value = work()
            except Exception as exc:  # raised from result(), as from a child
                self._error = f"{type(exc).__name__}: {exc}"
            return
        sys.stdout.flush()  # else the child would write the parent's buffered output again
        sys.stderr.flush()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: do the work, report, and leave without running the parent's exit handlers
            status = 0
            try:
                for handled in HANDLED_SIGNALS:  # stop() and Ctrl-C unwind the work, so its temporary files go
                    signal.signal(handled, raise_interrupted)
                os.close(read)
                try:
                    text = json.dumps({"value": work()})
                except BaseException as exc:
                    text, status = json.dumps({"error": f"{type(exc).__name__}: {exc}"}), 1
                with os.fdopen(write, "w") as pipe:
                    pipe.write(text)
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._read = pid, read

    def wait(self) -> None:
        """Wait until the work has ended (without raising): a caller that fails on its own
        account calls this so that the child never outlives it."""
        if self._pid is None:
            return
        with os.fdopen(self._read) as pipe:
            data = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        try:
            payload = json.loads(data)
        except ValueError:
            payload = {"error": f"the background process ended with status {os.waitstatus_to_exitcode(status)} and no result"}
        self._value, self._error = payload.get("value"), payload.get("error")

    def stop(self, grace_s: float = 5.0) -> None:
        """End the work now: SIGTERM, which the child turns into a clean unwind (its
        temporary files removed), then SIGKILL if it is still there after ``grace_s``.
        The parent calls this when it is interrupted or fails, so that no child goes on
        writing into a folder after its parent has given up on it."""
        if self._pid is None:
            return
        pid, self._pid = self._pid, None
        os.close(self._read)
        self._value, self._error = None, "stopped"
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace_s
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # already reaped
                return
            if done:
                return
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return
            time.sleep(0.01)

    def result(self) -> Any:
        """Wait for the work and return its value; raise :class:`BackgroundError` if it failed."""
        self.wait()
        if self._error is not None:
            raise BackgroundError(self._error)
        return self._value
