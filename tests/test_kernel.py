"""Properties of the fast engine itself: threads, shards, plain vs jitted, long horizons."""

from __future__ import annotations

import io
import re
import resource

import numba
import numpy as np
import pytest

import sim.engines.fast.kernel as kernel
import sim.run.runner as runner
from models.compile import compile_config
from sim import load_config, simulate
from sim.core.metrics import METRICS
from sim.run.config import to_plain
from sim.run.progress import Progress


@pytest.fixture(scope="module")
def default_plain() -> dict:
    return to_plain(load_config(["replications=64", "horizon_years=3"]))


def test_results_do_not_depend_on_thread_count(default_plain):
    run = compile_config(default_plain)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = kernel.run_kernel(run)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        parallel = kernel.run_kernel(run)
    finally:
        numba.set_num_threads(previous)
    assert numba.config.NUMBA_NUM_THREADS >= 2, "this machine has one core: the test would not compare anything"
    assert np.array_equal(serial[0], parallel[0]) and np.array_equal(serial[1], parallel[1])


def test_shards_of_replications_merge_into_the_whole_run(default_plain):
    whole_usd, whole_out = kernel.run_kernel(compile_config(default_plain))
    parts = [np.arange(0, 10), np.arange(10, 41), np.arange(41, 64)]
    usd = np.concatenate([kernel.run_kernel(compile_config(default_plain, p))[0] for p in parts], axis=1)
    out = np.concatenate([kernel.run_kernel(compile_config(default_plain, p))[1] for p in parts], axis=1)
    assert np.array_equal(whole_usd, usd) and np.array_equal(whole_out, out)


def test_plain_python_and_jitted_kernel_agree(monkeypatch):
    cfg = to_plain(load_config(["replications=2", "horizon_years=1", "scenario.adapters=2", "operating_model=[self_managed_lora]"]))
    run = compile_config(cfg)
    floats, ints = kernel.pack_parameters(run)
    jitted_usd, plain_usd = np.zeros((1, 14)), np.zeros((1, 14))
    jitted_out, plain_out = np.zeros(len(METRICS)), np.zeros(len(METRICS))
    args = (np.uint64(run.seed), 1, 1, 10**9)
    kernel._replication(floats[0, 1], ints[0], *args, jitted_usd, jitted_out)
    monkeypatch.setattr(kernel, "_advance", kernel._advance.py_func)
    kernel._replication.py_func(floats[0, 1], ints[0], *args, plain_usd, plain_out)
    assert np.array_equal(jitted_usd, plain_usd) and np.array_equal(jitted_out, plain_out)
    assert plain_out[METRICS.index("refreshes_completed")] > 0


def test_a_thousand_year_horizon_runs_in_memory_bounded_by_the_model_state():
    cfg = to_plain(load_config(["replications=1", "horizon_years=10", "scenario.adapters=100", "operating_model=[self_managed_lora]"]))
    kernel.run_kernel(compile_config(cfg))  # warm up at a short horizon
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    cfg["horizon_years"] = 1000
    cfg["engine"]["max_events_per_replication"] = 10**9  # the default cap is sized for planning horizons
    usd, out = kernel.run_kernel(compile_config(cfg))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert out[0, 0, METRICS.index("events")] > 1_000_000, "a long run: millions of events"
    assert out[0, 0, METRICS.index("truncated")] == 0
    assert usd[0, 0, -1].sum() > 0, "the last year is simulated"
    # The outputs grow with the horizon (1000 x 14 doubles); the state must not. 64 MiB is far
    # below what millions of retained events or processes would take.
    assert grown_mib < 64, f"peak memory grew by {grown_mib:.0f} MiB over a 1000-year run"


@pytest.mark.parametrize("sizes", [[1], [7, 3, 20], [63, 1], [64]])
def test_chunked_runs_are_bit_identical_to_one_call(default_plain, sizes):
    run = compile_config(default_plain)
    whole_usd, whole_out = kernel.run_kernel(run)
    usd, out = runner._run_numba_chunked(run, numba.get_num_threads(), sizes=sizes, stream=io.StringIO())
    assert np.array_equal(whole_usd, usd) and np.array_equal(whole_out, out)


def test_a_long_run_reports_progress_lines_when_stderr_is_not_a_terminal(default_plain, monkeypatch):
    monkeypatch.setattr(runner, "LONG_RUN_S", 0.0)  # every run counts as long
    run = compile_config(default_plain)
    stream = io.StringIO()
    usd, out = runner._run_numba_chunked(run, numba.get_num_threads(), stream=stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2, lines
    assert re.fullmatch(r"lora-tco: \d+ / 64 replications \(\d+%\), [\d,]+ replications/s, ETA \S+", lines[0]), lines[0]
    assert re.fullmatch(r"lora-tco: 64 / 64 replications in \S+ \([\d,]+ replications/s\)", lines[-1]), lines[-1]
    whole_usd, whole_out = kernel.run_kernel(run)
    assert np.array_equal(whole_usd, usd) and np.array_equal(whole_out, out)


def test_short_runs_show_no_progress(capfd):
    cfg = load_config(["replications=64", "horizon_years=3"])
    simulate(cfg, progress=True)
    simulate(load_config(["replications=3", "horizon_years=1", "engine=simpy"]), progress=True)
    err = [line for line in capfd.readouterr().err.splitlines() if "compiling the numba engine" not in line]  # a cold cache says so once
    assert err == []


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere():
    terminal, log = _Terminal(), io.StringIO()
    for stream in (terminal, log):
        with Progress(1000, stream=stream) as report:
            assert not report.maybe_start(10, min_elapsed=0.5)  # too early to tell
            report.start(10)
            report.update(1000)
    assert "rep" in terminal.getvalue() and "\r" in terminal.getvalue()  # tqdm redraws one line
    assert log.getvalue().splitlines()[0].startswith("lora-tco: 10 / 1,000 replications (1%)")
    assert log.getvalue().splitlines()[-1].startswith("lora-tco: 1,000 / 1,000 replications in ")
    stopped = io.StringIO()
    with Progress(1000, stream=stopped) as report:  # stopped early: no line claims it finished
        report.start(10)
        report.update(500)
    assert len(stopped.getvalue().splitlines()) == 1 and " replications in " not in stopped.getvalue()
