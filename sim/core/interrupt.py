"""Clean stops: SIGINT and SIGTERM unwind the run like an exception, and a job that
stops early takes back every file it wrote.

A signal becomes :class:`Interrupted` (a ``BaseException``, like ``KeyboardInterrupt``)
at the next Python instruction, so every ``finally`` runs: the atomic writes remove
their temporary files, the chart child is stopped and the folder is rolled back
(:class:`FolderRollback`). Hydra's job runner catches ``Exception`` only, so the
interruption reaches the console script, which prints one line and exits with
``128 + signal`` (130 for Ctrl-C, 143 for ``kill``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# What Hydra itself writes into a run folder before lora-tco starts: never results,
# and no reason to keep a folder that holds nothing else.
HYDRA_BOOKKEEPING = (".hydra",)
HYDRA_LOG_SUFFIX = ".log"


class Interrupted(BaseException):
    """The run was stopped by a signal; :attr:`exit_code` is ``128 + signal``."""

    def __init__(self, signum: int, outcome: str = "") -> None:
        # args are the constructor's own: a library that re-raises a copy of an exception
        # (SimPy does, from inside its processes) must get an equal one back.
        super().__init__(signum, outcome)
        self.signum = int(signum)
        self.outcome = outcome  # what was done about the folder, in words

    def __str__(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@dataclass
class _Pending:
    """The signal that arrived and whether its :class:`Interrupted` reached the run.

    Signal dispositions are process-wide, so this is too. An exception raised by a
    handler can be swallowed when the signal lands in a C callback (numba loading its
    cache calls back into Python); the signal then stays pending and :func:`check`
    raises it at the next checkpoint instead of losing it.
    """

    signum: int = 0
    delivered: bool = False


_PENDING = _Pending()


def raise_interrupted(signum: int, _frame: object) -> None:
    """Signal handler: raise :class:`Interrupted`, unless one is already being handled
    (a second Ctrl-C must not cut the clean-up short)."""
    if _PENDING.delivered:
        return
    _PENDING.signum = signum
    raise Interrupted(signum)


def check() -> None:
    """Raise :class:`Interrupted` if a signal arrived and was lost on its way (a checkpoint
    between the phases of a run)."""
    if _PENDING.signum and not _PENDING.delivered:
        raise Interrupted(_PENDING.signum)


def handled() -> None:
    """The run has caught the :class:`Interrupted` and is cleaning up: later signals are ignored."""
    _PENDING.delivered = True


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise :class:`Interrupted` (main thread only;
    elsewhere signals keep their handlers). A forked child inherits this, so it too
    unwinds and removes its temporary files."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, raise_interrupted) for s in HANDLED_SIGNALS}
    _PENDING.signum, _PENDING.delivered = 0, False
    try:
        yield
        check()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _is_bookkeeping(relative: Path) -> bool:
    top = relative.parts[0]
    return top in HYDRA_BOOKKEEPING or (len(relative.parts) == 1 and top.endswith(HYDRA_LOG_SUFFIX))


def _fingerprint(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@dataclass
class FolderRollback:
    """Remember a folder's files; :meth:`rollback` removes every file written since.

    A file is written since when it is new or was replaced (atomic writes give it a
    new inode). Hydra's bookkeeping (``.hydra/``, its log) and names in ``keep`` are
    left; a folder left with nothing but those is removed, so an interrupted run into
    a new folder leaves no folder at all.
    """

    folder: Path
    keep: tuple[str, ...] = ()
    _before: dict[Path, tuple[int, int, int]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self._before = {p: _fingerprint(p) for p in self._files()}

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        out = []
        for path in self.folder.rglob("*"):
            relative = path.relative_to(self.folder)
            if path.is_file() and not _is_bookkeeping(relative) and relative.parts[0] not in self.keep:
                out.append(path)
        return out

    def written(self) -> list[Path]:
        """Files new or replaced since this object was made."""
        changed = []
        for path in self._files():
            try:
                if self._before.get(path) != _fingerprint(path):
                    changed.append(path)
            except FileNotFoundError:  # removed meanwhile (a temporary file)
                continue
        return changed

    def rollback(self) -> str:
        """Remove what was written; returns what was done, in words."""
        removed = 0
        for path in self.written():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        if (
            self.folder.is_dir()
            and not self._files()
            and all(_is_bookkeeping(p.relative_to(self.folder)) or p.name in self.keep for p in self.folder.iterdir())
        ):
            shutil.rmtree(self.folder, ignore_errors=True)
        if removed:
            return f"partial results removed from {self.folder}"
        return f"nothing was written to {self.folder}"


DEBUG_ENV = "LORA_TCO_DEBUG"


def debug_mode() -> bool:
    """Whether ``LORA_TCO_DEBUG`` asks for full tracebacks instead of one-line errors."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def debug_requested(args: list[str]) -> tuple[bool, list[str]]:
    """Whether ``--debug`` or ``LORA_TCO_DEBUG=1`` asks for full tracebacks; returns it
    and the arguments without ``--debug``."""
    return "--debug" in args or debug_mode(), [a for a in args if a != "--debug"]
