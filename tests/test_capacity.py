"""What the organisation already has, capacity sized to its load, idle paid capacity and
downtime units: hand-computed ledgers on both engines.

Every scenario here is deterministic (fixed inputs, deterministic arrivals), so the
expected figures are exact and computed by hand in the comments.
"""

from __future__ import annotations

import pytest

from sim.apps.cli import format_summary
from sim.run.runner import simulate
from tests.scenarios import ENGINES, config, fixed, operating_model

RATE = 180_000.0  # loaded engineer cost, USD per year


def _ledger(cfg: dict):
    results = simulate(cfg)
    return results, results.ledger.groupby(["operating_model", "year", "category"])["usd"].sum()


PLATFORM = operating_model(platform__base_fte=0.5, platform__fte_per_adapter=0.25, platform__max_fte=2.0)  # 2 adapters: 0.75 FTE


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("existing_fte", "share", "booked_fte"),
    [
        (0.0, 1.0, 0.75),  # fully loaded: the whole need
        (1.0, 0.0, 0.0),  # existing staff cover the whole need and are sunk
        (0.5, 0.0, 0.25),  # partial cover: exactly the remainder
        (0.5, 0.4, 0.25 + 0.4 * 0.5),  # the remainder plus the counted share of the covered part
        (3.0, 0.2, 0.2 * 0.75),  # more staff than needed: only the need is counted, at its share
    ],
)
def test_existing_platform_staff_are_booked_incrementally(engine, existing_fte, share, booked_fte):
    cfg = config(
        {"m": PLATFORM},
        replications=1,
        horizon_years=2,
        engine=engine,
        adapters=2,
        engineer_loaded_annual_usd=RATE,
        existing_platform_fte=existing_fte,
        existing_staff_cost_share=share,
    )
    results, ledger = _ledger(cfg)
    for year in (0, 1):
        assert ledger["m", year, "labor_platform"] == pytest.approx(booked_fte * RATE, abs=1e-6)
    assert results.metrics["platform_fte"].iloc[0] == pytest.approx(booked_fte)
    expected_basis = "fully_loaded" if existing_fte == 0.0 or share == 1.0 else "incremental"
    assert results.accounting_basis == expected_basis
    assert set(results.summary()["accounting_basis"]) == {expected_basis}


TRAINS = operating_model(
    training__gpu_hours=fixed(12.0),
    gpu_pool__reserved=1,
    gpu_pool__burst_max=1,
    platform__monitoring_build_usd=1000.0,
    platform__monitoring_usd_per_year=500.0,
)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_existing_reserved_gpu_is_not_billed_again_and_existing_monitoring_is_not_rebuilt(engine):
    common = dict(
        replications=1,
        horizon_years=1,
        engine=engine,
        adapters=1,
        arrivals="deterministic",
        refresh_interval_days=100.0,  # refreshes at 100, 200, 300: 12 GPU-h each on the reserved GPU
        gpu_reserved_usd_per_hour=2.0,
        gpu_on_demand_usd_per_hour=4.0,
    )
    _, new = _ledger(config({"m": TRAINS}, **common))
    results, existing = _ledger(config({"m": TRAINS}, existing_reserved_gpus=1, existing_monitoring_share=0.5, **common))
    assert new["m", 0, "gpu_training"] == pytest.approx(8760 * 2.0)  # the reserved GPU, all year; its use is free
    assert existing["m", 0, "gpu_training"] == 0.0  # already paid for: not billed again
    assert new["m", 0, "monitoring"] == pytest.approx(1500.0)
    assert existing["m", 0, "monitoring"] == pytest.approx(750.0)
    row = results.metrics.iloc[0]
    assert row["reserved_gpus_paid"] == 0 and row["gpu_hours_used"] == pytest.approx(36.0)
    assert row["reserved_gpu_utilization"] == pytest.approx(36.0 / 8760)
    assert results.accounting_basis == "incremental"


@pytest.mark.parametrize("engine", ENGINES)
def test_existing_reserved_gpus_join_a_pool_that_reserves_none(engine):
    """Two refreshes at once: with no reserved GPU both go to burst (billed); with two
    existing reserved GPUs both run on them at no charge."""
    model = operating_model(training__gpu_hours=fixed(12.0), gpu_pool__reserved=0, gpu_pool__burst_max=2)
    common = dict(
        replications=1,
        horizon_years=1,
        engine=engine,
        adapters=2,
        arrivals="deterministic",
        refresh_interval_days=100.0,
        refresh_stagger=False,
        gpu_reserved_usd_per_hour=2.0,
        gpu_on_demand_usd_per_hour=4.0,
    )
    _, burst = _ledger(config({"m": model}, **common))
    results, existing = _ledger(config({"m": model}, existing_reserved_gpus=2, **common))
    assert burst["m", 0, "gpu_training"] == pytest.approx(3 * 2 * 12.0 * 4.0)  # 3 rounds x 2 adapters x 12 GPU-h on demand
    assert existing["m", 0, "gpu_training"] == 0.0
    assert results.metrics["reserved_gpu_utilization"].iloc[0] == pytest.approx(72.0 / (2 * 8760))


def _serving(gpu_class: str, tokens_month_m: float, min_replicas: int = 1, scale_to_zero: bool = False) -> dict:
    model = operating_model(
        serving__owner="team",
        serving__mode="shared",
        serving__adapters_per_deployment=2,
        serving__gpu_class=gpu_class,
        serving__tokens_per_gpu_hour_m=1.0,  # on an H100
        serving__target_utilization=0.5,
        serving__min_replicas=min_replicas,
        serving__scale_to_zero=scale_to_zero,
    )
    return config(
        {"m": model},
        replications=1,
        horizon_years=1,
        adapters=2,
        tokens_per_adapter_month_m=tokens_month_m,
        serving_gpu_usd_per_hour={"h100": 2.0, "a100": 1.5, "a10g": 1.0, "l4": 0.5},
        serving_gpu_relative_throughput={"h100": 1.0, "a100": 0.5, "a10g": 0.3, "l4": 0.25},
    )


# One shared deployment of 2 adapters; a year's busy GPU-hours = 2 x 12 x tokens / throughput,
# replicas needed = busy / (8760 x 0.5).
SERVING_CASES = [
    # class, M tokens per adapter-month, min replicas, scale to zero, billed GPU-hours, busy GPU-hours, USD
    ("h100", 100.0, 1, False, 8760.0, 2400.0, 8760 * 2.0),  # need 0.548 -> 1 replica
    ("l4", 100.0, 1, False, 3 * 8760.0, 9600.0, 3 * 8760 * 0.5),  # throughput 0.25: need 2.19 -> 3 replicas
    ("h100", 10.0, 1, False, 8760.0, 240.0, 8760 * 2.0),  # need 0.0548 -> the 1 always-on replica
    ("h100", 10.0, 2, False, 2 * 8760.0, 240.0, 2 * 8760 * 2.0),  # redundancy 2: two replicas, whatever the load
    ("h100", 10.0, 2, True, 480.0, 240.0, 480 * 2.0),  # scale to zero: only the busy hours at 50 % utilization
    ("l4", 10.0, 1, True, 1920.0, 960.0, 1920 * 0.5),  # need 0.219 -> scales to zero
    ("l4", 100.0, 1, True, 3 * 8760.0, 9600.0, 3 * 8760 * 0.5),  # need >= 1: scale to zero does not apply
    # cheapest at 100 M: h100 17,520; a100 2 replicas 26,280; a10g 2 replicas 17,520; l4 3 replicas 13,140
    ("cheapest", 100.0, 1, False, 3 * 8760.0, 9600.0, 3 * 8760 * 0.5),
    # cheapest at 10 M: one replica of each, l4 the cheapest (4,380)
    ("cheapest", 10.0, 1, False, 8760.0, 960.0, 8760 * 0.5),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("gpu_class", "tokens", "replicas", "to_zero", "billed", "busy", "usd"), SERVING_CASES)
def test_serving_is_sized_to_its_load(engine, gpu_class, tokens, replicas, to_zero, billed, busy, usd):
    cfg = _serving(gpu_class, tokens, replicas, to_zero)
    cfg["engine"]["name"] = engine
    results, ledger = _ledger(cfg)
    assert ledger["m", 0, "gpu_serving"] == pytest.approx(usd)
    row = results.metrics.iloc[0]
    assert row["serving_gpu_hours"] == pytest.approx(billed)
    assert row["serving_utilization"] == pytest.approx(busy / billed)


def _reserved_pool(gpu_hours: float) -> dict:
    model = operating_model(training__gpu_hours=fixed(gpu_hours), gpu_pool__reserved=1, gpu_pool__burst_max=1)
    return config(
        {"m": model},
        replications=1,
        horizon_years=1,
        adapters=1,
        arrivals="deterministic",
        refresh_interval_days=10.0,
        gpu_reserved_usd_per_hour=2.0,
    )


def test_an_idle_paid_reserved_gpu_is_warned_about_and_a_busy_one_is_not():
    idle = simulate(_reserved_pool(1.0))  # 36 refreshes x 1 GPU-h: 0.4 % busy
    busy = simulate(_reserved_pool(48.0))  # 2 days of work every 10 days: about 20 % busy
    assert idle.metrics["reserved_gpu_utilization"].iloc[0] < 0.01
    assert busy.metrics["reserved_gpu_utilization"].iloc[0] > 0.15
    (warning,) = idle.capacity_warnings()["m"]
    assert "reserved training GPUs" in warning and "under 10 %" in warning
    assert idle.summary()["warnings"].iloc[0] == warning
    assert f"warning: m: {warning}" in format_summary(idle)
    assert busy.capacity_warnings() == {"m": []} and busy.summary()["warnings"].iloc[0] == ""
    assert "warning" not in format_summary(busy)


def test_an_existing_idle_reserved_gpu_is_not_paid_capacity():
    cfg = _reserved_pool(1.0)
    cfg["scenario"]["existing_reserved_gpus"] = 1
    assert simulate(cfg).capacity_warnings() == {"m": []}


def test_an_idle_serving_fleet_is_warned_about():
    idle = simulate(_serving("h100", 10.0, 2))  # 240 busy of 17,520 paid GPU-hours
    assert any("serving GPUs are busy 1.4 %" in w for w in idle.capacity_warnings()["m"])
    assert simulate(_serving("l4", 100.0)).capacity_warnings() == {"m": []}  # 37 % busy


@pytest.mark.parametrize("engine", ENGINES)
def test_downtime_is_booked_per_adapter_hour_of_outage(engine):
    """Incidents at 365/3.5 = 104.3, 208.6, 312.9 days on one shared deployment of 3
    adapters; each is a sev1 of 4 h taking down half the traffic: 4 x 0.5 x 3 = 6
    adapter-hours, at 1,000 USD per adapter-hour."""
    model = operating_model(
        serving__owner="team",
        serving__mode="shared",
        serving__adapters_per_deployment=3,
        oncall__mttr_hours=fixed(4.0),
    )
    cfg = config(
        {"m": model},
        replications=1,
        horizon_years=1,
        engine=engine,
        adapters=3,
        engineers=1,
        arrivals="deterministic",
        incident_rate_per_deployment_year=3.5,
        incident_severity={"probabilities": [1.0, 0.0, 0.0], "downtime_fraction": [0.5, 0.0, 0.0], "mttr_multiplier": [1.0, 1.0, 1.0]},
        downtime_usd_per_adapter_hour=1000.0,
    )
    results, ledger = _ledger(cfg)
    row = results.metrics.iloc[0]
    assert row["incidents"] == 3
    assert row["downtime_adapter_hours"] == pytest.approx(3 * 6.0)
    assert ledger["m", 0, "downtime"] == pytest.approx(3 * 6.0 * 1000.0)
    assert ledger["m", 0, "downtime"] == pytest.approx(row["downtime_adapter_hours"] * 1000.0)  # the metric prices to the ledger row


@pytest.mark.parametrize(
    ("override", "new_name"),
    [
        ("scenario.downtime_usd_per_hour=5", "scenario.downtime_usd_per_adapter_hour"),
        ("operating_model.self_managed_lora.serving.min_gpus_per_deployment=2", "operating_model.self_managed_lora.serving.min_replicas"),
    ],
)
def test_a_renamed_field_points_to_its_new_name(override, new_name):
    from models.errors import ConfigError
    from sim import load_config

    with pytest.raises(ConfigError) as info:
        load_config([override])
    message = str(info.value)
    assert message.startswith(override.split("=")[0]) and f"renamed: use {new_name}" in message and "\n" not in message
