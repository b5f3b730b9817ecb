"""Common random numbers: the world is identical across operating models, and results
do not depend on how replications are split."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from models.compile import MV, SV, compile_config
from sim import load_config, simulate, trace
from sim.run.config import to_plain

WORLD_EVENTS = ("drift", "base_model_release")


@pytest.fixture(scope="module")
def default_plain() -> dict:
    cfg = to_plain(load_config(["replications=6", "horizon_years=2"]))
    return cfg


def test_world_events_are_identical_across_operating_models(default_plain):
    events = trace(default_plain, replication=3)
    world = events[events["event"].isin(WORLD_EVENTS)]
    per_model = [g[["time_days", "event", "entity", "value"]].reset_index(drop=True) for _, g in world.groupby("operating_model")]
    assert len(per_model) == 3 and len(per_model[0]) > 0
    for other in per_model[1:]:
        assert per_model[0].equals(other)
    # ... and a different replication has a different world.
    other_rep = trace(default_plain, replication=4)
    other_world = other_rep[other_rep["event"] == "drift"]["time_days"].to_numpy()
    assert not np.array_equal(other_world, world[world["event"] == "drift"]["time_days"].unique())


def test_uncertain_inputs_are_sampled_once_per_replication_and_shared(default_plain):
    run = compile_config(default_plain)
    drift = run.scenario_values[:, SV["drift_rate_per_adapter_year"]]
    assert np.unique(drift).size == drift.size, "an uncertain input must vary across replications"
    # An uncertain figure shared by two operating models gets the same draw in both.
    cfg = copy.deepcopy(default_plain)
    models = cfg["operating_model"]
    models["managed_adapter_serving"]["platform"]["detection_delay_days"]["mean"] = {"dist": "uniform", "min": 5, "max": 20}
    models["self_managed_lora"]["platform"]["detection_delay_days"]["mean"] = {"dist": "uniform", "min": 10, "max": 40}
    run = compile_config(cfg)
    a = run.model_values[run.model_names.index("self_managed_lora"), :, MV["platform.detection_delay_days.mean"]]
    b = run.model_values[run.model_names.index("managed_adapter_serving"), :, MV["platform.detection_delay_days.mean"]]
    np.testing.assert_allclose((a - 10) / 30, (b - 5) / 15)  # same quantile of each model's own law


def test_identical_operating_models_have_exactly_zero_paired_difference(default_plain):
    cfg = copy.deepcopy(default_plain)
    cfg["operating_model"] = {
        "a": cfg["operating_model"]["self_managed_lora"],
        "b": copy.deepcopy(cfg["operating_model"]["self_managed_lora"]),
    }
    results = simulate(cfg)
    assert np.array_equal(results.costs[0], results.costs[1])
    assert np.array_equal(results.metrics_array[0], results.metrics_array[1])
    paired = results.paired("a", "b")
    assert paired["mean_difference"] == 0.0 and paired["se"] == 0.0
    # every replication is a tie: half a win each, in the paired share and in P(cheapest) alike
    assert paired["p_a_cheaper"] == 0.5
    assert results.summary()["p_cheapest_tco"].tolist() == [0.5, 0.5]
    assert results.totals()[0].std() > 0, "the replications themselves must differ"


def test_shards_merge_into_exactly_the_unsharded_result(default_plain):
    whole = simulate(default_plain)
    shards = [simulate(default_plain, replications=r) for r in ([0, 1, 2], [3, 4], [5])]
    merged = np.concatenate([s.costs for s in shards], axis=1)
    assert np.array_equal(whole.costs, merged)
    assert np.array_equal(whole.metrics_array, np.concatenate([s.metrics_array for s in shards], axis=1))
    # Order does not matter either: a shard of indices [5, 0] gives those two rows exactly.
    assert np.array_equal(simulate(default_plain, replications=[5, 0]).costs, whole.costs[:, [5, 0]])


def test_seed_changes_the_results(default_plain):
    other = copy.deepcopy(default_plain)
    other["seed"] = default_plain["seed"] + 1
    assert not np.array_equal(simulate(default_plain).costs, simulate(other).costs)


def test_paired_comparison_is_tighter_than_unpaired(default_plain):
    cfg = copy.deepcopy(default_plain)
    cfg["replications"] = 40
    results = simulate(cfg)
    paired = results.paired("self_managed_lora", "managed_adapter_serving")
    assert paired["se"] < paired["unpaired_se"]
