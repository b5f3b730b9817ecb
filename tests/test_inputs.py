"""The input-uncertainty layer: independent keyed draws, Latin hypercube, Iman-Conover
rank correlation, and explicit uniforms passed to ``compile_config``.

Every test is seeded, so it is deterministic; the statistical tolerances are set
so that the false-alarm rate *over seeds* is stated where a tolerance is used.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from scipy import stats

from models.compile import MV, SV, compile_config
from models.inputs import iman_conover, independent_uniforms
from sim import load_config, simulate
from sim.core.rng import Stream, keyed_uniforms, stable_id
from sim.run.config import to_plain, validate
from tests.scenarios import config, exponential, operating_model

ON_DEMAND, RESERVED, SPOT = (f"scenario.gpu_{tier}_usd_per_hour" for tier in ("on_demand", "reserved", "spot"))
BASE_FTE = "operating_model.platform.base_fte"
# rho 0.7 and -0.5 on two pairs; the third pair of the group is targeted at 0.
TARGETS = {(RESERVED, ON_DEMAND): 0.7, (RESERVED, SPOT): -0.5, (ON_DEMAND, SPOT): 0.0}


def _correlations(targets: dict[tuple[str, str], float]) -> list[dict]:
    return [{"between": list(pair), "rho": rho} for pair, rho in targets.items() if rho != 0.0]


def gpu_config(replications: int, sampling: str = "independent", targets: dict | None = None, seed: int = 11) -> dict:
    """Three uncertain GPU prices, one operating model with an uncertain FTE, nothing else uncertain."""
    model = operating_model(platform__base_fte={"dist": "uniform", "min": 0.5, "max": 1.0}, platform__max_fte=2.0)
    cfg = config(
        {"team": model},
        replications=replications,
        seed=seed,
        gpu_reserved_usd_per_hour={"dist": "pert", "min": 1.7, "mode": 2.35, "max": 3.9},
        gpu_on_demand_usd_per_hour={"dist": "lognormal", "median": 3.0, "sigma": 0.4},
        gpu_spot_usd_per_hour={"dist": "uniform", "min": 1.5, "max": 2.5},
    )
    cfg["inputs"] = {"sampling": sampling, "rank_correlations": _correlations(targets or {})}
    return validate(cfg)


def _column(run, key: str) -> np.ndarray:
    return run.uniforms[:, list(run.input_keys).index(key)]


def test_input_keys_are_draw_keys_in_schema_order():
    run = compile_config(gpu_config(5))
    assert list(run.input_keys) == [RESERVED, ON_DEMAND, SPOT, BASE_FTE]  # schema order, not config order
    assert run.input_paths[BASE_FTE] == ("operating_model.team.platform.base_fte",)
    assert run.input_keys[BASE_FTE] == run.inputs["operating_model.team.platform.base_fte"]
    assert run.uniforms.shape == (5, 4)


def test_independent_sampling_is_exactly_the_keyed_uniform_draw():
    cfg = to_plain(load_config(["replications=50", "operating_model=[self_managed_lora,managed_adapter_serving]"]))
    run = compile_config(cfg)
    reps = np.arange(50, dtype=np.int64)
    for key, dist in run.input_keys.items():
        u = keyed_uniforms(cfg["seed"], reps, Stream.INPUT, stable_id(key), 0)
        assert np.array_equal(_column(run, key), u), key
        if key.startswith("scenario."):
            assert np.array_equal(run.scenario_values[:, SV[key.removeprefix("scenario.")]], dist.ppf(u)), key
    for path, dist in run.inputs.items():
        if path.startswith("operating_model."):
            _, model, name = path.split(".", 2)
            u = keyed_uniforms(cfg["seed"], reps, Stream.INPUT, stable_id(f"operating_model.{name}"), 0)
            assert np.array_equal(run.model_values[run.model_names.index(model), :, MV[name]], dist.ppf(u)), path
    # A config without an ``inputs`` section (built by hand before it existed) means the same.
    legacy = copy.deepcopy(cfg)
    del legacy["inputs"]
    old = compile_config(legacy)
    assert np.array_equal(old.scenario_values, run.scenario_values) and np.array_equal(old.model_values, run.model_values)


@pytest.mark.parametrize("replications", [1, 7, 1000])
def test_lhs_puts_exactly_one_value_in_each_stratum(replications):
    run = compile_config(gpu_config(replications, "lhs"))
    strata = np.floor(run.uniforms * replications).astype(int)
    for j, key in enumerate(run.input_keys):
        assert np.array_equal(np.sort(strata[:, j]), np.arange(replications)), key
    assert np.all((run.uniforms > 0) & (run.uniforms < 1))
    if replications > 1:  # each key has its own permutation of the strata
        assert len({tuple(strata[:, j]) for j in range(strata.shape[1])}) == strata.shape[1]


@pytest.mark.parametrize("sampling", ["independent", "lhs"])
def test_iman_conover_reaches_the_target_rank_correlation_and_keeps_the_marginals(sampling):
    r = 4000
    plain = compile_config(gpu_config(r, sampling))
    run = compile_config(gpu_config(r, sampling, TARGETS))
    for (a, b), rho in TARGETS.items():
        achieved = stats.spearmanr(_column(run, a), _column(run, b)).statistic
        # SE of a sample Spearman coefficient of a random sample, (1 - rho^2) / sqrt(R - 1); Iman-Conover
        # fixes the scores' correlation exactly, so its spread is smaller still (about 0.4 SE over 60
        # seeds). 4 SE: false-alarm rate below 6.4e-5 per pair under the normal approximation.
        se = (1 - rho**2) / np.sqrt(r - 1)
        assert abs(achieved - rho) < 4 * se, f"{a} ~ {b}: Spearman {achieved:.4f}, target {rho} (4 SE = {4 * se:.4f})"
    for key in run.input_keys:  # reordered, never redrawn
        assert np.array_equal(np.sort(_column(run, key)), np.sort(_column(plain, key))), key
    # Inputs outside the correlation group keep their draws row by row.
    assert np.array_equal(_column(run, BASE_FTE), _column(plain, BASE_FTE))
    values = run.scenario_values[:, SV["gpu_on_demand_usd_per_hour"]]
    assert np.array_equal(np.sort(values), np.sort(plain.scenario_values[:, SV["gpu_on_demand_usd_per_hour"]]))


def test_separate_correlation_groups_do_not_disturb_each_other():
    one = compile_config(gpu_config(500, "lhs", {(RESERVED, ON_DEMAND): 0.6}))
    two = compile_config(gpu_config(500, "lhs", {(RESERVED, ON_DEMAND): 0.6, (SPOT, BASE_FTE): -0.4}))
    for key in (RESERVED, ON_DEMAND):
        assert np.array_equal(_column(one, key), _column(two, key)), key


def test_iman_conover_permutes_each_column():
    u = np.column_stack([independent_uniforms(3, np.arange(200), key) for key in ("x", "y")])
    out = iman_conover(u, np.array([[1.0, -0.8], [-0.8, 1.0]]), 3, ["x", "y"])
    assert np.array_equal(np.sort(out, axis=0), np.sort(u, axis=0))
    assert stats.spearmanr(out).statistic < -0.6


def test_a_shard_gets_exactly_its_rows_of_the_whole_design():
    cfg = gpu_config(20, "lhs", TARGETS)
    whole = compile_config(cfg)
    rows = [3, 7, 11]
    shard = compile_config(cfg, np.array(rows))
    assert np.array_equal(shard.uniforms, whole.uniforms[rows])
    assert np.array_equal(shard.scenario_values, whole.scenario_values[rows])
    assert np.array_equal(shard.model_values, whole.model_values[:, rows])
    with pytest.raises(ValueError, match=r"range\(20\)"):
        compile_config(cfg, np.array([3, 20]))


@pytest.mark.parametrize("replications", [1, 2, 3])
def test_tiny_runs_with_correlations_compile_quietly(replications):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = compile_config(gpu_config(replications, "lhs", TARGETS))
    assert np.all(np.isfinite(run.scenario_values))


def test_explicit_uniforms_fix_an_input_in_every_row():
    cfg = gpu_config(30, "lhs", TARGETS)
    free = compile_config(cfg)
    fixed = compile_config(cfg, input_uniforms={ON_DEMAND: np.full(30, 0.1), BASE_FTE: np.full(30, 0.9)})
    dist = fixed.input_keys[ON_DEMAND]
    assert np.array_equal(fixed.scenario_values[:, SV["gpu_on_demand_usd_per_hour"]], np.full(30, dist.ppf(np.array([0.1]))[0]))
    fte = fixed.model_values[0, :, MV["platform.base_fte"]]
    assert np.array_equal(fte, np.full(30, fixed.input_keys[BASE_FTE].ppf(np.array([0.9]))[0]))
    for key in (RESERVED, SPOT):  # the others keep their configured draws
        assert np.array_equal(_column(fixed, key), _column(free, key)), key
    # A shard passes one value per compiled row.
    shard = compile_config(cfg, np.array([4, 5]), input_uniforms={SPOT: np.array([0.25, 0.75])})
    assert np.array_equal(_column(shard, SPOT), [0.25, 0.75])


def test_explicit_uniforms_are_shared_by_the_models_that_share_the_key():
    cfg = gpu_config(8)
    cfg["operating_model"]["other"] = copy.deepcopy(cfg["operating_model"]["team"])
    cfg["operating_model"]["other"]["platform"]["base_fte"] = {"dist": "uniform", "min": 0.2, "max": 0.4}
    run = compile_config(validate(cfg), input_uniforms={BASE_FTE: np.full(8, 0.5)})
    np.testing.assert_allclose(run.model_values[:, :, MV["platform.base_fte"]], [[0.75] * 8, [0.3] * 8], rtol=1e-15)
    assert run.input_paths[BASE_FTE] == ("operating_model.team.platform.base_fte", "operating_model.other.platform.base_fte")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"scenario.storage_usd_per_gb_month": np.full(6, 0.5)}, "not an uncertain input"),
        ({"operating_model.team.platform.base_fte": np.full(6, 0.5)}, "without the model name: operating_model.platform.base_fte"),
        ({ON_DEMAND: np.full(5, 0.5)}, r"expected \(6,\)"),
        ({ON_DEMAND: np.full((6, 1), 0.5)}, r"expected \(6,\)"),
        ({ON_DEMAND: np.r_[np.full(5, 0.5), 1.0]}, r"open interval \(0, 1\)"),
        ({ON_DEMAND: np.r_[np.full(5, 0.5), np.nan]}, r"open interval \(0, 1\)"),
    ],
)
def test_bad_explicit_uniforms_raise(given, message):
    with pytest.raises(ValueError, match=message):
        compile_config(gpu_config(6), input_uniforms=given)


def test_inputs_overrides_compose_through_hydra():
    pairs = f"[{{between:[{ON_DEMAND},{RESERVED}],rho:0.6}}]"
    cfg = to_plain(load_config(["replications=40", "inputs.sampling=lhs", f"inputs.rank_correlations={pairs}"]))
    assert cfg["inputs"] == {"sampling": "lhs", "rank_correlations": [{"between": [ON_DEMAND, RESERVED], "rho": 0.6}]}
    assert to_plain(load_config([]))["inputs"] == {"sampling": "independent", "rank_correlations": []}
    run = compile_config(cfg)
    assert stats.spearmanr(_column(run, ON_DEMAND), _column(run, RESERVED)).statistic > 0.3


def test_simulate_end_to_end_with_lhs_and_correlation():
    model = operating_model(
        training__gpu_hours={"family": "exponential", "mean": {"dist": "uniform", "min": 1.0, "max": 3.0}, "cv": 1.0},
        training__data_prep_hours=exponential(2.0),
        gpu_pool__reserved=1,
        gpu_pool__burst_max=2,
    )
    cfg = config(
        {"team": model},
        replications=12,
        seed=5,
        adapters=2,
        engineers=1,
        refresh_interval_days=60,
        engineer_loaded_annual_usd={"dist": "uniform", "min": 150000, "max": 250000},
        gpu_reserved_usd_per_hour={"dist": "uniform", "min": 1.5, "max": 3.0},
        gpu_on_demand_usd_per_hour={"dist": "uniform", "min": 2.0, "max": 6.0},
    )
    gpu_hours = "operating_model.training.gpu_hours.mean"
    cfg["inputs"] = {
        "sampling": "lhs",
        "rank_correlations": [{"between": [RESERVED, ON_DEMAND], "rho": 0.8}, {"between": [gpu_hours, ON_DEMAND], "rho": -0.3}],
    }
    whole = simulate(cfg)
    assert whole.costs.shape[:2] == (1, 12) and np.all(np.isfinite(whole.costs))
    assert whole.totals()[0].std() > 0
    merged = np.concatenate([simulate(cfg, replications=r).costs for r in ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9, 10, 11])], axis=1)
    assert np.array_equal(merged, whole.costs)
    # The hook reaches the engine: a GPU price fixed at its 90th percentile in every row.
    fixed = simulate(cfg, input_uniforms={ON_DEMAND: np.full(12, 0.9), RESERVED: np.full(12, 0.9)})
    assert not np.array_equal(fixed.costs, whole.costs)
