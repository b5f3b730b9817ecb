"""Limits: truncation and unstable queues are told, non-finite results are refused, and a run
that cannot fit in memory is refused before anything is allocated.

The memory figures are measured in fresh subprocesses (the peak resident set, reset before
each measured step), so one measurement cannot hide another.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from models.errors import ConfigError
from models.validate import ENGINE_RANGES
from sim import load_config
from sim.core.labels import percent
from sim.core.metrics import METRICS
from sim.outputs import charts as plots
from sim.run import runner
from sim.run.config import to_plain, validate
from sim.run.results import TRUNCATION_LIMIT, SimulationError, check_finite, check_truncation
from sim.run.runner import check_run_memory, estimate_run_memory, memory_estimate, simulate
from tests.scenarios import config, exponential, operating_model

ROOT = Path(__file__).resolve().parents[1]
LINUX = pytest.mark.skipif(sys.platform != "linux", reason="resetting and reading the peak resident set is Linux's")
GB = 10**9
# The estimate is an upper bound. For a stable 10,000-replication run it is at most
# RUN_FACTOR times the measured peak growth of simulate, summary and save (observed 1.6-2.6:
# the allowance for libraries and charts and the runaway reserve are fixed costs such a
# run does not use); for a replication that runs away to the event cap, the engine part is
# at most ENGINE_FACTOR times the measured engine state (observed 1.2 on SimPy, 1.4 on numba).
RUN_FACTOR = 3.0
ENGINE_FACTOR = 1.6


@pytest.fixture(scope="module")
def truncated():
    """Every replication stops at the cap: a refresh every 1e-6 days, the cap at its minimum."""
    cfg = config({"m": operating_model()}, replications=20, refresh_interval_days=1e-6)
    cfg["engine"]["max_events_per_replication"] = 1000
    return simulate(cfg)


@pytest.fixture(scope="module")
def stable():
    return simulate(load_config(["replications=200", "horizon_years=2", "output.progress=false"]))


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# -- told, not hidden ----------------------------------------------------------------------
def test_truncation_is_told_in_the_summary_metadata_and_footnotes(truncated):
    (warning,) = truncated.run_warnings()["m"]
    assert warning == (
        "20 of 20 replications (100.0 %) stopped at the event cap (engine.max_events_per_replication = 1,000); "
        "their costs cover only part of the horizon"
    )
    assert truncated.summary()["warnings"].iloc[0] == warning
    assert json.loads(truncated.metadata()["lora_tco.warnings"]) == {"m": [warning]}
    assert truncated.warnings() == {"m": [warning]}
    assert truncated.truncated_share() == 1.0
    assert "warning: 100.0 % of replications truncated at the event cap" in plots.footnote(truncated)


def test_too_many_truncated_replications_refuse_the_run_unless_allowed(truncated):
    refusal = check_truncation(truncated)
    assert refusal == (
        "lora-tco: 100.0 % of replications (20 of 20) of m stopped at the event cap (engine.max_events_per_replication = 1,000), "
        "more than the 1 % allowed; the results are not a 1-year TCO. Raise engine.max_events_per_replication, fix the input "
        "that makes events explode, or set engine.allow_truncated=true to keep them"
    )
    assert check_truncation(truncated, allow=True) is None
    allowed = dataclasses.replace(truncated, config={**truncated.config, "engine": {**truncated.config["engine"], "allow_truncated": True}})
    assert check_truncation(allowed) is None


def test_the_truncation_limit_is_a_share_of_each_models_replications(stable):
    n = stable.metrics_array.shape[1]
    at_limit = math.floor(TRUNCATION_LIMIT * n)
    for k, refused in ((at_limit, False), (at_limit + 1, True)):
        metrics = stable.metrics_array.copy()
        metrics[1, :k, METRICS.index("truncated")] = 1.0
        flagged = dataclasses.replace(stable, metrics_array=metrics)
        assert (check_truncation(flagged) is not None) == refused
        assert flagged.truncated_share() == k / n
        label = stable.model_labels[1]
        assert (
            f"{k} of {n:,} replications ({percent(k / n, 1)}) stopped at the event cap"
            in flagged.summary().set_index("label").loc[label, "warnings"]
        )
    assert f"of {label} stopped" in check_truncation(flagged)


def test_a_stable_default_run_has_no_run_warnings(stable):
    assert stable.run_warnings() == {name: [] for name in stable.model_names}
    assert stable.short_warnings() == []
    assert check_truncation(stable) is None
    assert "warning" not in plots.footnote(stable)


def test_an_unstable_queue_is_told():
    model = operating_model(training__gpu_hours=exponential(48.0), gpu_pool__reserved=1)  # offered load ~5.5 GPUs on 1
    results = simulate(config({"m": model}, replications=5, adapters=20, drift_rate_per_adapter_year=50.0, refresh_interval_days=0))
    (warning,) = results.run_warnings()["m"]
    assert warning.startswith("the GPU pool queue was unstable in 5 of 5 replications (100.0 %): work was still waiting at the end")
    assert results.summary()["warnings"].iloc[0] == warning
    assert results.short_warnings() == ["GPU pool queue unstable in 100.0 % of replications"]
    assert "GPU pool queue unstable in 100.0 % of replications" in plots.provenance(5, 1, 7, warnings=results.short_warnings())
    assert check_truncation(results) is None  # unstable but not truncated: told, not refused


# -- non-finite results are refused -----------------------------------------------------------
def test_a_cost_that_overflows_is_refused_in_one_line_naming_model_category_and_input(monkeypatch):
    plain = to_plain(load_config(["replications=3", "horizon_years=1", "operating_model=[self_managed_lora]", "output.progress=false"]))
    plain["scenario"]["gpu_on_demand_usd_per_hour"] = 1e308  # past any sensible bound: skip validation to reach the engine
    monkeypatch.setattr(runner, "validate", lambda cfg: cfg)
    with pytest.raises(SimulationError) as caught:
        simulate(plain)
    message = _one_line(str(caught.value))
    assert isinstance(caught.value, ConfigError)  # reported like bad input: one line, exit 2
    assert message.startswith("the simulated results of Self-managed LoRA are not finite numbers: ledger category gpu_training = inf")
    assert "scenario.gpu_on_demand_usd_per_hour = 1e+308" in message
    assert (caught.value.field, caught.value.value) == ("scenario.gpu_on_demand_usd_per_hour", 1e308)


def test_a_metric_that_is_not_finite_is_refused(stable):
    metrics = stable.metrics_array.copy()
    metrics[2, 7, METRICS.index("gpu_utilization")] = np.nan
    with pytest.raises(
        SimulationError, match=r"^the simulated results of .+ are not finite numbers: metric gpu_utilization = nan in replication 7$"
    ):
        check_finite(dataclasses.replace(stable, metrics_array=metrics))
    check_finite(stable)  # finite: nothing to say


# -- configuration ---------------------------------------------------------------------------
def test_the_event_cap_has_a_ceiling_and_allow_truncated_is_a_boolean():
    plain = to_plain(load_config([]))
    assert plain["engine"]["allow_truncated"] is False
    plain["engine"]["max_events_per_replication"] = 10**8
    assert ENGINE_RANGES["max_events_per_replication"] == (1000, 50_000_000)
    with pytest.raises(ConfigError, match=r"^engine\.max_events_per_replication = 100000000: must be an integer in \[1000, "):
        validate(plain)
    plain = to_plain(load_config([]))
    plain["engine"]["allow_truncated"] = "yes"
    with pytest.raises(ConfigError, match=r"^engine\.allow_truncated = 'yes': must be true or false$"):
        validate(plain)


# -- memory guard ----------------------------------------------------------------------------
def _plain(*overrides: str) -> dict:
    return validate(load_config(["engine.threads=1", *overrides]))


def test_the_guard_passes_a_run_that_fits_and_a_machine_that_does_not_say():
    plain = _plain("replications=1000000")
    check_run_memory(plain, available=lambda: None)
    check_run_memory(plain, available=lambda: estimate_run_memory(plain))


def test_too_many_replications_are_refused_with_shards_that_fit():
    plain = _plain("replications=1000000")
    free = 8 * GB
    with pytest.raises(ConfigError) as caught:
        check_run_memory(plain, available=lambda: free)
    message = _one_line(str(caught.value))
    need = float(
        re.match(r"replications = 1000000: this run needs about ([\d.]+) GB of memory \(inputs, costs, ledger and metrics", message)[1]
    )
    assert need == pytest.approx(estimate_run_memory(plain) / GB, rel=0.01)
    assert "and 8 GB is available; split it with shard=0/" in message
    n = int(re.search(r"shard=0/(\d+)", message).group(1))
    assert 1 < n < 1_000_000
    assert memory_estimate(plain, math.ceil(1_000_000 / n)).total <= free  # each suggested shard fits
    assert memory_estimate(plain, math.ceil(1_000_000 / (n - 1))).total > 0.75 * free  # and no fewer would, with margin


def test_an_event_cap_the_memory_cannot_hold_is_refused_with_a_cap_that_fits():
    plain = _plain("replications=1000", "engine.max_events_per_replication=50000000")
    free = 4 * GB
    with pytest.raises(ConfigError) as caught:
        check_run_memory(plain, available=lambda: free)
    message = _one_line(str(caught.value))
    assert message.startswith("engine.max_events_per_replication = 50000000: this run needs about 12.8 GB of memory")
    assert "and 4 GB is available: the engine holds up to 12.5 GB when a replication runs away to the cap" in message
    fits = int(re.search(r"lower engine.max_events_per_replication \(about ([\d,]+) fits\)", message).group(1).replace(",", ""))
    lower = _plain("replications=1000", f"engine.max_events_per_replication={fits}")
    assert estimate_run_memory(lower) <= free


def _timed_command(tmp_path: Path, *overrides: str) -> tuple[subprocess.CompletedProcess, float]:
    tic = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sim", *overrides, f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, time.perf_counter() - tic


@LINUX
def test_a_run_too_large_for_memory_is_refused_in_seconds_with_one_line(tmp_path):
    plain = _plain("replications=100000000")
    if runner.available_memory() is None or runner.available_memory() > estimate_run_memory(plain):
        pytest.skip("this machine could hold a 10^8-replication run")
    done, seconds = _timed_command(tmp_path, "replications=100000000")
    line = _one_line(done.stderr)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(r"replications = 100000000: this run needs about [\d.,]+ [GT]B of memory .* and [\d.,]+ [GMT]B is available", line)
    assert "shard=0/" in line
    assert not (tmp_path / "run").exists()
    # Under 5 s (about 2.5 s on an idle 2-core machine, most of it starting Python and its
    # libraries); on a machine so busy that rejecting a bad value takes longer, within 2 s of that.
    _, bad_input = _timed_command(tmp_path, "replications=0")
    assert seconds < max(5.0, bad_input + 2.0), f"refused after {seconds:.1f} s (a bad value: {bad_input:.1f} s)"


def test_a_shard_is_estimated_for_its_own_block():
    whole = _plain("replications=1000")
    shard = _plain("replications=1000", "shard=2/3")
    assert memory_estimate(shard).replications == 333
    assert estimate_run_memory(shard) == estimate_run_memory(whole, 333) < estimate_run_memory(whole)


_MEASURE = textwrap.dedent(
    """
    import json, sys, tempfile
    from sim import load_config
    from sim.run.config import to_plain
    from sim.run.runner import memory_estimate, simulate

    overrides, warm = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    if warm:  # load the engine on a small stable run first: measure the replication's own state
        simulate(load_config(warm))
    plain = to_plain(load_config(overrides))

    def status(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak restarts from what the process holds now
    before = status("VmRSS:")
    results = simulate(plain)
    results.summary()
    with tempfile.TemporaryDirectory() as folder:
        results.save(folder)
    grown = status("VmHWM:") - before
    need = memory_estimate(plain)
    print(json.dumps({"grown": grown, "total": need.total, "engine": need.threads * need.per_thread,
                      "truncated": float(results.metrics["truncated"].mean())}))
    """
)


def _start(overrides: list[str], warm: list[str] | None = None, threads: int | None = None) -> subprocess.Popen:
    """Measure in a fresh process the peak RSS growth of simulate + summary + save, beside the estimate."""
    env = None if threads is None else {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    return subprocess.Popen(
        [sys.executable, "-c", _MEASURE, json.dumps([*overrides, "output.progress=false"]), json.dumps(warm or [])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _runaway(engine: str, cap: int) -> list[str]:
    # An incident queue that only grows: a million faults a year for three engineers to serve.
    return [
        f"engine={engine}",
        f"engine.max_events_per_replication={cap}",
        "replications=1",
        "operating_model=[self_managed_lora]",
        "scenario.incident_rate_per_deployment_year=1000000",
    ]


RUNAWAYS = {"numba": 1_000_000, "simpy": 200_000}  # events: a few seconds each


@pytest.fixture(scope="module")
def measured() -> dict[str, dict]:
    """The measurements, run side by side (each process's peak is its own)."""
    started = {
        # 10,000 replications x 3 models x 5 years: a 2.1-million-row ledger; a cap far above the
        # ~2,000 events a replication takes keeps the runaway reserve small beside the arrays.
        "run": _start(["replications=10000", "engine.max_events_per_replication=100000"]),
        **{
            engine: _start(_runaway(engine, cap), [f"engine={engine}", "replications=1", "horizon_years=1"], threads=1)
            for engine, cap in RUNAWAYS.items()
        },
    }
    found = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        found[name] = json.loads(out.strip().splitlines()[-1])
    return found


@LINUX
def test_the_estimate_bounds_the_measured_peak_of_a_real_run(measured):
    found = measured["run"]
    assert found["truncated"] == 0
    assert found["grown"] <= found["total"] <= RUN_FACTOR * found["grown"], found


@LINUX
@pytest.mark.parametrize("engine", list(RUNAWAYS))
def test_the_engine_ceiling_bounds_a_runaway_replication(measured, engine):
    found = measured[engine]
    assert found["truncated"] == 1
    assert found["grown"] <= found["engine"] <= ENGINE_FACTOR * found["grown"], found


def test_a_run_stopped_at_the_cap_at_time_zero_is_flagged_on_both_engines_alike():
    """So many adapters that the event cap is reached before simulated time moves: the
    queues' averages are their state at that instant (no division by a zero horizon)."""
    overrides = ["scenario.adapters=20000", "engine.max_events_per_replication=1000", "replications=3", "horizon_years=1"]
    fast = simulate(load_config(overrides), progress=False)
    reference = simulate(load_config([*overrides, "engine=simpy", "engine.max_events_per_replication=1000"]), progress=False)
    truncated = METRICS.index("truncated")
    assert (fast.metrics_array[:, :, truncated] == 1).all()
    assert np.isfinite(fast.metrics_array).all() and np.isfinite(fast.costs).all()
    assert np.array_equal(fast.metrics_array, reference.metrics_array)
    assert np.array_equal(fast.costs, reference.costs)
