"""Each mechanism of the refresh pipeline and the pools, on tiny scenarios.

Exact traces where the scenario is deterministic; binomial checks at 4 standard
errors (two-sided false-alarm rate ~6e-5 each) where it is not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import simulate, trace
from tests.scenarios import config, exponential, fixed, operating_model

ONE_SEVERITY = {"probabilities": [1.0, 0.0, 0.0], "downtime_fraction": [1.0, 0.5, 0.0], "mttr_multiplier": [1.0, 1.0, 1.0]}


def test_a_refresh_requested_while_one_is_in_flight_is_merged(engine):
    model = operating_model(training__data_prep_hours=fixed(48.0))  # 8 days at 6 h/day
    # Drift at 182.5 starts a refresh (to 190.5); the schedule asks again at 185: merged.
    cfg = config(
        {"m": model}, adapters=1, arrivals="deterministic", drift_rate_per_adapter_year=2.0, refresh_interval_days=185.0, engine=engine
    )
    row = simulate(cfg).metrics.iloc[0]
    assert (row["refreshes_requested"], row["refreshes_merged"], row["refreshes_completed"]) == (2, 1, 1)
    events = trace(cfg, operating_model="m")
    assert list(events["event"][events["event"].str.startswith("refresh")]) == ["refresh_requested", "refresh_merged"]


def test_incidents_preempt_pipeline_work_which_resumes_where_it_stopped(engine):
    model = operating_model(
        training__data_prep_hours=fixed(30.0),  # 5 days at 6 h/day: day 100 to 105
        training__gpu_hours=fixed(24.0),
        gpu_pool__reserved=1,
        oncall__mttr_hours=fixed(24.0),
    )
    cfg = config(
        {"m": model},
        adapters=1,
        engineers=1,
        arrivals="deterministic",
        refresh_interval_days=100.0,
        incident_rate_per_deployment_year=3.5,  # first incident at 365 / 3.5 = 104.2857
        incident_severity=ONE_SEVERITY,
        engine=engine,
    )
    events = trace(cfg, operating_model="m")
    first = events[events["time_days"] < 107].reset_index(drop=True)
    incident_at = 365 / 3.5
    assert list(first["event"]) == ["refresh_requested", "incident", "incident_resolved", "train_start"]
    assert first["time_days"].tolist() == pytest.approx([100.0, incident_at, incident_at + 1.0, 106.0])
    # The outage lasted exactly the MTTR: the engineer was taken from pipeline work at once.
    assert first["value"][2] == pytest.approx(24.0)
    row = simulate(cfg).metrics.iloc[0]
    assert row["engineer_preemptions"] == 1
    assert row["downtime_adapter_hours"] == pytest.approx(3 * 24.0)  # incidents at 104.3, 208.6, 312.9


def binomial_within(successes: float, trials: float, p: float, what: str) -> None:
    se = math.sqrt(p * (1 - p) / trials)
    assert trials > 200, f"{what}: too few trials ({trials}) for a meaningful check"
    assert abs(successes / trials - p) <= 4 * se, f"{what}: {successes / trials:.4f} vs {p} (SE {se:.4f})"


def test_failure_rejection_and_rollback_happen_at_their_configured_rates(engine):
    model = operating_model(
        training__gpu_hours=exponential(6.0),
        training__failure_prob=0.2,
        gpu_pool__reserved=10,
        evaluation__engineer_hours=fixed(1.0),
        evaluation__failure_prob=0.3,
        compliance__review_hours=fixed(2.0),
        compliance__rejection_prob=0.25,
        compliance__rework_hours=fixed(2.0),
        promotion__bad_rollout_prob=0.1,
        promotion__rollback_hours=fixed(1.0),
    )
    cfg = config(
        {"m": model},
        replications=20,
        horizon_years=2,
        adapters=10,
        regulated_share=1.0,
        engineers=20,
        reviewers=10,
        refresh_interval_days=10.0,
        engine=engine,
    )
    m = simulate(cfg).metrics.sum(numeric_only=True)
    binomial_within(m["training_failures"], m["training_runs"], 0.2, "training failure")
    evaluations = m["training_runs"] - m["training_failures"]
    binomial_within(m["evaluation_failures"], evaluations, 0.3, "evaluation failure")
    promotions = m["refreshes_completed"] + m["rollbacks"]
    binomial_within(m["review_rejections"], m["review_rejections"] + promotions, 0.25, "review rejection")
    binomial_within(m["rollbacks"], promotions, 0.1, "bad rollout")


def test_spot_preemption_loses_work_since_the_last_checkpoint(engine):
    model = operating_model(
        training__gpu_hours=fixed(10.0),
        training__checkpoint_interval_hours=1.0,
        gpu_pool__burst_max=1,
        gpu_pool__burst_tier="spot",
        gpu_pool__spot_preemptions_per_gpu_hour=0.3,
    )
    cfg = config({"m": model}, replications=30, adapters=2, refresh_interval_days=30.0, gpu_spot_usd_per_hour=1.5, engine=engine)
    results = simulate(cfg)
    m = results.metrics
    assert m["spot_preemptions"].sum() > 50
    # Work redone after preemptions: more GPU-hours than 10 per completed training.
    trainings = m["training_runs"] - m["training_failures"]
    assert np.all(m["gpu_hours_used"] >= 10.0 * trainings - 1e-9)
    assert m["gpu_hours_used"].sum() > 10.0 * trainings.sum() * 1.05
    # All GPUs are spot: the GPU bill is exactly the hours used at the spot price.
    gpu_bill = results.ledger.query("category == 'gpu_training'").groupby("replication")["usd"].sum().to_numpy()
    np.testing.assert_allclose(gpu_bill, 1.5 * m["gpu_hours_used"].to_numpy(), rtol=1e-12)
    # Progress kept after a preemption is a whole number of checkpoints and never goes back.
    events = trace(cfg, replication=0, operating_model="m")
    kept = events.loc[events["event"] == "train_preempted", "value"].to_numpy()
    assert kept.size > 0 and np.all(kept == np.floor(kept))


def test_an_overloaded_gpu_pool_is_reported_unstable_and_the_run_finishes(engine):
    model = operating_model(training__gpu_hours=exponential(48.0), gpu_pool__reserved=1)
    # 20 adapters drifting 50 times a year, 2 GPU-days per retrain, 1 GPU: offered load ~5.5.
    cfg = config({"m": model}, replications=5, adapters=20, drift_rate_per_adapter_year=50.0, refresh_interval_days=0, engine=engine)
    m = simulate(cfg).metrics
    assert m["unstable_gpu"].all()
    assert m["gpu_utilization"].min() > 0.98


def test_an_unbounded_incident_queue_is_reported_and_bounded_by_the_event_cap(engine):
    model = operating_model(oncall__mttr_hours=fixed(24.0))
    # 2,000 incidents a year of one engineer-day each, one engineer: the queue grows without bound.
    cfg = config(
        {"m": model}, replications=2, engineers=1, incident_rate_per_deployment_year=2000.0, incident_severity=ONE_SEVERITY, engine=engine
    )
    m = simulate(cfg).metrics
    assert m["unstable_engineers"].all()
    assert (m["truncated"] == 0).all()
    cfg["engine"]["max_events_per_replication"] = 1000
    m = simulate(cfg).metrics
    assert (m["truncated"] == 1).all() and (m["events"] == 1000).all()  # stops at the cap, flagged
