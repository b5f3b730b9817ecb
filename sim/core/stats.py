"""The statistics lora-tco reports, written once: standard errors, normal 95 % intervals,
quantiles, CVaR, P(cheapest) and the paired comparison.

Every surface (``Results.summary``, the analysis tables, the terminal, the workbook and
the deck) takes its numbers from these functions, so a standard error or an interval is
computed one way everywhere.

**The tie rule.** When several operating models cost exactly the same in a replication
(for example two vendor-run models that both book nothing in a category-free scenario),
the win is split evenly between them: each of ``k`` tied models is cheapest in ``1/k``
of that replication. The paired P(a cheaper than b) follows the same rule (a tie counts
one half), so for two models ``P(cheapest)`` of ``a`` equals the paired ``P(a cheaper)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as _scipy_stats

Z95 = float(_scipy_stats.norm.ppf(0.975))  # two-sided 95 % normal quantile, 1.959963...
QUANTILES = (0.05, 0.50, 0.95)  # the p05, p50 and p95 every summary reports
CVAR_LEVEL = 0.95


def standard_error(values: np.ndarray, axis: int = -1) -> np.ndarray | float:
    """Standard error of the mean of ``values`` along ``axis`` (sample standard deviation,
    ``ddof=1``, over the square root of the count); NaN with fewer than two values."""
    values = np.asarray(values, dtype=float)
    n = values.shape[axis]
    if n < 2:
        return np.full(np.delete(values.shape, axis % values.ndim), math.nan) if values.ndim > 1 else math.nan
    return values.std(ddof=1, axis=axis) / math.sqrt(n)


def proportion_se(p: float, n: int) -> float:
    """Standard error of a share ``p`` estimated from ``n`` independent replications."""
    return math.sqrt(p * (1.0 - p) / n)


def ci95(mean: float | np.ndarray, se: float | np.ndarray) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """The normal 95 % interval ``mean ± Z95 · se`` (elementwise for arrays)."""
    return mean - Z95 * se, mean + Z95 * se


def quantile_name(q: float) -> str:
    """``0.05`` -> ``p05``: the column name of a quantile."""
    return f"p{round(q * 100):02d}"


def cvar(values: np.ndarray, level: float = CVAR_LEVEL, axis: int = -1) -> np.ndarray:
    """Conditional value at risk: the mean of the worst ``1 - level`` share of costs.

    The upper tail is the bad one for costs. Uses the ``ceil(n (1 - level))``
    largest values, so it is defined for any sample size and equals the maximum
    when fewer than ``1 / (1 - level)`` replications are available.
    """
    values = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    n = values.shape[-1]
    k = max(1, math.ceil(n * (1.0 - level) - 1e-9))
    worst = np.partition(values, n - k, axis=-1)[..., n - k :]
    return worst.mean(axis=-1)


def describe(values: np.ndarray) -> dict[str, float]:
    """Mean, its standard error and 95 % interval, p05 / p50 / p95 and CVaR95 of one sample."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    se = float(standard_error(values))
    low, high = ci95(mean, se)
    row = {"mean": mean, "se": se, "ci95_low": low, "ci95_high": high}
    for q, value in zip(QUANTILES, np.quantile(values, QUANTILES), strict=True):
        row[quantile_name(q)] = float(value)
    row["cvar95"] = float(cvar(values, CVAR_LEVEL))
    return row


def share_cheapest(totals: np.ndarray, axis: int = 0) -> np.ndarray:
    """P(cheapest) of each model: the share of replications in which it costs least, ties
    split evenly (the module's tie rule).

    Parameters
    ----------
    totals : ndarray
        Costs with the operating models along ``axis`` and the replications along the
        last axis: ``[models, replications]``, or e.g. ``[points, models, replications]``
        with ``axis=1``.
    axis : int
        The models' axis.

    Returns
    -------
    ndarray
        ``totals`` without its last axis: the share per model (and per leading index).
    """
    is_min = totals == totals.min(axis=axis, keepdims=True)
    return (is_min / is_min.sum(axis=axis, keepdims=True)).mean(axis=-1)


def share_a_cheaper(difference: np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """P(a cheaper than b) from the paired differences ``a - b``: ties count one half.

    Parameters
    ----------
    difference : ndarray
        ``a - b`` per replication.
    axis : int, optional
        The replications' axis; by default ``difference`` is one sample and the share is
        a float, otherwise an array with that axis removed.

    Returns
    -------
    float or ndarray
    """
    difference = np.asarray(difference)
    # Without ties the second term is exactly 0.0, so the share equals ``mean(diff < 0)`` bit for bit.
    share = np.mean(difference < 0, axis=axis) + 0.5 * np.mean(difference == 0, axis=axis)
    return float(share) if axis is None else share


def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """``a`` minus ``b`` on common random numbers (one value per replication each).

    Returns the ``mean_difference``, its ``se`` and 95 % interval, ``p_a_cheaper`` (the tie
    rule above) with its standard error, and the ``unpaired_se`` and interval an
    independent-samples comparison would have, with ``se_ratio`` = unpaired / paired (how
    much tighter pairing makes the answer; its square is the factor of replications saved).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = a.shape[0]
    diff = a - b
    mean = float(diff.mean())
    se = float(standard_error(diff))
    unpaired = float(math.sqrt(a.var(ddof=1) / n + b.var(ddof=1) / n))
    p = share_a_cheaper(diff)
    low, high = ci95(mean, se)
    unpaired_low, unpaired_high = ci95(mean, unpaired)
    return {
        "mean_difference": mean,
        "se": se,
        "ci95_low": float(low),
        "ci95_high": float(high),
        "p_a_cheaper": p,
        "p_a_cheaper_se": proportion_se(p, n),
        "unpaired_se": unpaired,
        "unpaired_ci95_low": float(unpaired_low),
        "unpaired_ci95_high": float(unpaired_high),
        "se_ratio": unpaired / se if se > 0 else math.inf,
    }


def mean_and_se(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """``(mean, standard error)`` of one sample."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(standard_error(values))
