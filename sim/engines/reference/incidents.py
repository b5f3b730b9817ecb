"""Serving deployments and their incidents.

Faults arrive per deployment as a Poisson process (the world's rate times the
operating model's multiplier, by time scaling so the k-th fault of deployment d
uses the same keyed variate in every operating model). A team-owned incident
takes an engineer at once (pre-empting pipeline work) for its MTTR; a
vendor-owned one lasts the vendor's MTTR and costs the team escalation hours,
and its downtime counts toward the vendor's monthly SLA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.core.choices import TEAM
from sim.core.ledger import CAT, DAYS_PER_MONTH
from sim.core.rng import Stream
from sim.engines.reference.resources import INCIDENT

if TYPE_CHECKING:
    from sim.engines.reference.replication import Replication


class Deployment:
    """A serving deployment hosting ``adapters`` adapters."""

    def __init__(self, rep: Replication, index: int, adapters: int):
        self.rep = rep
        self.index = index
        self.adapters = adapters

    def faults(self):
        """World process: fault arrivals of this deployment."""
        rep = self.rep
        rate = rep.scenario.incident_rate_per_deployment_year * rep.model.oncall.incident_rate_multiplier
        if rate <= 0.0:
            return
        k = 0
        while True:
            yield rep.env.timeout(rep.gap(Stream.INCIDENT_GAP, self.index, k, rate))
            rep.env.process(self.incident(k))
            k += 1

    def incident(self, k: int):
        rep = self.rep
        oncall = rep.model.oncall
        severity = rep.severity_of(rep.uniform(Stream.INCIDENT_SEVERITY, self.index, k))
        mttr = rep.event(Stream.INCIDENT_MTTR, self.index, k, oncall.mttr_hours) * rep.severity_mttr[severity]
        after_hours = rep.uniform(Stream.INCIDENT_AFTER_HOURS, self.index, k) < rep.scenario.after_hours_share
        premium = oncall.after_hours_multiplier if after_hours else 1.0
        rep.metrics["incidents"] += 1
        rep.trace("incident", self.index, severity + 1)
        started = rep.env.now
        fraction = rep.severity_downtime[severity]
        if rep.model.serving.owner == TEAM:
            yield from rep.engineer_work(mttr, "oncall", INCIDENT, wall_clock=True, premium=premium)
            outage_hours = (rep.env.now - started) * 24.0
        else:
            if mttr > 0.0:
                yield rep.env.timeout(mttr / 24.0)
            outage_hours = mttr
            rep.book(CAT["labor_oncall"], oncall.escalation_hours * rep.engineer_rate * premium)
            rep.metrics["engineer_hours_oncall"] += oncall.escalation_hours
            rep.sla_downtime[rep.month_of(rep.env.now)] += outage_hours * fraction
        rep.book_downtime(outage_hours, fraction, self.adapters)
        rep.trace("incident_resolved", self.index, outage_hours)


def sla_credits(rep: Replication):
    """Month-end process: check each month but the last (checked when the run closes)."""
    if not rep.sla_applies:
        return
    for month in range(len(rep.sla_downtime) - 1):
        yield rep.env.timeout((month + 1) * DAYS_PER_MONTH - rep.env.now)
        check_sla_month(rep, month)


def check_sla_month(rep: Replication, month: int) -> None:
    """Credit a share of the month's vendor inference fee if its downtime broke the SLA."""
    serving = rep.model.serving
    allowed = (1.0 - serving.sla_uptime) * DAYS_PER_MONTH * 24.0  # hours of downtime per month
    if rep.sla_downtime[month] > allowed:
        year = month // 12
        fee = rep.vendor_inference_per_year[year] / 12.0
        rep.book(CAT["sla_credit"], -serving.sla_credit_fraction * fee, year=year)
        rep.metrics["sla_breaches"] += 1
