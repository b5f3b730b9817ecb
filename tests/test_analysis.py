"""Analysis functions against cases with a known answer.

Statistical tolerances are 4 Monte Carlo standard errors (two-sided false alarm
6e-5 per check under normality) unless stated otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models.distributions import parse_uncertain
from sim import load_config, simulate
from sim.analysis import (
    break_even,
    cost_by_category,
    cost_by_year,
    crossing_interval,
    decision_map,
    one_time_vs_recurring,
    paired_comparison,
    run_to_precision,
    set_parameter,
    sobol_indices,
    summary_statistics,
    sweep,
    tornado,
    uncertain_inputs,
)
from sim.core.ledger import CATEGORIES
from sim.core.metrics import METRICS
from sim.core.stats import cvar
from sim.run.results import Results
from tests.scenarios import config, operating_model

PLATFORM_FEE = 100_000.0  # USD per year, model "platform"
TOKENS_M = 100.0  # million tokens per adapter-month
TOKEN_PRICE = 10.0  # USD per million tokens, model "per_token"
PER_ADAPTER_YEAR = 12 * TOKENS_M * TOKEN_PRICE  # 12,000 USD per adapter-year


def fee_models(fee: object = PLATFORM_FEE) -> dict[str, dict]:
    """A flat platform fee against a per-token fee: the break-even in adapters is
    fee / (12 x tokens x price), in tokens it is fee / (12 x adapters x price)."""
    return {
        "platform": operating_model(platform__vendor_platform_usd_per_year=fee, serving__owner="vendor"),
        "per_token": operating_model(serving__owner="vendor", serving__vendor_usd_per_1m_tokens=TOKEN_PRICE),
    }


def fee_config(fee: object = PLATFORM_FEE, replications: int = 20, **scenario: object) -> dict:
    scenario.setdefault("tokens_per_adapter_month_m", TOKENS_M)
    scenario.setdefault("refresh_interval_days", 0.0)
    return config(fee_models(fee), replications=replications, horizon_years=1, **scenario)


# -- statistics of one sample ------------------------------------------------------
def test_cvar_is_the_mean_of_the_worst_five_percent():
    assert cvar(np.arange(1, 101), 0.95) == pytest.approx(98.0)  # mean of 96..100
    assert cvar(np.array([3.0, 1.0, 2.0]), 0.95) == 3.0  # fewer than 20 values: the maximum


def test_cvar_of_an_exponential_matches_theory():
    """CVaR95 of Exp(1) is 1 + ln 20. The estimator's SE is estimated from 200
    independent batches of 20,000 draws."""
    rng = np.random.default_rng(11)
    batches = np.array([cvar(rng.exponential(1.0, 20_000), 0.95) for _ in range(200)])
    se = batches.std(ddof=1) / math.sqrt(batches.size)
    assert abs(batches.mean() - (1.0 + math.log(20.0))) < 4 * se + 1e-3  # + O(1/n) estimator bias bound


# -- summaries -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def default_results() -> Results:
    return simulate(load_config(["replications=2000", "horizon_years=3"]))


def test_summary_statistics_agree_with_the_totals(default_results):
    frame = summary_statistics(default_results)
    assert len(frame) == 3 * 2 * 2  # models x measures x bases
    totals = default_results.totals("economic", npv=True)
    row = frame.query("operating_model == 'managed_finetune' and measure == 'economic' and basis == 'npv'").iloc[0]
    values = totals[default_results.model_names.index("managed_finetune")]
    assert row["mean"] == pytest.approx(values.mean())
    assert row["p95"] <= row["cvar95"] <= values.max()
    assert row["ci95_low"] < row["mean"] < row["ci95_high"]
    assert set(frame["seed"]) == {default_results.seed}
    summary = default_results.summary()
    assert (summary["tco_cvar95"] >= summary["tco_p95"]).all()


def test_paired_ci_is_narrower_than_unpaired_on_the_default_scenario(default_results):
    """Acceptance: the paired CI is reported beside the unpaired one and is narrower."""
    frame = paired_comparison(default_results)
    assert len(frame) == 3
    assert (frame["se_ratio"] > 1.0).all()
    assert ((frame["ci95_high"] - frame["ci95_low"]) < (frame["unpaired_ci95_high"] - frame["unpaired_ci95_low"])).all()
    one = paired_comparison(default_results, "self_managed_lora", "managed_finetune").iloc[0]
    diff = default_results.totals_frame()["self_managed_lora"] - default_results.totals_frame()["managed_finetune"]
    assert one["mean_difference"] == pytest.approx(diff.mean())
    assert one["p_a_cheaper"] == pytest.approx((diff < 0).mean() + 0.5 * (diff == 0).mean())
    # Results.paired is the same computation (sim.core.stats.paired_difference), number for number.
    paired = default_results.paired("self_managed_lora", "managed_finetune")
    assert paired == {key: one[key] for key in paired}


def _results_with_totals(totals: np.ndarray) -> Results:
    """Results whose TCO per (model, replication) is ``totals``, booked in one category of one year."""
    m, r = totals.shape
    costs = np.zeros((m, r, 1, len(CATEGORIES)))
    costs[..., 0, CATEGORIES.index("vendor_platform")] = totals
    return Results(
        model_names=tuple(f"m{i}" for i in range(m)),
        model_labels=tuple(f"M{i}" for i in range(m)),
        replications=np.arange(r),
        costs=costs,
        metrics_array=np.zeros((m, r, len(METRICS))),
        discount_rates=np.zeros(r),
        seed=1,
        horizon_years=1,
        engine="numba",
    )


def test_ties_count_one_half_in_p_cheapest_and_in_the_paired_p_a_cheaper():
    """The one tie rule (sim.core.stats): a tie is half a win for each side, so with two
    models P(cheapest) of ``a`` equals the paired P(a cheaper), and the shares sum to 1."""
    hand = _results_with_totals(np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0], [5.0, 5.0, 5.0, 1.0]]))
    summary = hand.summary()
    # replication 0: m0 and m1 tie (1/2 each); 1: m0; 2: m1; 3: m2
    assert summary["p_cheapest_tco"].tolist() == [0.375, 0.375, 0.25]
    assert hand.paired("m0", "m1")["p_a_cheaper"] == 0.5  # diffs 0, -1, 1, 0
    assert paired_comparison(hand, "m0", "m1")["p_a_cheaper"].item() == 0.5

    totals = np.random.default_rng(5).integers(0, 4, size=(2, 1000)).astype(float)  # many ties
    two = _results_with_totals(totals)
    p_cheapest = two.summary()["p_cheapest_tco"].to_numpy()
    assert p_cheapest.sum() == 1.0
    assert two.paired("m0", "m1")["p_a_cheaper"] == p_cheapest[0]
    assert paired_comparison(two, "m1", "m0")["p_a_cheaper"].item() == p_cheapest[1]


def test_identical_models_tie_everywhere_on_a_sweep():
    same = operating_model(serving__owner="vendor", serving__vendor_usd_per_1m_tokens=TOKEN_PRICE)
    data = sweep(config({"a": same, "b": same}, replications=10, horizon_years=1, refresh_interval_days=0.0), "scenario.adapters", [1, 2])
    assert break_even(data, "a", "b").curve["p_a_cheaper"].tolist() == [0.5, 0.5]
    assert data.means()["p_cheapest"].tolist() == [0.5] * 4


def test_cost_by_category_sums_to_tco_and_names_who_absorbs_it(default_results):
    frame = cost_by_category(default_results)
    tco = default_results.totals().mean(axis=1)
    for m, name in enumerate(default_results.model_names):
        rows = frame[(frame["operating_model"] == name) & frame["in_tco"]]
        assert rows["mean"].sum() == pytest.approx(tco[m])
        assert rows["share_of_tco"].sum() == pytest.approx(1.0)
    absorbed = dict(zip(frame["category"], frame["absorbed_by"], strict=False))
    assert absorbed["vendor_inference"] == "vendor" and absorbed["labor_oncall"] == "team" and absorbed["downtime"] == "business"


def test_one_time_and_recurring_split_on_a_hand_computed_ledger():
    """Monitoring build 50,000 (one-time, year 0) and 10,000 a year over 3 years."""
    model = operating_model(platform__monitoring_build_usd=50_000.0, platform__monitoring_usd_per_year=10_000.0)
    results = simulate(config({"m": model}, replications=4, horizon_years=3))
    split = one_time_vs_recurring(results).iloc[0]
    assert split["one_time_mean"] == 50_000.0
    assert split["recurring_mean"] == 30_000.0
    assert split["recurring_per_year_mean"] == 10_000.0
    assert split["recurring_share"] == pytest.approx(30 / 80)
    by_year = cost_by_year(results)
    assert by_year["one_time_mean"].tolist() == [50_000.0, 0.0, 0.0]
    assert by_year["recurring_mean"].tolist() == [10_000.0] * 3


def test_results_concat_equals_the_whole_run():
    cfg = load_config(["replications=60", "horizon_years=2"])
    whole = simulate(cfg)
    parts = [simulate(cfg, replications=range(40, 60)), simulate(cfg, replications=range(0, 40))]
    joined = Results.concat(parts)
    assert np.array_equal(joined.replications, whole.replications)
    assert np.array_equal(joined.costs, whole.costs)
    assert np.array_equal(joined.metrics_array, whole.metrics_array)
    assert np.array_equal(joined.one_time_usd, whole.one_time_usd)
    with pytest.raises(ValueError, match="more than one part"):
        Results.concat([whole, parts[0]])


# -- break-even ------------------------------------------------------------------------
def test_crossing_interval_has_its_nominal_coverage():
    """300 synthetic paired curves with a known linear crossing at 6.3 and noise
    shared across grid points (as common random numbers make it): the 90 % interval
    must cover 6.3 in 90 % of them, within 4 binomial SE (0.069; false alarm 6e-5)."""
    rng = np.random.default_rng(2026)
    x = np.arange(11.0)
    trials, covered = 300, 0
    for t in range(trials):
        common = rng.normal(0.0, 3.0, 400)
        d = 2.0 * (x[:, None] - 6.3) + common[None, :] + rng.normal(0.0, 2.0, (11, 400))
        _, low, high = crossing_interval(x, d, confidence=0.90, draws=2000, seed=t)
        covered += low <= 6.3 <= high
    se = math.sqrt(0.9 * 0.1 / trials)
    assert abs(covered / trials - 0.90) < 4 * se


def test_crossing_interval_reports_beyond_the_grid():
    x = np.arange(5.0)
    flat = np.tile(np.linspace(-2.0, -0.1, 5)[:, None], (1, 50)) + np.random.default_rng(3).normal(0, 1, (1, 50))
    crossing, _, high = crossing_interval(x, flat, 0.9)
    assert crossing is None
    assert high == math.inf


def test_break_even_in_adapters_is_exact_for_a_deterministic_cost_structure():
    """Platform fee 100,000 against 12,000 per adapter-year: crossing at 8.33 adapters."""
    data = sweep(fee_config(), "scenario.adapters", list(range(1, 16)))
    result = break_even(data, "per_token", "platform")
    expected = PLATFORM_FEE / PER_ADAPTER_YEAR
    assert result.crossing == pytest.approx(expected, rel=1e-12)
    assert result.ci_low == pytest.approx(expected, rel=1e-12) and result.ci_high == pytest.approx(expected, rel=1e-12)
    assert result.cheaper_below == "per_token" and result.cheaper_above == "platform"
    assert "8.33" in result.describe()
    curve = result.curve
    assert curve.loc[curve["scenario.adapters"] == 8, "p_a_cheaper"].item() == 1.0
    assert curve.loc[curve["scenario.adapters"] == 9, "p_a_cheaper"].item() == 0.0


def test_break_even_ci_covers_the_analytic_crossing_under_uncertainty():
    """The platform fee is uniform(50k, 150k) per replication (mean 100k): the
    crossing of the mean difference in tokens per adapter-month is
    E[fee] / (12 x 5 adapters x price) = 166.7. Checked with a 99.99 % interval
    (false alarm 1e-4; calibration of the interval is the coverage test above)."""
    data = sweep(
        fee_config({"dist": "uniform", "min": 50_000, "max": 150_000}, replications=500, adapters=5),
        "scenario.tokens_per_adapter_month_m",
        [50.0, 100.0, 150.0, 200.0, 250.0, 300.0],
    )
    result = break_even(data, "per_token", "platform", confidence=0.9999, draws=40_000)
    expected = PLATFORM_FEE / (12 * 5 * TOKEN_PRICE)
    assert result.ci_low <= expected <= result.ci_high
    assert result.ci_high - result.ci_low < 40.0  # informative: narrower than the grid step
    assert result.ci_low < result.crossing < result.ci_high


def test_sweep_over_every_operating_model_with_a_wildcard():
    data = sweep(fee_config(), "operating_model.*.serving.vendor_usd_per_1m_tokens", [0.0, 1.0], models=["per_token"])
    assert data.model_names == ("per_token",)
    means = data.means()
    assert means["mean"].tolist() == [0.0, 5 * 12 * TOKENS_M * 1.0]


def test_set_parameter_names_a_bad_path():
    plain = fee_config()
    with pytest.raises(KeyError, match=r"scenario\.adapterz"):
        set_parameter(plain, "scenario.adapterz", 3)
    with pytest.raises(ValueError, match="whole number"):
        set_parameter(plain, "scenario.adapters", 2.5)
    set_parameter(plain, "scenario.adapters", 4.0)
    assert plain["scenario"]["adapters"] == 4 and isinstance(plain["scenario"]["adapters"], int)


def test_decision_map_picks_the_analytic_winner_in_every_cell():
    frame = decision_map(
        fee_config(),
        ("scenario.adapters", [2, 8, 9, 20]),
        ("scenario.tokens_per_adapter_month_m", [50.0, 100.0, 200.0]),
    )
    assert len(frame) == 12
    for _, cell in frame.iterrows():
        per_token = cell["scenario.adapters"] * 12 * cell["scenario.tokens_per_adapter_month_m"] * TOKEN_PRICE
        assert cell["mean_per_token"] == pytest.approx(per_token)
        assert cell["cheapest"] == ("per_token" if per_token < PLATFORM_FEE else "platform")
        assert cell["p_cheapest"] == 1.0
        assert cell["margin"] == pytest.approx(abs(per_token - PLATFORM_FEE))


# -- sensitivity -------------------------------------------------------------------------
ADDITIVE = {
    "platform__monitoring_usd_per_year": {"dist": "uniform", "min": 10_000, "max": 30_000},
    "platform__vendor_platform_usd_per_year": {"dist": "uniform", "min": 0, "max": 40_000},
    "compliance__annual_audit_hours": 0.0,
    "platform__monitoring_build_usd": {"dist": "pert", "min": 0, "mode": 5_000, "max": 30_000},
}


def additive_config(replications: int) -> dict:
    """TCO = monitoring per year + platform fee + monitoring build: a sum of
    independent inputs, so Sobol S1 = ST = variance share and tornado swings are
    differences of quantiles."""
    model = operating_model(**ADDITIVE)
    return config({"m": model}, replications=replications, horizon_years=1)


def test_uncertain_inputs_are_keyed_without_the_model_name():
    keys = uncertain_inputs(additive_config(5))
    assert set(keys) == {
        "operating_model.platform.monitoring_usd_per_year",
        "operating_model.platform.vendor_platform_usd_per_year",
        "operating_model.platform.monitoring_build_usd",
    }


def test_tornado_swings_equal_the_quantile_spread_of_an_additive_model():
    frame = tornado(additive_config(200), "m")
    assert frame["input"].iloc[0] == "operating_model.platform.vendor_platform_usd_per_year"  # widest spread first
    for _, row in frame.iterrows():
        dist = parse_uncertain(row["input"], ADDITIVE[row["input"].split(".", 1)[1].replace(".", "__")])
        spread = dist.ppf(np.array([0.9]))[0] - dist.ppf(np.array([0.1]))[0]
        assert row["swing"] == pytest.approx(spread, rel=1e-9)
        assert row["high_value"] - row["low_value"] == pytest.approx(spread, rel=1e-12)


def test_sobol_indices_of_an_additive_model_match_the_variance_shares():
    """S1_i = ST_i = Var_i / sum Var for a sum of independent inputs; tolerance
    4 SE with SE = SALib's 95 % bootstrap half-width / 1.96."""
    frame = sobol_indices(additive_config(1), "m", base_samples=1024).set_index("input")
    variances = {f"operating_model.{k.replace('__', '.')}": parse_uncertain(k, v).var for k, v in ADDITIVE.items() if isinstance(v, dict)}
    total = sum(variances.values())
    for key, var in variances.items():
        share = var / total
        for index in ("S1", "ST"):
            se = frame.loc[key, f"{index}_conf"] / stats.norm.ppf(0.975)
            assert abs(frame.loc[key, index] - share) < 4 * se + 1e-9, (key, index, frame.loc[key, index], share)


# -- precision control -----------------------------------------------------------------------
def test_run_to_precision_stops_at_the_first_batch_within_target():
    overrides = ["horizon_years=2", "operating_model=[self_managed_lora,managed_finetune]"]
    cfg = load_config(["replications=10", *overrides])
    run = run_to_precision(cfg, target=0.01, batch=200, max_replications=20_000)
    assert run.converged
    last = run.history[run.history["replications"] == run.replications]
    assert (last["relative_half_width"] <= 0.01).all()
    if run.replications > 200:
        before = run.history[run.history["replications"] == run.replications - 200]
        assert (before["relative_half_width"] > 0.01).any()
    assert run.results.costs.shape[1] == run.replications
    whole = simulate(load_config(["replications=20000", *overrides]), replications=range(run.replications))
    assert np.array_equal(whole.costs, run.results.costs)


def test_run_to_precision_gives_up_on_a_difference_of_zero():
    models = {"a": operating_model(platform__monitoring_usd_per_year={"dist": "uniform", "min": 1, "max": 2})}
    models["b"] = models["a"]
    run = run_to_precision(config(models, replications=5), target=0.05, batch=50, max_replications=150)
    assert not run.converged and run.replications == 150
    assert isinstance(run.history, pd.DataFrame) and run.history["replications"].max() == 150
