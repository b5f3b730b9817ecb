"""Engine benchmarks: ratios measured side by side in one run (absolute seconds on a
shared machine are not comparable between runs; ratios are).

    python benchmarks/bench_engines.py            # about three minutes, half of it the cold compile

Rows:
  kernel vs SimPy           per replication, single thread, default scenario
  kernel vs variate floor   kernel time / time to draw the same keyed random variates alone,
                            the way the kernel draws them (these three timed in turn, best of 5);
                            inter-arrival gaps and spot pre-emption times are exponential variates
  2 threads vs 1            kernel speed-up (timed in turn, best of 5), and beside it the same for a
                            pure hashing loop: the scaling this machine's cores give at that moment
  cold compile vs warm      first run on an empty numba cache / the same run with a warm cache
  slope vs horizon          log-log slope of kernel time per replication against horizon_years
  slope vs adapters         log-log slope of kernel time per replication against scenario.adapters
  default lora-tco          wall time of the default command (3 models x 10,000 x 5 years), warm
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable

import numba
import numpy as np
from numba import prange

from models.compile import compile_config
from sim import load_config
from sim.core.jit import cached_njit
from sim.core.rng import EXPONENTIAL, LOGNORMAL, UNIFORM, Stream, event_ppf_shaped, key_prefixes, lognormal_shape, prefixed_uniform
from sim.engines.fast.kernel import N_STREAMS, run_kernel
from sim.engines.reference.replication import Replication
from sim.run.config import to_plain


def plain(*overrides: str) -> dict:
    return to_plain(load_config(list(overrides)))


def best_of(fn, repeat: int = 3) -> float:
    """Fastest of ``repeat`` timings: the least disturbed by other load."""
    return interleaved_best([fn], repeat)[0]


def interleaved_best(fns, rounds: int = 5) -> list[float]:
    """Fastest timing of each function over ``rounds`` rounds that run them in turn, so a
    slow spell of a shared machine falls on all of them, not on one."""
    best = [math.inf] * len(fns)
    for _ in range(rounds):
        for j, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[j] = min(best[j], time.perf_counter() - start)
    return best


def kernel_seconds(cfg: dict, threads: int = 1) -> float:
    run = compile_config(cfg)
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        run_kernel(run)  # compiled / loaded from cache
        return best_of(lambda: run_kernel(run))
    finally:
        numba.set_num_threads(previous)


# streams whose uniform the simulation turns into an exponential variate (-log1p(-u) / rate):
# inter-arrival gaps and spot pre-emption times; the floor draws them as exponentials too
EXPONENTIAL_FROM_UNIFORM = (Stream.DRIFT_GAP, Stream.INCIDENT_GAP, Stream.RELEASE_GAP, Stream.SPOT_PREEMPT)


def simpy_run_and_draws(cfg: dict) -> tuple[Callable[[], None], Counter]:
    """A function running every (model, replication) on SimPy, and the keyed draws it makes, by kind."""
    run = compile_config(cfg)
    draws: Counter = Counter()
    uniform, event = Replication.uniform, Replication.event

    def run_all() -> None:
        for m in range(run.n_models):
            for row in range(run.replications.shape[0]):
                Replication(run, row, m).run_to_horizon()

    def counting_uniform(self, stream, entity, occurrence):
        draws[EXPONENTIAL if stream in EXPONENTIAL_FROM_UNIFORM else "uniform"] += 1
        return uniform(self, stream, entity, occurrence)

    def counting_event(self, stream, entity, occurrence, dist):
        if dist.family != 0 and dist.mean > 0:
            draws[dist.family] += 1
        return event(self, stream, entity, occurrence, dist)

    Replication.uniform, Replication.event = counting_uniform, counting_event
    try:
        run_all()
    finally:
        Replication.uniform, Replication.event = uniform, event
    return run_all, draws


@cached_njit()
def _draw_floor(seed, n_rep, n_entities, n_uniform, n_lognormal, n_exponential, n_uniform_events):
    """Draw, per replication, as many keyed variates of each kind as the simulation does,
    the way the kernel draws them: key prefixes once per replication, then one hash step
    a draw, lognormal shapes precomputed."""
    sigma, half_s2 = lognormal_shape(0.5)
    total = 0.0
    for rep in range(n_rep):
        prefixes = key_prefixes(seed, rep, N_STREAMS, n_entities)
        for k in range(n_uniform):
            total += prefixed_uniform(prefixes[13, k % n_entities], k)
        for k in range(n_lognormal):
            u = prefixed_uniform(prefixes[14, k % n_entities], k)
            total += event_ppf_shaped(LOGNORMAL, 4.0, 0.5, sigma, half_s2, u)
        for k in range(n_exponential):
            u = prefixed_uniform(prefixes[15, k % n_entities], k)
            total += event_ppf_shaped(EXPONENTIAL, 4.0, 1.0, sigma, half_s2, u)
        for k in range(n_uniform_events):
            u = prefixed_uniform(prefixes[16, k % n_entities], k)
            total += event_ppf_shaped(UNIFORM, 4.0, 0.5, sigma, half_s2, u)
    return total


@cached_njit(parallel=True)
def _hashing_loop(n_items, per_item):
    """Embarrassingly parallel keyed hashing: how well this machine itself scales to 2 threads."""
    out = np.zeros(n_items)
    for i in prange(n_items):
        total = 0.0
        for k in range(per_item):
            total += prefixed_uniform(np.uint64(i), k)
        out[i] = total
    return out


def slope(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def command_seconds(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, env=env, capture_output=True, cwd=tempfile.mkdtemp(prefix="lora-tco-bench-"))
    return time.perf_counter() - start


def main() -> None:
    rows: list[tuple[str, str, str]] = []
    machine = f"{os.cpu_count()} cores, numba {numba.__version__}, {sys.platform}"

    def row(name: str, ratio: str, detail: str) -> None:
        # printed as soon as measured, so a later failure keeps the rows already taken
        print(f"  {name}: {ratio} ({detail})", file=sys.stderr, flush=True)
        rows.append((name, ratio, detail))

    # kernel vs SimPy vs the variate floor, single thread, default scenario (3 models x 5 years):
    # timed in turn, best of 5 rounds each
    simpy_reps, kernel_reps = 20, 2000
    simpy_run, draws = simpy_run_and_draws(plain(f"replications={simpy_reps}", "engine=simpy"))
    kernel_run = compile_config(plain(f"replications={kernel_reps}"))
    # the variate floor: per replication, as many keyed draws of each kind as the simulation makes
    per_rep = {k: round(v / (3 * simpy_reps)) for k, v in draws.items()}
    adapters = int(plain()["scenario"]["adapters"])
    kinds = ("uniform", LOGNORMAL, EXPONENTIAL, UNIFORM)
    args = (np.uint64(1), 3 * kernel_reps, adapters, *(per_rep.get(kind, 0) for kind in kinds))
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        run_kernel(kernel_run)  # compiled / loaded from cache
        _draw_floor(*args)
        simpy_s, kernel_s, floor_s = interleaved_best([simpy_run, lambda: run_kernel(kernel_run), lambda: _draw_floor(*args)])
    finally:
        numba.set_num_threads(previous)
    per_simpy, per_kernel = simpy_s / (3 * simpy_reps), kernel_s / (3 * kernel_reps)
    detail = f"{per_kernel * 1e6:,.0f} us vs {per_simpy * 1e6:,.0f} us per replication"
    row("kernel vs SimPy (1 thread)", f"{per_simpy / per_kernel:,.0f}x", detail)
    counts = ", ".join(f"{k if isinstance(k, str) else ['', 'exp', 'lognormal', 'uniform'][k]} {v}" for k, v in per_rep.items())
    row("kernel vs variate floor", f"{kernel_s / floor_s:.2f}x", f"draws per replication: {counts}")

    # threads: 1 and 2 timed in turn, best of 5 each, beside a pure hashing loop that shows how
    # far this machine's second core scales at the same moment (shared virtual cores often do not)
    many = compile_config(plain("replications=6000"))

    def on_threads(n: int, work: Callable[[], object]) -> Callable[[], None]:
        def go() -> None:
            numba.set_num_threads(n)
            work()

        return go

    kernel_work, hashing_work = (lambda: run_kernel(many)), (lambda: _hashing_loop(6000, 100_000))
    try:
        on_threads(2, kernel_work)()
        on_threads(2, hashing_work)()
        one, two, hash_one, hash_two = interleaved_best(
            [on_threads(1, kernel_work), on_threads(2, kernel_work), on_threads(1, hashing_work), on_threads(2, hashing_work)]
        )
    finally:
        numba.set_num_threads(previous)
    row("2 threads vs 1", f"{one / two:.2f}x", f"{one:.2f} s vs {two:.2f} s for 3 x 6,000 replications")
    row("  the machine: hashing loop", f"{hash_one / hash_two:.2f}x", "2 threads vs 1 on a loop with nothing shared, same rounds")

    # cold compile vs warm start, each in a fresh process
    cache = tempfile.mkdtemp(prefix="numba-cache-")
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "MPLBACKEND": "Agg"}
    small = [sys.executable, "-m", "sim", "replications=50", "output.charts=false", "output.print_summary=false"]
    cold = command_seconds(small, env)
    warm = command_seconds(small, env)
    row("cold compile vs warm start", f"{cold / warm:.1f}x", f"{cold:.1f} s vs {warm:.1f} s (whole command, 50 replications)")

    # growth with horizon and adapters (log-log slopes of the time per replication); smaller
    # cases run more replications, so per-call overheads do not flatten the slope
    horizons = [2, 8, 32, 128]
    reps_h = [100 * 128 // h for h in horizons]
    # without traffic growth: compounded over 128 years it asks for more serving replicas than
    # validation allows, and the slope is about the event loop, not the traffic
    flat = "scenario.token_growth_per_year=0"
    times_h = [kernel_seconds(plain(f"replications={r}", f"horizon_years={h}", flat)) / r for h, r in zip(horizons, reps_h, strict=True)]
    row("slope vs horizon", f"{slope(horizons, times_h):.2f}", f"horizon {horizons} years")
    adapters = [5, 20, 80, 320]
    reps_a = [100 * 320 // a for a in adapters]
    times_a = [kernel_seconds(plain(f"replications={r}", f"scenario.adapters={a}")) / r for a, r in zip(adapters, reps_a, strict=True)]
    row("slope vs adapters", f"{slope(adapters, times_a):.2f}", f"adapters {adapters}")

    # the default command, warm cache
    default_s = command_seconds([sys.executable, "-m", "sim"], {**os.environ, "MPLBACKEND": "Agg"})
    row("default lora-tco (warm)", f"{default_s:.1f} s", "3 models x 10,000 replications x 5 years, with outputs and charts")

    width = max(len(r[0]) for r in rows)
    print(f"lora-tco engine benchmarks ({machine})")
    print(f"{'measure':<{width}}  {'ratio':>8}  detail")
    for name, ratio, detail in rows:
        print(f"{name:<{width}}  {ratio:>8}  {detail}")


if __name__ == "__main__":
    main()
