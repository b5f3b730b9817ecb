"""One replication of one operating model on the SimPy reference engine.

Start order of the processes (it fixes the tie-breaking of simultaneous events,
which the fast engine reproduces): for each adapter its drift then its schedule;
base-model releases; each deployment's faults; SLA month ends. Costs that do not
depend on events (fees, reserved GPUs, serving GPUs, platform FTE, monitoring,
annual audit) are booked when the run closes, year by year in a fixed order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from models.compile import CompiledRun
from models.schema import GPU_CLASSES
from sim.core.choices import DETERMINISTIC, SHARED, SPOT, TEAM
from sim.core.ledger import CAT, DAYS_PER_MONTH, DAYS_PER_YEAR, HOURS_PER_YEAR, CostBook, month_of, tokens_per_adapter_year_m
from sim.core.metrics import METRICS
from sim.core.rng import Stream, arrival_gap, keyed_event, keyed_uniform
from sim.engines.capacity import platform_fte_counted, reserved_gpus_paid, reserved_pool_size, serving_year
from sim.engines.reference.adapter import Adapter
from sim.engines.reference.incidents import Deployment, check_sla_month, sla_credits
from sim.engines.reference.resources import EngineerPool, FifoPool, GpuPool

TRACE_COLUMNS = ("time_days", "event", "entity", "value", "detail")


@dataclass
class ReplicationResult:
    usd: np.ndarray  # [years, categories]
    metrics: dict[str, float]
    trace: pd.DataFrame | None


class Replication:
    """State and processes of one replication of one operating model."""

    def __init__(self, run: CompiledRun, row: int, model_index: int, trace: bool = False):
        self.run = run
        self.seed = run.seed
        self.replication = int(run.replications[row])
        self.scenario = scenario = run.scenario_at(row)
        self.model = model = run.model_at(model_index, row)
        self.env = simpy.Environment()
        self.horizon = run.horizon_years * DAYS_PER_YEAR
        self.costs = CostBook(run.horizon_years)
        self.metrics = dict.fromkeys(METRICS, 0.0)
        self._trace: list[tuple] | None = [] if trace else None
        self.n_adapters = scenario.adapters
        self.engineer_rate = scenario.engineer_loaded_annual_usd / scenario.working_hours_per_year  # USD/hour
        self.reviewer_rate = scenario.reviewer_loaded_annual_usd / scenario.working_hours_per_year
        severity = scenario.incident_severity
        self.severity_cumulative = np.cumsum(severity.probabilities)
        self.severity_downtime = severity.downtime_fraction
        self.severity_mttr = severity.mttr_multiplier
        self.existing_gpus = int(scenario.existing_reserved_gpus)
        reserved = reserved_pool_size(model.gpu_pool.reserved, model.gpu_pool.burst_max, self.existing_gpus)
        self.gpus = GpuPool(self.env, reserved, model.gpu_pool.burst_max)
        self.spot = model.gpu_pool.burst_tier == SPOT
        self.engineers = EngineerPool(self.env, scenario.engineers)
        self.reviewers = FifoPool(self.env, scenario.reviewers)
        self.adapters = [Adapter(self, i) for i in range(self.n_adapters)]
        self.deployments = [Deployment(self, d, size) for d, size in enumerate(self.deployment_sizes())]
        self.storage_gb = 0.0
        self.reserved_hours_used = 0.0  # GPU-hours worked on reserved GPUs (released segments)
        self.storage_since = 0.0
        self.sla_downtime = [0.0] * (12 * run.horizon_years)  # vendor outage hours per month
        self.sla_applies = model.serving.owner != TEAM and model.serving.sla_credit_fraction > 0.0
        self.vendor_inference_per_year = [self.vendor_serving_fee(y) for y in range(run.horizon_years)]
        # per serving GPU class, in models.schema.GPU_CLASSES order (sim.engines.capacity.serving_year)
        self.serving_prices = np.array([getattr(scenario.serving_gpu_usd_per_hour, c) for c in GPU_CLASSES])
        self.serving_relative = np.array([getattr(scenario.serving_gpu_relative_throughput, c) for c in GPU_CLASSES])

    # -- keyed randomness ----------------------------------------------------
    def uniform(self, stream: int, entity: int, occurrence: int) -> float:
        return keyed_uniform(self.seed, self.replication, stream, entity, occurrence)

    def event(self, stream: int, entity: int, occurrence: int, dist) -> float:
        return keyed_event(self.seed, self.replication, stream, entity, occurrence, dist.family, dist.mean, dist.cv)

    def gap(self, stream: int, entity: int, k: int, rate_per_year: float) -> float:
        """Days to the next arrival of a process with ``rate_per_year``."""
        if self.scenario.arrivals == DETERMINISTIC:
            return arrival_gap(0.5, rate_per_year, True)
        return arrival_gap(self.uniform(stream, entity, k), rate_per_year, False)

    def severity_of(self, u: float) -> int:
        for s in range(2):
            if u < self.severity_cumulative[s]:
                return s
        return 2

    # -- bookkeeping ---------------------------------------------------------
    def trace(self, event: str, entity: int, value: float = math.nan, detail: str = "") -> None:
        """Record an event (only when tracing): ``entity`` is an adapter or deployment index, -1 for none."""
        if self._trace is not None:
            self._trace.append((self.env.now, event, entity, float(value), detail))

    def book(self, category: int, usd: float, year: int | None = None) -> None:
        if year is None:
            self.costs.book(self.env.now, category, usd)
        elif usd != 0.0:
            self.costs.usd[year, category] += usd

    def book_downtime(self, outage_hours: float, fraction: float, adapters: int) -> None:
        """An outage of ``adapters`` adapters, ``fraction`` of their traffic down for ``outage_hours``."""
        self.metrics["downtime_adapter_hours"] += outage_hours * fraction * adapters
        self.book(CAT["downtime"], outage_hours * fraction * self.scenario.downtime_usd_per_adapter_hour * adapters)

    def accrue_staleness(self, t0: float, t1: float, deficit: float) -> None:
        if deficit > 0.0 and t1 > t0:
            self.metrics["stale_adapter_days"] += t1 - t0
            self.metrics["quality_deficit_days"] += deficit * (t1 - t0)
            self.costs.accrue(t0, t1, deficit * self.scenario.staleness_usd_per_point_day, CAT["staleness"])

    def change_storage(self, delta_gb: float) -> None:
        now = self.env.now
        self._accrue_storage(now)
        self.storage_gb += delta_gb

    def _accrue_storage(self, until: float) -> None:
        usd_per_day = self.storage_gb * self.scenario.storage_usd_per_gb_month / DAYS_PER_MONTH
        self.costs.accrue(self.storage_since, until, usd_per_day, CAT["storage"])
        self.storage_since = until

    def month_of(self, t: float) -> int:
        return month_of(t, len(self.sla_downtime))

    def engineer_work(self, hours: float, activity: str, priority: int, wall_clock: bool = False, premium: float = 1.0):
        """Generator: ``hours`` of engineer work (``wall_clock``: continuous, as in an incident)."""
        if hours <= 0.0:
            return
        days = hours / 24.0 if wall_clock else hours / self.scenario.engineer_hours_per_day
        yield from self.engineers.work(days, priority)
        category = CAT["labor_oncall"] if activity == "oncall" else CAT["labor_pipeline"]
        self.book(category, hours * self.engineer_rate * premium)
        self.metrics[f"engineer_hours_{activity}"] += hours

    def release_gpu(self, gpu: int, hours: float) -> None:
        """Return a GPU after ``hours`` of use; burst GPUs are billed per use."""
        if self.gpus.is_burst(gpu):
            price = self.scenario.gpu_spot_usd_per_hour if self.spot else self.scenario.gpu_on_demand_usd_per_hour
            self.book(CAT["gpu_training"], hours * price)
        else:
            self.reserved_hours_used += hours
        self.metrics["gpu_hours_used"] += hours
        self.gpus.release(gpu)

    # -- serving and fixed costs ---------------------------------------------
    def deployment_sizes(self) -> list[int]:
        serving = self.model.serving
        n = self.n_adapters
        if serving.mode != SHARED:
            return [1] * n
        per = serving.adapters_per_deployment
        return [min(per, n - start) for start in range(0, n, per)]

    def tokens_per_adapter_year_m(self, year: int) -> float:
        s = self.scenario
        return tokens_per_adapter_year_m(s.tokens_per_adapter_month_m, s.token_growth_per_year, year)

    def serving_year(self, year: int) -> tuple[float, float, float]:
        """Cost, billed and busy GPU-hours of the team's serving fleet in ``year`` (sim.engines.capacity)."""
        serving = self.model.serving
        tokens = self.tokens_per_adapter_year_m(year)
        prices, relative = self.serving_prices, self.serving_relative
        cost = billed = busy = 0.0
        for size in self.deployment_sizes():
            c, b, w = serving_year(
                size,
                tokens,
                serving.tokens_per_gpu_hour_m,
                serving.target_utilization,
                serving.min_replicas,
                serving.scale_to_zero,
                prices,
                relative,
                serving.gpu_class,
            )
            cost += c
            billed += b
            busy += w
        return cost, billed, busy

    def vendor_serving_fee(self, year: int) -> float:
        serving = self.model.serving
        if serving.owner == TEAM:
            return 0.0
        tokens = self.tokens_per_adapter_year_m(year) * self.n_adapters
        hosting = len(self.deployment_sizes()) * HOURS_PER_YEAR * serving.vendor_usd_per_deployment_hour
        return tokens * serving.vendor_usd_per_1m_tokens + hosting

    def platform_fte(self) -> float:
        """Platform FTE this model books: its need beyond the existing staff, plus their counted share."""
        p, s = self.model.platform, self.scenario
        return platform_fte_counted(
            p.base_fte, p.fte_per_adapter, p.max_fte, self.n_adapters, s.existing_platform_fte, s.existing_staff_cost_share
        )

    def book_fixed_costs(self) -> None:
        s, model = self.scenario, self.model
        regulated = any(a.regulated for a in self.adapters)
        paid_gpus = reserved_gpus_paid(model.gpu_pool.reserved, self.existing_gpus)
        fte = self.platform_fte()
        self.metrics["platform_fte"] = fte
        self.metrics["reserved_gpus_paid"] = float(paid_gpus)
        billed_total = busy_total = 0.0
        for year in range(self.run.horizon_years):
            self.book(CAT["labor_platform"], fte * s.engineer_loaded_annual_usd, year)
            reserved = paid_gpus * HOURS_PER_YEAR * s.gpu_reserved_usd_per_hour
            self.book(CAT["gpu_training"], reserved, year)
            if model.serving.owner == TEAM:
                cost, billed, busy = self.serving_year(year)
                billed_total += billed
                busy_total += busy
                self.book(CAT["gpu_serving"], cost, year)
            self.book(CAT["vendor_inference"], self.vendor_inference_per_year[year], year)
            self.book(CAT["vendor_platform"], model.platform.vendor_platform_usd_per_year, year)
            build = model.platform.monitoring_build_usd if year == 0 else 0.0
            self.book(CAT["monitoring"], (build + model.platform.monitoring_usd_per_year) * (1.0 - s.existing_monitoring_share), year)
            if regulated:
                self.book(CAT["labor_compliance"], model.compliance.annual_audit_hours * self.reviewer_rate, year)
        self.metrics["serving_gpu_hours"] = billed_total
        self.metrics["serving_utilization"] = busy_total / billed_total if billed_total > 0.0 else 0.0

    # -- world process not tied to an entity -----------------------------------
    def releases(self):
        """Base-model releases; each forces a retrain / migration with some probability."""
        rate = self.scenario.base_model_releases_per_year
        if rate <= 0.0:
            return
        base_model = self.model.base_model
        k = 0
        while True:
            yield self.env.timeout(self.gap(Stream.RELEASE_GAP, 0, k, rate))
            self.metrics["base_model_releases"] += 1
            forced = self.uniform(Stream.RELEASE_RESPONSE, 0, k) < base_model.response_probability
            self.trace("base_model_release", -1, detail="forced" if forced else "ignored")
            if forced:
                self.metrics["forced_upgrades"] += 1
                for adapter in self.adapters:
                    adapter.request_refresh("base_model", base_model.migration_hours_per_adapter)
            k += 1

    # -- run -------------------------------------------------------------------
    def run_to_horizon(self) -> ReplicationResult:
        env = self.env
        for adapter in self.adapters:
            env.process(adapter.drift())
            env.process(adapter.schedule())
        env.process(self.releases())
        for deployment in self.deployments:
            env.process(deployment.faults())
        env.process(sla_credits(self))
        events = 0
        while env.peek() < self.horizon:
            env.step()
            events += 1
            if events >= self.run.max_events:
                self.metrics["truncated"] = 1.0
                break
        end = min(env.now, self.horizon) if self.metrics["truncated"] else self.horizon
        self.metrics["events"] = float(events)
        return self.close(end)

    def close(self, end: float) -> ReplicationResult:
        for adapter in self.adapters:
            adapter.close(end)
        self._accrue_storage(end)
        if self.sla_applies:
            check_sla_month(self, len(self.sla_downtime) - 1)
        self.book_fixed_costs()
        m = self.metrics
        gpu = self.gpus.monitor.summary(end)
        m["gpu_utilization"] = gpu["utilization"]
        m["gpu_busy_mean"] = gpu["busy_mean"]
        m["gpu_queue_mean"] = gpu["queue_mean"]
        m["gpu_wait_mean_hours"] = gpu["wait_mean_days"] * 24.0
        m["unstable_gpu"] = gpu["unstable"]
        reserved_hours = self.gpus.reserved * end * 24.0
        m["reserved_gpu_utilization"] = self.reserved_hours_used / reserved_hours if reserved_hours > 0.0 else 0.0
        eng = self.engineers.monitor.summary(end)
        m["engineer_utilization"] = eng["utilization"]
        m["engineer_wait_mean_hours"] = eng["wait_mean_days"] * 24.0
        m["engineer_preemptions"] = float(self.engineers.preemptions)
        m["unstable_engineers"] = eng["unstable"]
        rev = self.reviewers.monitor.summary(end)
        m["review_backlog_mean"] = rev["queue_mean"]
        m["review_wait_mean_days"] = rev["wait_mean_days"]
        m["reviewer_utilization"] = rev["utilization"]
        m["unstable_reviewers"] = rev["unstable"]
        m["in_flight_at_horizon"] = float(sum(a.in_flight for a in self.adapters))
        trace = None
        if self._trace is not None:
            trace = pd.DataFrame(self._trace, columns=list(TRACE_COLUMNS))
        return ReplicationResult(self.costs.usd, m, trace)


def run_replication(run: CompiledRun, row: int, model_index: int, trace: bool = False) -> ReplicationResult:
    """Simulate replication row ``row`` of operating model ``model_index``."""
    return Replication(run, row, model_index, trace).run_to_horizon()
