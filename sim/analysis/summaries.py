"""Analysis: the answers a planner takes into a budget meeting, as tidy DataFrames.

- :func:`summary_statistics`, :func:`cost_by_category`, :func:`cost_by_year`,
  :func:`one_time_vs_recurring`: what each operating model costs and how sure we are;
- :func:`paired_comparison`: two models on common random numbers, against the
  unpaired comparison a spreadsheet tool would make;
- :func:`sweep`, :func:`break_even`, :func:`decision_map`: where the cheaper model
  changes, with a confidence interval on the crossing;
- :func:`tornado`, :func:`sobol_indices`: which inputs move the answer;
- :func:`run_to_precision`: replications in batches until the confidence
  intervals are as narrow as asked.

Every run inside these functions uses the config's master seed, so all grid points
of a sweep see the same world replication by replication (common random numbers):
differences between grid points and between models are paired.
"""

from __future__ import annotations

import itertools
import math

import pandas as pd

from sim.core.ledger import CATEGORIES, ECONOMIC_ONLY, TCO_CATEGORIES, TCO_MASK, VENDOR_CATEGORIES
from sim.core.stats import describe, paired_difference, standard_error
from sim.run.results import Results, model_index

MEASURES = ("tco", "economic")


# ---------------------------------------------------------------------------------
# statistics of one sample
# ---------------------------------------------------------------------------------
def summary_statistics(results: Results) -> pd.DataFrame:
    """Per operating model, measure (``tco`` / ``economic``) and basis (undiscounted / NPV):
    mean with standard error and 95 % CI, p05 / p50 / p95 and CVaR95 of the total
    over the horizon (:func:`sim.core.stats.describe`; the same numbers as the
    matching columns of :meth:`Results.summary <sim.run.results.Results.summary>`).

    Returns
    -------
    DataFrame
        Long format: ``operating_model, measure, basis, mean, se, ci95_low,
        ci95_high, p05, p50, p95, cvar95, replications, horizon_years, seed``.
    """
    rows = []
    for measure in MEASURES:
        for npv in (False, True):
            totals = results.totals(measure, npv)
            for m, name in enumerate(results.model_names):
                rows.append(
                    {
                        "operating_model": name,
                        "measure": measure,
                        "basis": "npv" if npv else "undiscounted",
                        **describe(totals[m]),
                    }
                )
    frame = pd.DataFrame(rows)
    return _stamp(frame, results)


def _stamp(frame: pd.DataFrame, results: Results) -> pd.DataFrame:
    frame["replications"] = results.costs.shape[1]
    frame["horizon_years"] = results.horizon_years
    frame["seed"] = results.seed
    frame["accounting_basis"] = results.accounting_basis
    return frame


def absorbed_by(category: str) -> str:
    """Who absorbs a ledger category: the ``vendor`` fee line, the ``team``'s budget,
    or the ``business`` (downtime and staleness, economic cost only)."""
    if category in VENDOR_CATEGORIES:
        return "vendor"
    if category in ECONOMIC_ONLY:
        return "business"
    return "team"


def cost_by_category(results: Results, npv: bool = False) -> pd.DataFrame:
    """Mean USD over the horizon per operating model and ledger category, with its
    standard error, the share of the model's TCO and who absorbs it (team / vendor /
    business)."""
    costs = results.costs * results.discount_factors()[None, :, :, None] if npv else results.costs
    per_rep = costs.sum(axis=2)  # [models, replications, categories]
    tco = results.totals("tco", npv).mean(axis=1)
    rows = []
    for m, name in enumerate(results.model_names):
        for c, category in enumerate(CATEGORIES):
            values = per_rep[m, :, c]
            mean = float(values.mean())
            rows.append(
                {
                    "operating_model": name,
                    "category": category,
                    "absorbed_by": absorbed_by(category),
                    "in_tco": category in TCO_CATEGORIES,
                    "mean": mean,
                    "se": float(standard_error(values)),
                    "share_of_tco": mean / tco[m] if category in TCO_CATEGORIES and tco[m] else math.nan,
                }
            )
    return _stamp(pd.DataFrame(rows), results)


def cost_by_year(results: Results) -> pd.DataFrame:
    """Mean TCO per operating model and year, split into one-time and recurring, with
    the standard error of the year's total and the economic cost."""
    tco = results.costs[..., TCO_MASK].sum(axis=3)  # [models, replications, years]
    economic = results.costs.sum(axis=3)
    one_time = results.one_time_by_year()
    rows = []
    for m, name in enumerate(results.model_names):
        for y in range(results.horizon_years):
            rows.append(
                {
                    "operating_model": name,
                    "year": y,
                    "tco_mean": float(tco[m, :, y].mean()),
                    "tco_se": float(standard_error(tco[m, :, y])),
                    "one_time_mean": float(one_time[m, :, y].mean()),
                    "recurring_mean": float((tco[m, :, y] - one_time[m, :, y]).mean()),
                    "economic_mean": float(economic[m, :, y].mean()),
                }
            )
    return _stamp(pd.DataFrame(rows), results)


def one_time_vs_recurring(results: Results) -> pd.DataFrame:
    """The article's view: per operating model, mean one-time cost (set-up: the
    monitoring and evaluation build booked in year 0), mean recurring cost over the
    horizon, mean recurring cost per year, and the recurring share of TCO."""
    tco = results.totals("tco")
    one_time = results.one_time_by_year().sum(axis=2)
    recurring = tco - one_time
    rows = []
    for m, name in enumerate(results.model_names):
        rows.append(
            {
                "operating_model": name,
                "one_time_mean": float(one_time[m].mean()),
                "recurring_mean": float(recurring[m].mean()),
                "recurring_per_year_mean": float(recurring[m].mean() / results.horizon_years),
                "recurring_share": float(recurring[m].sum() / tco[m].sum()) if tco[m].sum() else math.nan,
            }
        )
    return _stamp(pd.DataFrame(rows), results)


# ---------------------------------------------------------------------------------
# paired comparison
# ---------------------------------------------------------------------------------
def paired_comparison(
    results: Results, a: str | None = None, b: str | None = None, measure: str = "tco", npv: bool = False
) -> pd.DataFrame:
    """Paired comparison of ``a`` minus ``b`` on common random numbers (every pair of
    selected models when ``a`` and ``b`` are omitted).

    Returns
    -------
    DataFrame
        One row per pair (:func:`sim.core.stats.paired_difference`): ``mean_difference``,
        its ``se`` and 95 % CI, ``p_a_cheaper`` (share of replications where ``a`` costs
        less, a tie counting one half, the rule of P(cheapest)) with its standard error,
        the ``unpaired_se`` and 95 % CI an independent-samples comparison would have, and
        ``se_ratio`` = unpaired / paired (how much tighter pairing makes the answer; its
        square is the factor of replications saved).
    """
    if (a is None) != (b is None):
        raise ValueError("paired_comparison: give both a and b, or neither")
    pairs = [(a, b)] if a is not None else list(itertools.combinations(results.model_names, 2))
    totals = results.totals(measure, npv)
    rows = []
    for first, second in pairs:
        ia, ib = model_index(results.model_names, first), model_index(results.model_names, second)
        rows.append(
            {
                "a": first,
                "b": second,
                "measure": measure,
                "basis": "npv" if npv else "undiscounted",
                **paired_difference(totals[ia], totals[ib]),
            }
        )
    return _stamp(pd.DataFrame(rows), results)
