"""Numba's on-disk cache, invalidated by every numba source file a kernel may inline.

numba keys a cached function on its own source file only. The fast engine inlines
code from ``sim/core/rng.py`` and ``sim/core/ledger.py`` into ``sim/engines/fast/kernel.py``, so with plain
``@njit(cache=True)`` an edit to the random numbers or the ledger formulas (a
``git pull``, or an upgrade that leaves the old ``__pycache__`` behind) would keep
running the old, stale kernel: results that silently differ from the SimPy engine.

:func:`cached_njit` is ``njit(cache=True)`` whose cache stamp also covers the
numba source files of the whole ``sim`` package and of the function's own folder (files that
mention ``njit``): any edit to them recompiles once, nothing else does.

It uses numba's cache classes (``numba.core.caching``), not a public API;
``tests/test_jit.py`` fails if a numba release changes them.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from numba import njit
from numba.core.caching import (
    CompileResultCacheImpl,
    FunctionCache,
    InTreeCacheLocator,
    UserProvidedCacheLocator,
    UserWideCacheLocator,
)

_SIM = Path(__file__).resolve().parents[1]  # the whole sim package


def numba_sources_fingerprint(folder: str) -> bytes:
    """SHA-256 over the names and contents of the ``*.py`` files in and below ``folder`` that mention ``njit``."""
    states = []
    for path in sorted(Path(folder).rglob("*.py")):
        stat = path.stat()
        states.append((str(path), stat.st_mtime_ns, stat.st_size))
    # remembered per file state, as numba does for its own stamp: a file edited while a session runs is read again
    return _fingerprint(tuple(states))


@functools.cache
def _fingerprint(files: tuple[tuple[str, int, int], ...]) -> bytes:
    digest = hashlib.sha256()
    for path, _, _ in files:
        text = Path(path).read_bytes()
        if b"njit" in text:
            digest.update(Path(path).name.encode() + b"\0" + text + b"\0")
    return digest.digest()


class _DependencyStamp:
    """Adds the numba sources of ``sim/`` and of the function's own folder to a locator's stamp."""

    _py_file: str

    def get_source_stamp(self) -> Any:
        own_folder = str(Path(self._py_file).resolve().parent)
        return (super().get_source_stamp(), numba_sources_fingerprint(str(_SIM)), numba_sources_fingerprint(own_folder))  # type: ignore[misc]


class _UserProvided(_DependencyStamp, UserProvidedCacheLocator):
    pass


class _InTree(_DependencyStamp, InTreeCacheLocator):
    pass


class _UserWide(_DependencyStamp, UserWideCacheLocator):
    pass


class _Impl(CompileResultCacheImpl):
    # numba's own order: NUMBA_CACHE_DIR if set, then __pycache__ beside the source, then the user cache
    _locator_classes: ClassVar[list[type]] = [_UserProvided, _InTree, _UserWide]


class _Cache(FunctionCache):
    _impl_class = _Impl


def cached_njit(**options: Any) -> Callable[[Callable], Any]:
    """``numba.njit(cache=True, **options)`` with the dependency-aware cache stamp above.

    Parameters
    ----------
    **options
        Passed to :func:`numba.njit` (``inline``, ``parallel``, ``_nrt``, ...); ``cache``
        is implied and must not be given.
    """
    if "cache" in options:
        raise TypeError("cached_njit: 'cache' is implied; pass the other njit options only")

    def decorate(function: Callable) -> Any:
        dispatcher = njit(**options)(function)
        if inspect.getsourcefile(function) is not None:
            dispatcher._cache = _Cache(function)  # what Dispatcher.enable_caching does, with our locators
        return dispatcher

    return decorate
