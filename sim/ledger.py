"""The cost ledger (design §1.4, contract).

Every cost lands in one row ``replication, operating_model, year, category, usd``.
TCO is every category except ``downtime`` and ``staleness``; economic cost adds them.
"""

from __future__ import annotations

import numpy as np

DAYS_PER_YEAR = 365.0  # days
HOURS_PER_YEAR = 8760.0  # hours
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0  # days

CATEGORIES = (
    "gpu_training",
    "gpu_serving",
    "storage",
    "monitoring",
    "labor_platform",
    "labor_pipeline",
    "labor_oncall",
    "labor_compliance",
    "vendor_training",
    "vendor_inference",
    "vendor_platform",
    "sla_credit",
    "downtime",
    "staleness",
)
CAT = {name: i for i, name in enumerate(CATEGORIES)}
ECONOMIC_ONLY = ("downtime", "staleness")
TCO_CATEGORIES = tuple(c for c in CATEGORIES if c not in ECONOMIC_ONLY)
VENDOR_CATEGORIES = ("vendor_training", "vendor_inference", "vendor_platform", "sla_credit")
LEDGER_COLUMNS = ("replication", "operating_model", "year", "category", "usd")


class CostBook:
    """Costs of one replication of one operating model, by year and category.

    Parameters
    ----------
    years : int
        Horizon in whole years; a cost at time ``t`` (days) lands in year
        ``floor(t / 365)``.
    """

    def __init__(self, years: int):
        self.years = years
        self.usd = np.zeros((years, len(CATEGORIES)))

    def year_of(self, t: float) -> int:
        return min(int(t // DAYS_PER_YEAR), self.years - 1)

    def book(self, t: float, category: int, usd: float) -> None:
        """Book ``usd`` at time ``t`` (days)."""
        if usd != 0.0:
            self.usd[self.year_of(t), category] += usd

    def accrue(self, t0: float, t1: float, usd_per_day: float, category: int) -> None:
        """Book a constant rate over [t0, t1), split at year boundaries."""
        if usd_per_day == 0.0 or t1 <= t0:
            return
        t = t0
        while t < t1:
            year = self.year_of(t)
            end = t1 if year == self.years - 1 else min(t1, (year + 1) * DAYS_PER_YEAR)
            self.usd[year, category] += (end - t) * usd_per_day
            t = end
