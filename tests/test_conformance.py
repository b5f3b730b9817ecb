"""The fast engine reproduces the SimPy reference replication by replication.

Both engines draw the same keyed random numbers for the same events and break
ties of simultaneous events the same way (SimPy's scheduling order), so the
ledgers and operational metrics must be *equal*, not merely close. The one
exception is the ``events`` metric, which counts each engine's own bookkeeping
events (SimPy also counts its internal no-op events); it is excluded and so is
anything derived from it (nothing is).
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from sim import load_config
from sim.core.ledger import CATEGORIES
from sim.core.metrics import METRICS
from sim.engines.fast.kernel import run_kernel
from sim.engines.reference.replication import run_replication
from sim.run.config import to_plain
from sim.run.runner import compile_run
from tests.scenarios import config, exponential, operating_model
from tests.test_deterministic_ledger import MODELS as DETERMINISTIC_MODELS
from tests.test_deterministic_ledger import SCENARIO as DETERMINISTIC_SCENARIO

COMPARED = [k for k in METRICS if k != "events"]


def default(*overrides: str) -> dict:
    return to_plain(load_config(["replications=12", "horizon_years=3", *overrides]))


def fixed_inputs(cfg: dict) -> dict:
    """Replace every uncertain input of a config by its mean: input uncertainty off."""
    from models.distributions import parse_uncertain

    def walk(node):
        if isinstance(node, dict):
            if "dist" in node:
                return parse_uncertain("x", node).mean
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, str) and re.fullmatch(r"[a-z0-9]+\([^()]*\)", node):
            return parse_uncertain("x", node).mean
        return node

    out = copy.deepcopy(cfg)
    out["scenario"] = walk(out["scenario"])
    out["operating_model"] = walk(out["operating_model"])
    return out


def _scenarios() -> dict[str, dict]:
    heavy_gpu = operating_model(
        training__data_prep_hours=exponential(2.0),
        training__gpu_hours=exponential(40.0),
        training__failure_prob=0.15,
        gpu_pool__reserved=1,
        gpu_pool__burst_max=1,
        evaluation__gpu_hours=exponential(6.0),
        evaluation__failure_prob=0.2,
        base_model__response_probability=1.0,
    )
    reviewers = operating_model(
        training__gpu_hours=exponential(2.0),
        gpu_pool__reserved=4,
        compliance__review_hours={"family": "lognormal", "mean": 30.0, "cv": 0.8},
        compliance__rejection_prob=0.3,
        compliance__rework_hours=exponential(6.0),
        compliance__annual_audit_hours=50.0,
    )
    engineers = operating_model(
        training__data_prep_hours={"family": "lognormal", "mean": 20.0, "cv": 0.7},
        training__gpu_hours=exponential(4.0),
        gpu_pool__reserved=2,
        evaluation__engineer_hours=exponential(8.0),
        oncall__mttr_hours={"family": "lognormal", "mean": 10.0, "cv": 1.0},
        oncall__after_hours_multiplier=1.5,
        promotion__bad_rollout_prob=0.2,
        promotion__rollback_hours=exponential(5.0),
        base_model__response_probability=1.0,
        base_model__migration_hours_per_adapter=6.0,
    )
    contention = {
        "adapters": 12,
        "refresh_interval_days": 20.0,
        "drift_rate_per_adapter_year": 6.0,
        "base_model_releases_per_year": 3.0,
        "incident_rate_per_deployment_year": 30.0,
        "engineers": 2,
        "reviewers": 1,
        "regulated_share": 0.5,
        "engineer_loaded_annual_usd": 200_000.0,
        "reviewer_loaded_annual_usd": 150_000.0,
        "gpu_on_demand_usd_per_hour": 3.0,
        "staleness_usd_per_point_day": 100.0,
        "downtime_usd_per_adapter_hour": 1000.0,
        "drift_quality_drop": {"family": "lognormal", "mean": 1.0, "cv": 0.5},
    }
    return {
        "default scenario, three models, input uncertainty on": default(),
        "default scenario, input uncertainty off": fixed_inputs(default()),
        "ten adapters monthly, regulated, four models": default(
            "experiment=ten_adapters_monthly",
            "operating_model=[self_managed_lora,managed_finetune,managed_adapter_serving,spot_training_managed_serving]",
        ),
        "spot training with preemption, managed serving": default(
            "operating_model=[spot_training_managed_serving]",
            "operating_model.spot_training_managed_serving.gpu_pool.spot_preemptions_per_gpu_hour=2.0",
            "operating_model.spot_training_managed_serving.gpu_pool.burst_max=2",
            "scenario.adapters=8",
        ),
        "heavy GPU contention with bursts of forced retrains": config(
            {"gpu": heavy_gpu}, replications=8, horizon_years=2, seed=31, **{**contention, "engineers": 6}
        ),
        "heavy reviewer contention, every adapter regulated": config(
            {"review": reviewers}, replications=8, horizon_years=2, seed=32, **{**contention, "regulated_share": 1.0, "engineers": 6}
        ),
        "heavy engineer contention, incidents pre-empting pipeline work": config(
            {"eng": engineers}, replications=8, horizon_years=2, seed=33, **contention
        ),
        "deterministic world with simultaneous events (ties)": config(
            DETERMINISTIC_MODELS, replications=2, horizon_years=2, seed=5, **DETERMINISTIC_SCENARIO
        ),
        "existing capacity sampled (choice), serving sized on every GPU class": default(
            "scenario=existing_gpu_platform",
            'scenario.existing_platform_fte="choice(0:0.5,1:0.3,2:0.2)"',
            'scenario.existing_reserved_gpus="choice(0:0.5,1:0.25,3:0.25)"',
            "operating_model=[self_managed_lora,managed_adapter_serving,managed_finetune,spot_training_managed_serving]",
            "operating_model.self_managed_lora.gpu_pool.reserved=2",
            "operating_model.managed_adapter_serving.gpu_pool.reserved=1",
        ),
        "scale to zero and two replicas on other GPU classes": default(
            "scenario=high_traffic",
            "scenario.adapters=7",
            "operating_model=[self_managed_lora,managed_finetune]",
            "operating_model.self_managed_lora.serving.gpu_class=l4",
            "operating_model.self_managed_lora.serving.scale_to_zero=true",
            "operating_model.self_managed_lora.serving.adapters_per_deployment=2",
            "operating_model.managed_finetune.serving.owner=team",
            "operating_model.managed_finetune.serving.gpu_class=a100",
            "operating_model.managed_finetune.serving.min_replicas=2",
            "operating_model.managed_finetune.serving.tokens_per_gpu_hour_m=6",
            "operating_model.managed_finetune.serving.mode=dedicated",
            'scenario.tokens_per_adapter_month_m="choice(1:0.5,600:0.5)"',
        ),
        "overloaded GPU pool (unstable)": config(
            {"gpu": operating_model(training__gpu_hours=exponential(48.0), gpu_pool__reserved=1)},
            replications=4,
            seed=34,
            adapters=20,
            drift_rate_per_adapter_year=50.0,
            refresh_interval_days=0,
        ),
    }


SCENARIOS = _scenarios()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_engines_agree_replication_by_replication(name):
    run, _ = compile_run(SCENARIOS[name])
    usd, out = run_kernel(run)
    compared = [METRICS.index(k) for k in COMPARED]
    activity = 0.0
    for m in range(run.n_models):
        for row in range(run.replications.shape[0]):
            reference = run_replication(run, row, m)
            where = f"{name}: {run.model_names[m]}, replication {int(run.replications[row])}"
            if not np.array_equal(reference.usd, usd[m, row]):
                y, c = np.argwhere(reference.usd != usd[m, row])[0]
                raise AssertionError(f"{where}: {CATEGORIES[c]}[{y}] simpy {reference.usd[y, c]!r} vs numba {usd[m, row, y, c]!r}")
            expected = np.array([reference.metrics[k] for k in METRICS])
            differ = [METRICS[k] for k in compared if expected[k] != out[m, row, k]]
            assert not differ, f"{where}: metrics differ: " + ", ".join(
                f"{k} {reference.metrics[k]} vs {out[m, row, METRICS.index(k)]}" for k in differ
            )
            activity += reference.metrics["refreshes_completed"]
    assert activity > 0, "the scenario must exercise the pipeline"


def test_scenarios_exercise_what_they_claim():
    """Guard against a conformance scenario quietly losing the contention it is meant to have."""
    checks = {
        "heavy GPU contention with bursts of forced retrains": ("gpu_wait_mean_hours", 1.0),
        "heavy reviewer contention, every adapter regulated": ("review_wait_mean_days", 0.5),
        "heavy engineer contention, incidents pre-empting pipeline work": ("engineer_preemptions", 1.0),
        "spot training with preemption, managed serving": ("spot_preemptions", 1.0),
        "overloaded GPU pool (unstable)": ("unstable_gpu", 1.0),
        "ten adapters monthly, regulated, four models": ("review_rejections", 1.0),
        "existing capacity sampled (choice), serving sized on every GPU class": ("reserved_gpu_utilization", 1e-4),
        "scale to zero and two replicas on other GPU classes": ("serving_gpu_hours", 1.0),
    }
    for name, (metric, minimum) in checks.items():
        run, _ = compile_run(SCENARIOS[name])
        _, out = run_kernel(run)
        assert out[..., METRICS.index(metric)].mean() >= minimum, f"{name}: mean {metric} below {minimum}"
    uncertain, certain = (
        compile_run(SCENARIOS[k])[0]
        for k in ("default scenario, three models, input uncertainty on", "default scenario, input uncertainty off")
    )
    assert uncertain.inputs and not certain.inputs
