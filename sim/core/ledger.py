"""The cost ledger (design §1.4, contract).

Every cost lands in one row ``replication, operating_model, year, category, usd``.
TCO is every category except ``downtime`` and ``staleness``; economic cost adds them.
"""

from __future__ import annotations

import math

import numpy as np

from sim.core.jit import cached_njit

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
# Boolean masks over CATEGORIES (the costs array's last axis): the one definition of which
# categories TCO sums (economic cost sums all of them) and which a vendor books.
TCO_MASK = np.array([c in TCO_CATEGORIES for c in CATEGORIES])
ECONOMIC_ONLY_MASK = ~TCO_MASK
VENDOR_MASK = np.array([c in VENDOR_CATEGORIES for c in CATEGORIES])
for _mask in (TCO_MASK, ECONOMIC_ONLY_MASK, VENDOR_MASK):
    _mask.flags.writeable = False
LEDGER_COLUMNS = ("replication", "operating_model", "year", "category", "usd")


@cached_njit()
def year_of(t, years):
    """The ledger year of time ``t`` (days); the last year takes the horizon itself."""
    return min(math.floor(t / 365.0), years - 1)


@cached_njit()
def month_of(t, months):
    return min(math.floor(t / (365.0 / 12.0)), months - 1)


@cached_njit()
def tokens_per_adapter_year_m(tokens_per_month_m, growth, year):
    """Inference tokens (millions) per adapter in ``year``: monthly volume x 12 x (1 + growth)^year."""
    return tokens_per_month_m * 12.0 * math.pow(1.0 + growth, float(year))


@cached_njit()
def accrue(usd, t0, t1, usd_per_day, category):
    """Book a constant rate over [t0, t1) into ``usd[year, category]``, split at year ends."""
    if usd_per_day == 0.0 or t1 <= t0:
        return
    years = usd.shape[0]
    t = t0
    while t < t1:
        year = year_of(t, years)
        end = t1 if year == years - 1 else min(t1, (year + 1) * 365.0)
        usd[year, category] += (end - t) * usd_per_day
        t = end


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

    def book(self, t: float, category: int, usd: float) -> None:
        """Book ``usd`` at time ``t`` (days)."""
        if usd != 0.0:
            self.usd[year_of(t, self.years), category] += usd

    def accrue(self, t0: float, t1: float, usd_per_day: float, category: int) -> None:
        """Book a constant rate over [t0, t1), split at year boundaries."""
        accrue(self.usd, t0, t1, usd_per_day, category)
