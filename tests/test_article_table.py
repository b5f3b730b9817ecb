"""The article's relative annual TCO index, reproduced: sim.analysis.article_table and the script
experiments/article_table.py (not part of an installed package, so loaded from its file)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "experiments" / "article_table.py"
SEED = 4242
SIZE = {"replications": 200, "horizon_years": 2, "seed": SEED, "engine": "numba"}


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("article_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def at() -> ModuleType:
    import sim.analysis.article_table

    return sim.analysis.article_table


@pytest.fixture(scope="module")
def table(at) -> pd.DataFrame:
    return at.article_table(**SIZE)


def _index(table: pd.DataFrame, model: str) -> pd.DataFrame:
    """Index by (adapters, refresh interval) for one model."""
    return table[table.operating_model == model].set_index(["adapters", "refresh_interval_days"])


def test_six_scenarios_per_model_in_the_articles_order(at, table):
    assert len(table) == 6 * len(at.DEFAULT_MODELS)
    sub = table[table.operating_model == at.PRIMARY_MODEL]
    assert len(sub) == 6
    assert list(zip(sub.adapters, sub.refresh_interval_days, strict=True)) == [(1, 90), (1, 30), (5, 90), (5, 30), (10, 90), (10, 30)]
    assert sub.article_index.isna().tolist() == [False, False, False, False, True, False]  # no 10-adapter quarterly row
    assert sub.article_training_runs.dropna().tolist() == [4, 12, 20, 60, 120]


def test_baseline_is_exactly_one_with_a_zero_width_interval(at, table):
    base = table[(table.adapters == 1) & (table.refresh_interval_days == 90)]
    assert len(base) == len(at.DEFAULT_MODELS)
    assert (base["index"] == 1.0).all()
    assert (base.index_ci_low == 1.0).all() and (base.index_ci_high == 1.0).all()


def test_interval_contains_the_index(table):
    assert (table.index_ci_low <= table["index"]).all() and (table["index"] <= table.index_ci_high).all()
    assert (table.index_ci_high - table.index_ci_low >= 0).all()


@pytest.mark.parametrize("model", ["self_managed_lora", "managed_finetune", "managed_adapter_serving"])
def test_index_and_runs_grow_with_adapters_and_cadence(table, model):
    # Structural, for every operating model: more adapters add platform FTE and refreshes,
    # a shorter interval adds scheduled refreshes. Magnitudes are not asserted: the
    # article's multipliers are illustrative.
    sub = _index(table, model)
    for column in ("index", "training_runs_per_year"):
        for interval in (90, 30):
            values = [sub.loc[(a, interval), column] for a in (1, 5, 10)]
            assert values[0] < values[1] < values[2], (model, column, interval, values)
        for adapters in (1, 5, 10):
            assert sub.loc[(adapters, 30), column] > sub.loc[(adapters, 90), column], (model, column, adapters)


def test_explanation_is_computed_from_the_table(at, table):
    lines = at.explain(table)
    base = _index(table, at.PRIMARY_MODEL).loc[(1, 90)]
    assert f"{base.fixed_usd_per_year / base.annual_tco_mean:.0%}" in lines[1]
    assert f"{base.training_runs_per_year:.1f} training attempts" in " ".join(lines)
    assert any(line.startswith("managed_finetune:") for line in lines)


def test_bootstrap_table_agrees_with_the_delta_method(at, table):
    boot = at.article_table(**SIZE, models=("self_managed_lora",), ci="bootstrap", bootstrap_samples=500)
    delta = table[table.operating_model == "self_managed_lora"].reset_index(drop=True)
    assert (boot.ci_method == "bootstrap").all()
    assert np.allclose(boot["index"], delta["index"])  # same seed, same simulation
    assert boot.loc[0, ["index", "index_ci_low", "index_ci_high"]].tolist() == [1.0, 1.0, 1.0]
    width_boot = (boot.index_ci_high - boot.index_ci_low)[1:]
    width_delta = (delta.index_ci_high - delta.index_ci_low)[1:]
    assert np.allclose(width_boot, width_delta, rtol=0.35)


def test_main_writes_the_csv_with_the_seed(at, tmp_path, capsys):
    out = tmp_path / "sub" / "article_table.csv"
    argv = ["--replications", "200", "--horizon-years", "2", "--seed", str(SEED), "--models", "self_managed_lora", "--output", str(out)]
    assert _load().main(argv) == 0
    printed = capsys.readouterr().out
    assert f"seed {SEED}" in printed and "~22x" in printed and "—" in printed
    written = pd.read_csv(out)
    assert len(written) == 6 and (written.seed == SEED).all()
    assert not list(out.parent.glob(".*.tmp")), "temporary file left behind"


def test_main_rejects_bad_overrides(at, capsys):
    assert _load().main(["--replications", "10", "scenario.regulated_share=1.5"]) == 2
    assert "scenario.regulated_share" in capsys.readouterr().err


# -- the ratio intervals on synthetic paired data ----------------------------------------------


def _paired(n: int, rho: float, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shared, own = rng.normal(size=n), rng.normal(size=n)
    y = 100 + 10 * shared
    x = 250 + 25 * (rho * shared + np.sqrt(1 - rho**2) * own)
    return x, y


def test_delta_and_bootstrap_intervals_agree_and_use_the_covariance(at):
    x, y = _paired(4000, rho=0.9)
    ratio, low, high = at.ratio_ci_delta(x, y)
    boot = at.ratio_ci_bootstrap(x[None, :], y, seed=SEED, samples=2000)[0]
    assert boot[0] == pytest.approx(ratio)
    assert (boot[2] - boot[1]) == pytest.approx(high - low, rel=0.15)
    # ignoring the positive covariance would give a much wider interval
    se_independent = ratio * np.sqrt(x.var(ddof=1) / x.mean() ** 2 / x.size + y.var(ddof=1) / y.mean() ** 2 / y.size)
    assert (high - low) < 0.6 * (2 * 1.96 * se_independent)


def test_intervals_of_a_series_against_itself_have_zero_width(at):
    _, y = _paired(500, rho=0.5)
    assert at.ratio_ci_delta(y, y) == (1.0, 1.0, 1.0)
    assert at.ratio_ci_bootstrap(y[None, :], y, seed=SEED, samples=300)[0].tolist() == [1.0, 1.0, 1.0]


def test_bootstrap_is_reproducible_from_the_seed(at):
    x, y = _paired(300, rho=0.5)
    a = at.ratio_ci_bootstrap(x[None, :], y, seed=SEED, samples=400)
    b = at.ratio_ci_bootstrap(x[None, :], y, seed=SEED, samples=400)
    c = at.ratio_ci_bootstrap(x[None, :], y, seed=SEED + 1, samples=400)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
