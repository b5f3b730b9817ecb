"""The real ``lora-tco`` stopped at a chosen phase (SIGINT, SIGTERM) or failing on a full
disk: one line on stderr, the conventional exit code, no traceback, no half-written
folder, no stale done marker and no chart process left behind.

Each case is a subprocess watched from a thread; the cases run side by side.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from sim.apps.jobs import DONE

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals and /proc as on Linux")

# Long enough that each phase lasts seconds: ~20k replications of three models.
LONG = ("replications=20000", "output.progress=false")
TIMEOUT_S = 240


@dataclass
class Outcome:
    folder: Path
    returncode: int
    stderr: str
    stdout: str
    sent: bool  # whether the trigger fired before the run ended
    leftovers: list[str]  # processes still running with this run's folder on their command line


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def _run(
    folder: Path,
    args: tuple[str, ...],
    trigger: Callable[[Path], bool] | None = None,
    signum: int = signal.SIGINT,
    preexec: Callable[[], None] | None = None,
) -> Outcome:
    """Start lora-tco into ``folder``; send ``signum`` once ``trigger(folder)`` holds."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("LORA_TCO_DEBUG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", *args, f"hydra.run.dir={folder}"],
        cwd=folder.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
    )
    sent = False
    if trigger is not None:
        deadline = time.monotonic() + TIMEOUT_S
        while proc.poll() is None and time.monotonic() < deadline:
            if trigger(folder):
                proc.send_signal(signum)
                sent = True
                break
            time.sleep(0.005)
    stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    time.sleep(0.5)  # a child that outlived its parent would still be writing now
    return Outcome(folder, proc.returncode, stderr, stdout, sent, _processes_mentioning(str(folder)))


def _simulating(folder: Path) -> bool:
    # Hydra has written the job's config and lora-tco is past its start-up: the engine runs.
    config = folder / ".hydra" / "config.yaml"
    return config.exists() and time.time() - config.stat().st_mtime > 2.0


def _writing(folder: Path) -> bool:
    names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    return any(n == "summary.csv" or n.startswith(".ledger.parquet.") for n in names)


def _drawing(folder: Path) -> bool:
    names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    return any(n == "tco_distribution.png" or n.startswith((".convergence.png.", ".cost_by_year.png.")) for n in names)


def _limit_file_size() -> None:
    limit = 2_000_000  # bytes: the summary fits, the ledger of 20k replications does not
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


CASES: dict[str, dict] = {
    "sigint-while-simulating": {"args": LONG, "trigger": _simulating, "signum": signal.SIGINT},
    # SimPy re-raises a copy of an exception from inside its processes
    "sigint-while-simpy-simulates": {"args": ("engine=simpy", "replications=400", "output.progress=false"), "trigger": _simulating},
    "sigterm-while-writing": {"args": LONG, "trigger": _writing, "signum": signal.SIGTERM},
    "sigint-while-the-chart-child-draws": {"args": LONG, "trigger": _drawing, "signum": signal.SIGINT},
    "full-disk": {"args": (*LONG, "output.charts=false"), "preexec": _limit_file_size},
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    pool = ThreadPoolExecutor(max_workers=2)
    futures = {}
    for name, case in CASES.items():
        folder = tmp_path_factory.mktemp(name) / "run"
        futures[name] = pool.submit(_run, folder, case["args"], case.get("trigger"), case.get("signum", signal.SIGINT), case.get("preexec"))
    results = {name: future.result() for name, future in futures.items()}
    pool.shutdown()
    return results


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("sig")])
def test_a_signal_stops_the_run_cleanly(outcomes: dict[str, Outcome], name: str) -> None:
    out = outcomes[name]
    assert out.sent, f"the run ended before the trigger: {out.stderr}"
    signum = CASES[name].get("signum", signal.SIGINT)
    assert out.returncode == 128 + signum, out.stderr
    lines = _lines(out.stderr)
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert re.fullmatch(
        rf"lora-tco: interrupted; (nothing was written to|partial results removed from) {re.escape(str(out.folder))}", lines[0]
    )
    assert out.leftovers == [], out.leftovers
    if out.folder.exists():  # it held files before: now only Hydra's record of the attempt remains
        left = sorted(p.name for p in out.folder.iterdir())
        assert DONE not in left
        assert all(n in (".hydra", "cli.log", ".lora_tco.lock") for n in left), left


def test_the_writing_phase_is_rolled_back_not_left_half_done(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["sigterm-while-writing"]
    assert "partial results removed" in out.stderr or not out.folder.exists(), out.stderr


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_partial_set(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["full-disk"]
    assert out.returncode == 1, out.stderr
    lines = _lines(out.stderr)
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert re.fullmatch(
        rf"lora-tco: error: {re.escape(str(out.folder))}/\w+\.parquet: File too large; "
        rf"(partial results removed from|nothing was written to) {re.escape(str(out.folder))}",
        lines[0],
    ), lines[0]
    left = sorted(p.name for p in out.folder.iterdir()) if out.folder.exists() else []
    assert all(n in (".hydra", "cli.log", ".lora_tco.lock") for n in left), left


def test_debug_brings_back_the_traceback(tmp_path: Path) -> None:
    """The same bad folder, once plain (one line) and once with ``--debug`` (a traceback)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    command = [sys.executable, "-m", "sim", "replications=20", "horizon_years=1", f"hydra.run.dir={blocker}/run"]
    plain = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    debug = subprocess.run([*command, "--debug"], capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert plain.returncode != 0 and len(_lines(plain.stderr)) == 1 and "Traceback" not in plain.stderr, plain.stderr
    assert str(blocker) in plain.stderr
    assert debug.returncode != 0 and "Traceback (most recent call last)" in debug.stderr, debug.stderr


def test_a_failed_sweep_job_is_one_line_and_the_sweep_fails(tmp_path: Path) -> None:
    """Job 1 cannot write its summary (a folder stands in the way); jobs 0 and 2 finish."""
    sweep = tmp_path / "sweep"
    (sweep / "1" / "summary.csv").mkdir(parents=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "-m",
            "scenario.adapters=4,6,8",
            "replications=30",
            "horizon_years=1",
            "output.charts=false",
            "output.print_summary=false",
            f"hydra.sweep.dir={sweep}",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = _lines(done.stderr)
    assert len(lines) == 2, done.stderr
    assert re.match(rf"lora-tco: job 1 \(scenario.adapters=6 .*\) failed: {re.escape(str(sweep))}/1/summary.csv: Is a directory$", lines[0])
    assert lines[1].startswith("lora-tco: error: the sweep finished with 1 failed job(s): job 1 (scenario.adapters=6")
    assert (sweep / "0" / DONE).exists() and (sweep / "2" / DONE).exists()
    assert not (sweep / "1" / DONE).exists()
    assert sorted(p.name for p in (sweep / "1").iterdir() if not p.name.startswith(".")) == ["cli.log", "summary.csv"]


def test_the_chart_child_is_stopped_by_its_parent() -> None:
    """In process: Background.stop ends, at once, a child that would run for a minute."""
    from sim.apps.background import Background, fork_available

    if not fork_available():
        pytest.skip("fork is used on Linux only")
    job = Background(lambda: time.sleep(60))
    pid = job._pid
    tic = time.monotonic()
    job.stop()
    assert time.monotonic() - tic < 6.0
    with pytest.raises(ProcessLookupError):  # reaped: no zombie, no orphan
        os.kill(pid, 0)


@pytest.mark.parametrize(
    ("where", "told"),
    [("a-file", "is a file, not a folder"), ("a-file/run", "cannot be created"), ("/proc/no-such/run", "cannot be created")],
)
def test_a_run_folder_that_cannot_be_a_folder_is_one_line_naming_it(tmp_path: Path, where: str, told: str) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    folder = where if where.startswith("/") else str(tmp_path / where)
    command = [sys.executable, "-m", "sim", "replications=20", "horizon_years=1", f"hydra.run.dir={folder}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert len(_lines(done.stderr)) == 1 and done.stderr.startswith(f"lora-tco: error: hydra.run.dir = {folder}: {told}")
