"""The numba cache is invalidated by an edit to any numba source a cached function may inline."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sim.core import jit
from sim.engines.fast import kernel

HELPERS = """
from sim.core.jit import cached_njit

@cached_njit(inline="always")
def inlined(x):
    return x + 1.0

@cached_njit()
def called(x):
    return x + 1.0
"""

CALLER = """
from sim.core.jit import cached_njit
from pkg.helpers import called, inlined

@cached_njit()
def total(x):
    return inlined(x) + called(x)
"""


def _total(root: Path) -> tuple[float, str]:
    """``pkg.caller.total(1.0)`` in a fresh process, and numba's cache log."""
    env = {**os.environ, "PYTHONPATH": str(root), "NUMBA_CACHE_DIR": str(root / "cache"), "NUMBA_DEBUG_CACHE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", "from pkg.caller import total; print(total(1.0))"], env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1]), done.stdout


def test_editing_a_dependency_recompiles_the_cached_caller(tmp_path: Path) -> None:
    """Plain ``njit(cache=True)`` would print 4.0 again after the edit (a stale caller)."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(textwrap.dedent(HELPERS))
    (package / "caller.py").write_text(textwrap.dedent(CALLER))
    first, _ = _total(tmp_path)
    again, log = _total(tmp_path)
    assert (first, again) == (4.0, 4.0)
    assert "data loaded" in log  # the second run came from the cache: caching is really on
    (package / "helpers.py").write_text(textwrap.dedent(HELPERS).replace("x + 1.0", "x + 100.0"))
    edited, _ = _total(tmp_path)
    assert edited == 202.0


def test_the_kernels_stamp_covers_every_numba_source_it_inlines() -> None:
    stamp = kernel._advance._cache._impl.locator.get_source_stamp()
    sim_folder = Path(jit.__file__).resolve().parents[1]
    assert jit.numba_sources_fingerprint(str(sim_folder)) in stamp
    names = {p.relative_to(sim_folder).as_posix() for p in sim_folder.rglob("*.py") if b"njit" in p.read_bytes()}
    # layout.py has no numba function, but its constants are compiled into the kernels: it must count too
    fast = {f"engines/fast/{name}.py" for name in ("layout", "heap", "pools", "processes", "kernel")}
    assert {"core/rng.py", "core/ledger.py", "engines/capacity.py"} | fast <= names


def test_cache_is_implied() -> None:
    with pytest.raises(TypeError, match="cache"):
        jit.cached_njit(cache=True)


def test_the_fingerprint_follows_edits_within_a_session(tmp_path: Path) -> None:
    source = tmp_path / "helpers.py"
    source.write_text(textwrap.dedent(HELPERS))
    (tmp_path / "notes.py").write_text("x = 1\n")  # no numba in it: not part of the fingerprint
    before = jit.numba_sources_fingerprint(str(tmp_path))
    (tmp_path / "notes.py").write_text("x = 2\n")
    assert jit.numba_sources_fingerprint(str(tmp_path)) == before
    source.write_text(textwrap.dedent(HELPERS).replace("x + 1.0", "x + 20.0"))  # other size too: coarse clocks
    assert jit.numba_sources_fingerprint(str(tmp_path)) != before
