"""The reference engine against queueing theory and Poisson counts.

Setting (design §2): drift detected at once, no scheduled refresh, training only,
exponential training work. Each adapter is then a "machine" that breaks (drifts)
at rate lambda while fresh and is repaired (retrained) by c GPUs at rate mu: the
finite-source queue M/M/c//N. Instead of comparing a finite run with the
stationary formula (which would need a warm-up excuse), the expected value over
exactly the simulated horizon, starting with every adapter fresh, is computed
from the chain's generator with a matrix exponential (Van Loan), so the only
difference left is Monte Carlo error.

Tolerances: |simulated mean - theory| <= 4 standard errors of the Monte Carlo
mean. Two-sided false-alarm rate per check ~6e-5 (normal approximation).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.linalg import expm

from sim import simulate
from sim.core.ledger import DAYS_PER_YEAR
from tests.scenarios import config, exponential, gpu_queue_model, operating_model

Z = 4.0  # standard errors


def machine_repair_generator(n: int, c: int, lam: float, mu: float) -> np.ndarray:
    """Generator of the number of broken machines in M/M/c//N (rates per day)."""
    q = np.zeros((n + 1, n + 1))
    for k in range(n + 1):
        if k < n:
            q[k, k + 1] = (n - k) * lam
        if k > 0:
            q[k, k - 1] = min(k, c) * mu
        q[k, k] = -q[k].sum()
    return q


def expected_occupancy(q: np.ndarray, horizon: float) -> np.ndarray:
    """Expected days spent in each state over [0, horizon] from state 0 (Van Loan)."""
    k = q.shape[0]
    block = np.zeros((2 * k, 2 * k))
    block[:k, :k] = q * horizon
    block[:k, k:] = np.eye(k) * horizon
    return expm(block)[:k, k:][0]


def stationary_machine_repair(n: int, c: int, lam: float, mu: float) -> np.ndarray:
    p = np.ones(n + 1)
    for k in range(n):
        p[k + 1] = p[k] * (n - k) * lam / (min(k + 1, c) * mu)
    return p / p.sum()


def erlang_c_queue_length(c: int, offered: float) -> float:
    """Mean queue length L_q of M/M/c with offered load ``offered`` = lambda/mu."""
    rho = offered / c
    top = offered**c / math.factorial(c) / (1 - rho)
    wait_probability = top / (sum(offered**k / math.factorial(k) for k in range(c)) + top)
    return wait_probability * rho / (1 - rho)


def assert_within(samples: np.ndarray, expected: float, what: str) -> None:
    se = samples.std(ddof=1) / math.sqrt(samples.size)
    assert se > 0, f"{what}: no variation, the test would be vacuous"
    assert abs(samples.mean() - expected) <= Z * se, f"{what}: simulated {samples.mean():.5g} vs theory {expected:.5g} (SE {se:.3g})"


def run_machine_repair(adapters: int, gpus: int, lam_per_day: float, mu_per_day: float, years: int, reps: int, seed: int, engine: str):
    cfg = config(
        {"pool": gpu_queue_model(gpus, 24.0 / mu_per_day)},
        replications=reps,
        horizon_years=years,
        seed=seed,
        adapters=adapters,
        refresh_interval_days=0,
        drift_rate_per_adapter_year=lam_per_day * DAYS_PER_YEAR,
        engineers=1,
        engine=engine,
    )
    return simulate(cfg).metrics


def test_machine_repair_matches_finite_horizon_theory(engine):
    n, c, lam, mu, years = 6, 2, 0.1, 0.5, 1
    metrics = run_machine_repair(n, c, lam, mu, years, reps=300, seed=11, engine=engine)
    horizon = years * DAYS_PER_YEAR
    occupancy = expected_occupancy(machine_repair_generator(n, c, lam, mu), horizon)
    k = np.arange(n + 1)
    assert_within(metrics["stale_adapter_days"].to_numpy(), occupancy @ k, "stale adapter-days")
    assert_within(metrics["gpu_queue_mean"].to_numpy(), occupancy @ np.maximum(k - c, 0) / horizon, "mean GPU queue")
    assert_within(metrics["gpu_busy_mean"].to_numpy(), occupancy @ np.minimum(k, c) / horizon, "mean busy GPUs")


def test_machine_repair_stationary_formula_is_reached_on_long_runs(engine):
    """Closed-form stationary M/M/c//N vs a long run: finite-horizon theory bridges them."""
    n, c, lam, mu = 6, 2, 0.1, 0.5
    p = stationary_machine_repair(n, c, lam, mu)
    occupancy = expected_occupancy(machine_repair_generator(n, c, lam, mu), 20 * DAYS_PER_YEAR)
    k = np.arange(n + 1)
    # Pure theory: after 20 years the start-empty bias is below 0.1 % of the stationary value.
    assert abs(occupancy @ k / (20 * DAYS_PER_YEAR) - p @ k) < 1e-3 * (p @ k)
    metrics = run_machine_repair(n, c, lam, mu, years=20, reps=40, seed=12, engine=engine)
    assert_within(metrics["stale_adapter_days"].to_numpy() / (20 * DAYS_PER_YEAR), occupancy @ k / (20 * DAYS_PER_YEAR), "stale adapters")


def test_many_adapters_at_small_rate_approach_erlang_c(engine):
    n, c, total_rate, mu, years = 1000, 2, 0.5, 0.5, 10
    lam = total_rate / n
    erlang = erlang_c_queue_length(c, total_rate / mu)
    # Theory: the finite-source queue approaches Erlang-C as N grows with N*lambda fixed.
    gaps = [
        abs(stationary_machine_repair(m, c, total_rate / m, mu) @ np.maximum(np.arange(m + 1) - c, 0) - erlang) for m in (100, 400, 1000)
    ]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.015 * erlang
    horizon = years * DAYS_PER_YEAR
    occupancy = expected_occupancy(machine_repair_generator(n, c, lam, mu), horizon)
    exact = occupancy @ np.maximum(np.arange(n + 1) - c, 0) / horizon
    assert abs(exact - erlang) < 0.02 * erlang
    metrics = run_machine_repair(n, c, lam, mu, years, reps=60, seed=13, engine=engine)
    assert_within(metrics["gpu_queue_mean"].to_numpy(), exact, "mean GPU queue, N = 1000")


@pytest.mark.parametrize(
    ("metric", "scenario", "expected_per_year"),
    [
        ("drift_events", {"drift_rate_per_adapter_year": 3.0, "adapters": 4}, 12.0),
        ("base_model_releases", {"base_model_releases_per_year": 2.5}, 2.5),
        ("incidents", {"incident_rate_per_deployment_year": 5.0, "adapters": 3}, 15.0),
    ],
)
def test_poisson_counts_match_their_rates(metric, scenario, expected_per_year, engine):
    years, reps = 2, 400
    model = operating_model(serving__owner="vendor", oncall__mttr_hours=exponential(2.0))
    cfg = config({"m": model}, replications=reps, horizon_years=years, seed=21, refresh_interval_days=0, engine=engine, **scenario)
    counts = simulate(cfg).metrics[metric].to_numpy()
    mean = expected_per_year * years
    assert abs(counts.mean() - mean) <= Z * math.sqrt(mean / reps), f"{metric}: mean {counts.mean()} vs {mean}"
    # Dispersion: (R - 1) s^2 / mean ~ chi2(R - 1) for Poisson counts; two-sided, alpha = 1e-4.
    statistic = (reps - 1) * counts.var(ddof=1) / mean
    p_value = 2 * min(stats.chi2.cdf(statistic, reps - 1), stats.chi2.sf(statistic, reps - 1))
    assert p_value > 1e-4, f"{metric}: dispersion index {counts.var(ddof=1) / mean:.3f}, p = {p_value:.2e}"
    # Counts are integers and vary: the check above is not vacuous.
    assert np.all(counts == np.round(counts)) and counts.std() > 0
