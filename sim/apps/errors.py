"""The one line every lora-tco command ends with when it fails: ``PROGRAM: error: MESSAGE``
on stderr, and its exit status.

``lora-tco``, ``lora-tco-merge``, ``lora-tco-report`` and the scripted studies all build,
print and exit through :func:`fail`, so the line reads the same whichever command wrote it.
"""

from __future__ import annotations

import os
import sys

from models.errors import ConfigError
from sim.apps.background import BackgroundError
from sim.run.config import COMPOSE_ERRORS, friendly_error

__all__ = [
    "BAD_INPUT",
    "DEBUG_HINT",
    "FAILED",
    "CommandFailed",
    "describe_failure",
    "error_line",
    "fail",
    "os_error_message",
]

FAILED = 1  # the command ran and failed
BAD_INPUT = 2  # the command was refused: its input was bad
DEBUG_HINT = "run again with --debug or LORA_TCO_DEBUG=1 for the traceback"


class CommandFailed(Exception):
    """A command that cannot finish, told in one line (:attr:`exit_code`: 1 a failure, 2 bad
    input, or a status of the command's own, such as ``lora-tco``'s 3 for a truncated run)."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def error_line(program: str, message: str) -> str:
    """``PROGRAM: error: MESSAGE``, the way argparse words its own errors."""
    return f"{program}: error: {message}"


def fail(program: str, message: str, exit_code: int) -> int:
    """Print the error line of ``program`` on stderr.

    Parameters
    ----------
    program : str
        The command's name (``lora-tco``, ``lora-tco-merge``, ...).
    message : str
        What went wrong, one line.
    exit_code : int
        The status the command exits with.

    Returns
    -------
    int
        ``exit_code``, for ``sys.exit(fail(...))`` or ``return fail(...)``.
    """
    print(error_line(program, message), file=sys.stderr)
    return exit_code


def os_error_message(exc: OSError, path: str | os.PathLike = "") -> str:
    """``PATH: REASON`` for a file-system failure: the file it names (else ``path``) and
    the operating system's reason; the reason alone when neither names a file."""
    where = exc.filename or path
    reason = exc.strerror or " ".join(str(exc).split())
    return f"{where}: {reason}" if where else reason


def describe_failure(exc: BaseException) -> tuple[str, int]:
    """One line for a failure of ``lora-tco``, and the exit status: 2 for bad input, 1 otherwise.

    Parameters
    ----------
    exc : BaseException
        What the run raised.

    Returns
    -------
    (message, exit_code) : tuple of str and int
        A failure nobody foresaw is named by its type, with :data:`DEBUG_HINT`.
    """
    if isinstance(exc, CommandFailed):
        return str(exc), exc.exit_code
    if isinstance(exc, ConfigError):
        return str(exc), BAD_INPUT
    if isinstance(exc, COMPOSE_ERRORS):
        return str(friendly_error(exc)), BAD_INPUT
    if isinstance(exc, OSError):
        return os_error_message(exc), FAILED
    if isinstance(exc, BackgroundError):
        return f"drawing the charts failed: {exc}", FAILED
    detail = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {detail} (unexpected: {DEBUG_HINT})", FAILED
