"""A fully deterministic scenario whose whole ledger is computed by hand.

Two regulated adapters, two years, arrivals on fixed schedules, fixed durations,
no failures. Rates: engineer 180,000 / 1,800 h = 100 USD/h; reviewer 50 USD/h.

World timeline (days), identical for every operating model:
  scheduled refreshes every 200 d, staggered: adapter 0 at 200, 400, 600; adapter 1 at 300, 500, 700
  drift (1 per adapter-year): both adapters at 365, detected 10 d later (375)
  base-model release (0.8 per year): 456.25, forced (response probability 1), +2 h migration per adapter
  incidents (1.25 per deployment-year): 292 and 584 on every deployment
So each adapter refreshes 5 times: 1 in year 0, 4 in year 1 (10 refreshes, 2 with migration).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import simulate, trace
from sim.core.ledger import CAT, CATEGORIES
from tests.scenarios import ENGINES, config, fixed, operating_model

RATE_ENGINEER = 100.0  # USD/h
RATE_REVIEWER = 50.0  # USD/h
GB_DAY = 0.10 * 12 / 365  # USD per GB-day at 0.10 USD per GB-month

SCENARIO = {
    "adapters": 2,
    "regulated_share": 1.0,
    "refresh_interval_days": 200.0,
    "refresh_stagger": True,
    "arrivals": "deterministic",
    "drift_rate_per_adapter_year": 1.0,
    "drift_quality_drop": fixed(1.0),
    "staleness_usd_per_point_day": 100.0,
    "downtime_usd_per_adapter_hour": 1000.0,
    "base_model_releases_per_year": 0.8,
    "tokens_per_adapter_month_m": 100.0,
    "token_growth_per_year": 1.0,
    "training_tokens_per_run_m": 10.0,
    "incident_rate_per_deployment_year": 1.25,
    "incident_severity": {"probabilities": [1.0, 0.0, 0.0], "downtime_fraction": [1.0, 0.5, 0.0], "mttr_multiplier": [1.0, 1.0, 1.0]},
    "after_hours_share": 1.0,
    "engineers": 2,
    "reviewers": 2,
    "engineer_hours_per_day": 6.0,
    "reviewer_hours_per_day": 6.0,
    "working_hours_per_year": 1800.0,
    "engineer_loaded_annual_usd": 180_000.0,
    "reviewer_loaded_annual_usd": 90_000.0,
    "gpu_reserved_usd_per_hour": 2.0,
    "gpu_on_demand_usd_per_hour": 4.0,
    "gpu_spot_usd_per_hour": 1.5,
    "storage_usd_per_gb_month": 0.10,
    "serving_gpu_usd_per_hour": {"h100": 2.0, "a100": 0.0, "a10g": 0.0, "l4": 0.0},
}

TEAM_TRAINING = {
    "training__data_prep_hours": fixed(6.0),  # 1 day at 6 h/day
    "training__gpu_hours": fixed(12.0),  # 0.5 day
    "training__checkpoint_gb": 1.0,
    "training__retention_runs": 2,
    "gpu_pool__reserved": 1,
    "gpu_pool__burst_max": 1,
    "evaluation__gpu_hours": fixed(6.0),  # 0.25 day
    "evaluation__engineer_hours": fixed(3.0),  # 0.5 day
    "compliance__review_hours": fixed(6.0),  # 1 day at 6 h/day
    "compliance__annual_audit_hours": 10.0,
    "platform__detection_delay_days": fixed(10.0),
    "base_model__response_probability": 1.0,
    "base_model__migration_hours_per_adapter": 2.0,
    "oncall__mttr_hours": fixed(4.0),
    "oncall__after_hours_multiplier": 1.5,
}

MODELS = {
    "self_managed": operating_model(
        **TEAM_TRAINING,
        serving__owner="team",
        serving__mode="shared",
        serving__tokens_per_gpu_hour_m=1.0,
        serving__target_utilization=0.5,
        serving__min_replicas=1,
        serving__adapters_per_deployment=2,
        platform__base_fte=0.5,
        platform__fte_per_adapter=0.25,
        platform__max_fte=2.0,
        platform__monitoring_build_usd=1000.0,
        platform__monitoring_usd_per_year=500.0,
    ),
    "managed_finetune": operating_model(
        training__owner="vendor",
        training__data_prep_hours=fixed(6.0),
        training__vendor_turnaround_days=fixed(2.0),
        training__vendor_usd_per_1m_tokens=5.0,
        evaluation__engineer_hours=fixed(3.0),
        evaluation__vendor_usd_per_run=20.0,
        serving__owner="vendor",
        serving__mode="dedicated",
        serving__vendor_usd_per_1m_tokens=1.0,
        serving__vendor_usd_per_deployment_hour=0.1,
        serving__sla_uptime=0.99,
        serving__sla_credit_fraction=0.1,
        oncall__mttr_hours=fixed(4.0),
        oncall__after_hours_multiplier=1.5,
        oncall__escalation_hours=1.0,
        platform__base_fte=0.1,
        platform__fte_per_adapter=0.05,
        platform__max_fte=0.5,
        platform__monitoring_build_usd=200.0,
        platform__monitoring_usd_per_year=100.0,
        platform__detection_delay_days=fixed(10.0),
        platform__vendor_platform_usd_per_year=10_000.0,
        compliance__review_hours=fixed(3.0),
        compliance__annual_audit_hours=4.0,
        base_model__response_probability=1.0,
        base_model__migration_hours_per_adapter=2.0,
    ),
    "managed_serving": operating_model(
        **{**TEAM_TRAINING, "oncall__escalation_hours": 1.0},
        serving__owner="vendor",
        serving__mode="shared",
        serving__adapters_per_deployment=100,
        serving__vendor_usd_per_1m_tokens=0.2,
        serving__vendor_usd_per_deployment_hour=0.5,
        serving__sla_uptime=0.999,
        serving__sla_credit_fraction=0.1,
        platform__base_fte=0.3,
        platform__fte_per_adapter=0.1,
        platform__max_fte=1.0,
        platform__monitoring_build_usd=500.0,
        platform__monitoring_usd_per_year=250.0,
        platform__vendor_platform_usd_per_year=5_000.0,
    ),
}


def hand_ledger() -> dict[str, dict[tuple[int, str], float]]:
    """The expected ledger, worked out by hand from the timeline in the module docstring."""
    # Team pipeline: prep 1 d, train 0.5 d, eval GPU 0.25 d, eval hours 0.5 d, review 1 d = 3.25 d.
    # Both adapters refresh together at 375 (drift) and 456.25 (release): adapter 0 takes the
    # reserved GPU, adapter 1 the burst GPU, for 12 h training + 6 h evaluation at 4 USD/h.
    burst = 2 * (12 + 6) * 4.0
    # Checkpoints (1 GB each, keep 2): first at 201.5 (adapter 0) and 301.5 (adapter 1), second
    # for both at 376.5. Year 0: 163.5 + 63.5 GB-days; year 1: 2 GB x 11.5 d + 4 GB x 353.5 d.
    storage = (227.0 * GB_DAY, (2 * 11.5 + 4 * 353.5) * GB_DAY)
    pipeline = (2 * 900.0, 8 * 900.0 + 2 * 200.0)  # 6 h prep + 3 h eval per refresh, 2 h migration x 2
    team = {
        (0, "gpu_training"): 8760 * 2.0,
        (1, "gpu_training"): 8760 * 2.0 + burst,
        (0, "storage"): storage[0],
        (1, "storage"): storage[1],
        (0, "labor_pipeline"): pipeline[0],
        (1, "labor_pipeline"): pipeline[1],
        (0, "labor_compliance"): 2 * 6 * RATE_REVIEWER + 10 * RATE_REVIEWER,
        (1, "labor_compliance"): 8 * 6 * RATE_REVIEWER + 10 * RATE_REVIEWER,
        (1, "staleness"): 2 * (378.25 - 365) * 100.0,  # drift at 365, promoted at 375 + 3.25
    }
    self_managed = {
        **team,
        # Serving: 100 M tokens/adapter-month -> 0.137 M/h per adapter, 2 adapters on one shared
        # deployment, 0.5 M/h usable per GPU: 1 GPU in year 0, 2 GPUs in year 1 (traffic doubles).
        (0, "gpu_serving"): 1 * 8760 * 2.0,
        (1, "gpu_serving"): 2 * 8760 * 2.0,
        (0, "monitoring"): 1000.0 + 500.0,
        (1, "monitoring"): 500.0,
        (0, "labor_platform"): 0.75 * 180_000,
        (1, "labor_platform"): 0.75 * 180_000,
        (0, "labor_oncall"): 4 * RATE_ENGINEER * 1.5,  # team incident at 292, after hours
        (1, "labor_oncall"): 4 * RATE_ENGINEER * 1.5,  # and at 584
        (0, "downtime"): 4 * 1000.0 * 2,  # 4 h full outage of the shared deployment (2 adapters)
        (1, "downtime"): 4 * 1000.0 * 2,
    }
    # Managed fine-tuning: prep 1 d, vendor 2 d, eval 0.5 d, review 0.5 d = 4 d per refresh.
    fee = (2400.0 * 1.0 + 2 * 8760 * 0.1, 4800.0 * 1.0 + 2 * 8760 * 0.1)  # tokens + 2 dedicated deployments
    managed_finetune = {
        (0, "vendor_training"): 2 * 10 * 5.0,
        (1, "vendor_training"): 8 * 10 * 5.0,
        (0, "vendor_inference"): fee[0] + 2 * 20.0,
        (1, "vendor_inference"): fee[1] + 8 * 20.0,
        (0, "vendor_platform"): 10_000.0,
        (1, "vendor_platform"): 10_000.0,
        (0, "labor_platform"): 0.15 * 180_000,
        (1, "labor_platform"): 0.15 * 180_000,
        (0, "labor_pipeline"): pipeline[0],
        (1, "labor_pipeline"): pipeline[1],
        (0, "labor_compliance"): 2 * 3 * RATE_REVIEWER + 4 * RATE_REVIEWER,
        (1, "labor_compliance"): 8 * 3 * RATE_REVIEWER + 4 * RATE_REVIEWER,
        (0, "labor_oncall"): 2 * 1 * RATE_ENGINEER * 1.5,  # 2 deployments x 1 h escalation, after hours
        (1, "labor_oncall"): 2 * 1 * RATE_ENGINEER * 1.5,
        (0, "downtime"): 2 * 4 * 1000.0,  # each dedicated deployment serves one adapter
        (1, "downtime"): 2 * 4 * 1000.0,
        # 8 vendor outage hours in months 9 and 19 exceed (1 - 0.99) x 730 h = 7.3 h.
        (0, "sla_credit"): -0.1 * fee[0] / 12,
        (1, "sla_credit"): -0.1 * fee[1] / 12,
        (0, "monitoring"): 300.0,
        (1, "monitoring"): 100.0,
        (1, "staleness"): 2 * (379.0 - 365) * 100.0,
    }
    fee_serving = (2400.0 * 0.2 + 8760 * 0.5, 4800.0 * 0.2 + 8760 * 0.5)
    managed_serving = {
        **team,
        (0, "vendor_inference"): fee_serving[0],
        (1, "vendor_inference"): fee_serving[1],
        (0, "vendor_platform"): 5_000.0,
        (1, "vendor_platform"): 5_000.0,
        (0, "labor_platform"): 0.4 * 180_000,
        (1, "labor_platform"): 0.4 * 180_000,
        (0, "labor_oncall"): 1 * RATE_ENGINEER * 1.5,
        (1, "labor_oncall"): 1 * RATE_ENGINEER * 1.5,
        (0, "downtime"): 4 * 1000.0 * 2,  # one shared vendor deployment hosting both adapters
        (1, "downtime"): 4 * 1000.0 * 2,
        # 4 outage hours in a month exceed (1 - 0.999) x 730 h = 0.73 h.
        (0, "sla_credit"): -0.1 * fee_serving[0] / 12,
        (1, "sla_credit"): -0.1 * fee_serving[1] / 12,
        (0, "monitoring"): 750.0,
        (1, "monitoring"): 250.0,
    }
    return {"self_managed": self_managed, "managed_finetune": managed_finetune, "managed_serving": managed_serving}


@pytest.fixture(scope="module")
def deterministic_cfg() -> dict:
    return config(MODELS, replications=3, horizon_years=2, seed=5, **SCENARIO)


@pytest.fixture(scope="module", params=ENGINES)
def results(request, deterministic_cfg):
    cfg = {**deterministic_cfg, "engine": {**deterministic_cfg["engine"], "name": request.param}}
    return simulate(cfg)


@pytest.mark.parametrize("model", list(MODELS))
def test_ledger_matches_hand_computation_to_the_cent(results, model):
    expected = np.zeros((2, len(CATEGORIES)))
    for (year, category), usd in hand_ledger()[model].items():
        expected[year, CAT[category]] = usd
    m = results.model_names.index(model)
    for row in range(results.costs.shape[1]):  # every replication is the same deterministic world
        got = results.costs[m, row]
        mismatch = {
            f"{CATEGORIES[c]}[{y}]": (round(got[y, c], 2), round(expected[y, c], 2))
            for y in range(2)
            for c in range(len(CATEGORIES))
            if abs(got[y, c] - expected[y, c]) >= 0.005
        }
        assert not mismatch, f"{model}: (simulated, hand) {mismatch}"


def test_operational_metrics_of_the_deterministic_run(results):
    metrics = results.metrics.set_index("operating_model")
    for model in MODELS:
        row = metrics.loc[model].iloc[0]
        assert row["refreshes_requested"] == 10
        assert row["refreshes_completed"] == 10
        assert row["refreshes_merged"] == 0
        assert row["drift_events"] == 2
        assert row["base_model_releases"] == 1
        assert row["forced_upgrades"] == 1
    assert metrics.loc["self_managed"].iloc[0]["incidents"] == 2
    assert metrics.loc["managed_finetune"].iloc[0]["incidents"] == 4  # 2 dedicated deployments
    assert metrics.loc["self_managed"].iloc[0]["stale_adapter_days"] == pytest.approx(2 * 13.25)
    assert metrics.loc["managed_finetune"].iloc[0]["sla_breaches"] == 2


def test_event_trace_of_the_first_refresh(deterministic_cfg):
    events = trace(deterministic_cfg, replication=0, operating_model="self_managed")
    first = events[(events["entity"] == 0) & (events["time_days"] <= 204)]
    assert list(zip(first["time_days"], first["event"], strict=True)) == [
        (200.0, "refresh_requested"),
        (201.0, "train_start"),  # after 6 h of data preparation at 6 h/day
        (201.5, "train_end"),  # 12 GPU-hours
        (201.5, "eval_start"),
        (202.25, "review_start"),  # 0.25 d evaluation GPU + 0.5 d evaluation hours
        (203.25, "promoted"),  # 6 reviewer hours at 6 h/day
    ]
