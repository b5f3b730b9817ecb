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

import copy
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats

from sim.config import validate
from sim.labels import number, parameter_label, short_model_label
from sim.ledger import CATEGORIES, VENDOR_CATEGORIES
from sim.results import Results, cvar

MEASURES = ("tco", "economic")
Z95 = float(stats.norm.ppf(0.975))
VENDOR_SET = frozenset(VENDOR_CATEGORIES)
ECONOMIC_ONLY = frozenset({"downtime", "staleness"})


# ---------------------------------------------------------------------------------
# statistics of one sample
# ---------------------------------------------------------------------------------
def _describe(values: np.ndarray) -> dict[str, float]:
    n = values.shape[0]
    se = values.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan
    p05, p50, p95 = np.quantile(values, (0.05, 0.50, 0.95))
    return {
        "mean": float(values.mean()),
        "se": float(se),
        "ci95_low": float(values.mean() - Z95 * se),
        "ci95_high": float(values.mean() + Z95 * se),
        "p05": float(p05),
        "p50": float(p50),
        "p95": float(p95),
        "cvar95": float(cvar(values, 0.95)),
    }


def summary_statistics(results: Results) -> pd.DataFrame:
    """Per operating model, measure (``tco`` / ``economic``) and basis (undiscounted / NPV):
    mean with standard error and 95 % CI, p05 / p50 / p95 and CVaR95 of the total
    over the horizon.

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
                        **_describe(totals[m]),
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
    if category in VENDOR_SET:
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
    n = per_rep.shape[1]
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
                    "in_tco": category not in ECONOMIC_ONLY,
                    "mean": mean,
                    "se": float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
                    "share_of_tco": mean / tco[m] if category not in ECONOMIC_ONLY and tco[m] else math.nan,
                }
            )
    return _stamp(pd.DataFrame(rows), results)


def cost_by_year(results: Results) -> pd.DataFrame:
    """Mean TCO per operating model and year, split into one-time and recurring, with
    the standard error of the year's total and the economic cost."""
    tco = results.costs[..., _tco_mask()].sum(axis=3)  # [models, replications, years]
    economic = results.costs.sum(axis=3)
    one_time = results.one_time_by_year()
    n = tco.shape[1]
    rows = []
    for m, name in enumerate(results.model_names):
        for y in range(results.horizon_years):
            rows.append(
                {
                    "operating_model": name,
                    "year": y,
                    "tco_mean": float(tco[m, :, y].mean()),
                    "tco_se": float(tco[m, :, y].std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
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


def _tco_mask() -> np.ndarray:
    return np.array([c not in ECONOMIC_ONLY for c in CATEGORIES])


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
        One row per pair: ``mean_difference``, its ``se`` and 95 % CI,
        ``p_a_cheaper`` (share of replications where ``a`` costs less) with its
        standard error, the ``unpaired_se`` and 95 % CI half-width an independent-samples
        comparison would have, and ``se_ratio`` = unpaired / paired (how much tighter
        pairing makes the answer; its square is the factor of replications saved).
    """
    if (a is None) != (b is None):
        raise ValueError("paired_comparison: give both a and b, or neither")
    pairs = [(a, b)] if a is not None else list(itertools.combinations(results.model_names, 2))
    totals = results.totals(measure, npv)
    n = totals.shape[1]
    rows = []
    for first, second in pairs:
        ia, ib = _index(results.model_names, first), _index(results.model_names, second)
        diff = totals[ia] - totals[ib]
        se = float(diff.std(ddof=1) / math.sqrt(n))
        unpaired = float(math.sqrt(totals[ia].var(ddof=1) / n + totals[ib].var(ddof=1) / n))
        p = float(np.mean(diff < 0))
        rows.append(
            {
                "a": first,
                "b": second,
                "measure": measure,
                "basis": "npv" if npv else "undiscounted",
                "mean_difference": float(diff.mean()),
                "se": se,
                "ci95_low": float(diff.mean() - Z95 * se),
                "ci95_high": float(diff.mean() + Z95 * se),
                "p_a_cheaper": p,
                "p_a_cheaper_se": math.sqrt(p * (1 - p) / n),
                "unpaired_se": unpaired,
                "unpaired_ci95_low": float(diff.mean() - Z95 * unpaired),
                "unpaired_ci95_high": float(diff.mean() + Z95 * unpaired),
                "se_ratio": unpaired / se if se > 0 else math.inf,
            }
        )
    return _stamp(pd.DataFrame(rows), results)


def _index(names: Sequence[str], name: str) -> int:
    if name not in names:
        raise ValueError(f"operating_model = {name!r}: must be one of {', '.join(names)}")
    return list(names).index(name)


# ---------------------------------------------------------------------------------
# sweeps and break-even
# ---------------------------------------------------------------------------------
@dataclass
class Sweep:
    """Totals of every replication of every model at every value of one or two swept
    parameters (common random numbers: replication ``r`` sees the same world at
    every point).

    Attributes
    ----------
    points : DataFrame
        One row per grid point with the swept parameters' values.
    totals : dict of ndarray, shape (points, models, replications)
        Keyed ``tco``, ``economic``, ``tco_npv``, ``economic_npv``.
    """

    parameters: tuple[str, ...]
    points: pd.DataFrame
    model_names: tuple[str, ...]
    totals: dict[str, np.ndarray]
    seed: int
    horizon_years: int
    replications: int
    results: list[Results] = field(default_factory=list, repr=False)

    def frame(self, measure: str = "tco", npv: bool = False) -> pd.DataFrame:
        """Tidy per-replication totals: the swept parameters, ``replication``,
        ``operating_model`` and ``usd``."""
        values = self.totals[_key(measure, npv)]
        g, m, r = values.shape
        index = pd.MultiIndex.from_product([range(g), range(m), range(r)], names=["point", "model", "replication"]).to_frame(index=False)
        out = self.points.iloc[index["point"]].reset_index(drop=True)
        out["replication"] = index["replication"].to_numpy()
        out["operating_model"] = pd.Categorical.from_codes(index["model"], categories=list(self.model_names))
        out["usd"] = values.reshape(-1)
        return out

    def means(self, measure: str = "tco", npv: bool = False) -> pd.DataFrame:
        """Mean, standard error and probability of being cheapest per point and model."""
        values = self.totals[_key(measure, npv)]
        g, _m, r = values.shape
        cheapest = values == values.min(axis=1, keepdims=True)
        share = (cheapest / cheapest.sum(axis=1, keepdims=True)).mean(axis=2)
        rows = []
        for p in range(g):
            for k, name in enumerate(self.model_names):
                rows.append(
                    {
                        **self.points.iloc[p].to_dict(),
                        "operating_model": name,
                        "mean": float(values[p, k].mean()),
                        "se": float(values[p, k].std(ddof=1) / math.sqrt(r)) if r > 1 else math.nan,
                        "p_cheapest": float(share[p, k]),
                    }
                )
        return pd.DataFrame(rows)


def _key(measure: str, npv: bool) -> str:
    if measure not in MEASURES:
        raise ValueError(f"measure = {measure!r}: must be one of {', '.join(MEASURES)}")
    return f"{measure}_npv" if npv else measure


def set_parameter(plain: dict, parameter: str, value: Any) -> None:
    """Set a dotted config path in a plain config, in place.

    ``operating_model.*.<path>`` sets the path in every selected operating model.
    Integer fields keep integer values. Raises ``KeyError`` naming the path when it
    does not exist.
    """
    parts = parameter.split(".")
    if len(parts) > 2 and parts[0] == "operating_model" and parts[1] == "*":
        for name in plain["operating_model"]:
            set_parameter(plain, ".".join(["operating_model", name, *parts[2:]]), value)
        return
    node = plain
    for depth, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"{'.'.join(parts[: depth + 1])}: no such config field")
        node = node[part]
    leaf = parts[-1]
    if not isinstance(node, dict) or leaf not in node:
        raise KeyError(f"{parameter}: no such config field")
    old = node[leaf]
    if isinstance(old, bool) or not isinstance(old, int):
        node[leaf] = value
    elif float(value) != int(value):
        raise ValueError(f"{parameter} = {value!r}: must be a whole number")
    else:
        node[leaf] = int(value)


def _simulate_plain(plain: dict, **kwargs: Any) -> Results:
    from sim.runner import simulate

    kwargs.setdefault("progress", False)  # a study runs many short simulations: no bar per point
    return simulate(plain, **kwargs)


def _grid_run(cfg: DictConfig | Mapping, assignments: list[dict[str, Any]], models: Sequence[str] | None, keep_results: bool) -> Sweep:
    base = copy.deepcopy(validate(cfg))
    if models is not None:
        base["operating_model"] = {name: base["operating_model"][_check_model(base, name)] for name in models}
    totals: dict[str, list[np.ndarray]] = {k: [] for k in ("tco", "economic", "tco_npv", "economic_npv")}
    kept = []
    names: tuple[str, ...] = ()
    for assignment in assignments:
        plain = copy.deepcopy(base)
        for parameter, value in assignment.items():
            set_parameter(plain, parameter, value)
        results = _simulate_plain(validate(plain))
        names = results.model_names
        for measure in MEASURES:
            totals[measure].append(results.totals(measure))
            totals[f"{measure}_npv"].append(results.totals(measure, npv=True))
        if keep_results:
            kept.append(results)
    return Sweep(
        parameters=tuple(assignments[0]),
        points=pd.DataFrame(assignments),
        model_names=names,
        totals={k: np.stack(v) for k, v in totals.items()},
        seed=int(base["seed"]),
        horizon_years=int(base["horizon_years"]),
        replications=int(base["replications"]),
        results=kept,
    )


def _check_model(plain: Mapping, name: str) -> str:
    if name not in plain["operating_model"]:
        raise ValueError(f"operating_model = {name!r}: must be one of {', '.join(plain['operating_model'])}")
    return name


def sweep(
    cfg: DictConfig | Mapping,
    parameter: str,
    values: Sequence[Any],
    models: Sequence[str] | None = None,
    keep_results: bool = False,
) -> Sweep:
    """Simulate at each value of one parameter, on common random numbers.

    Parameters
    ----------
    cfg : DictConfig or mapping
        The base config (from :func:`sim.load_config`).
    parameter : str
        A dotted config path, e.g. ``scenario.adapters``,
        ``scenario.tokens_per_adapter_month_m`` or ``operating_model.*.platform.base_fte``.
    values : sequence
        Grid values, in increasing order for :func:`break_even`.
    models : sequence of str, optional
        Operating models to simulate (default: those selected in ``cfg``).
    keep_results : bool
        Keep each point's full :class:`Results` (ledger and metrics) in ``Sweep.results``.

    Notes
    -----
    The swept input is fixed at each grid value in every replication, so its own
    uncertainty (if the config gives it a distribution) is not part of the spread at a
    point; every other input keeps its per-replication draw.
    """
    if len(values) < 2:
        raise ValueError(f"values = {list(values)!r}: a sweep needs at least two values")
    return _grid_run(cfg, [{parameter: v} for v in values], models, keep_results)


@dataclass
class BreakEven:
    """Where the cheaper of two operating models changes along a swept parameter.

    Attributes
    ----------
    curve : DataFrame
        Per grid value: mean paired difference ``a - b`` with its standard error and
        CI, ``p_a_cheaper`` and the model that is cheaper on average.
    crossing : float or None
        Where the mean difference changes sign (linear interpolation between the grid
        values around the first change); ``None`` if it does not change on the grid.
    ci_low, ci_high : float
        Confidence interval of the crossing; ``-inf`` / ``+inf`` when it reaches
        beyond the grid (more than half the missing tail probability has no crossing
        on the grid on that side).
    """

    parameter: str
    a: str
    b: str
    measure: str
    confidence: float
    curve: pd.DataFrame
    crossing: float | None
    ci_low: float
    ci_high: float
    cheaper_below: str | None
    cheaper_above: str | None
    draws: int

    def describe(self) -> str:
        """One sentence for a chart title or a report."""
        if self.crossing is None:
            always = self.a if self.curve["mean_difference"].iloc[0] < 0 else self.b
            return f"{short_model_label(always)} is cheaper across the whole range of {parameter_label(self.parameter)}"
        pct = round(self.confidence * 100)
        low = "below the grid" if math.isinf(self.ci_low) else number(self.ci_low)
        high = "beyond the grid" if math.isinf(self.ci_high) else number(self.ci_high)
        return (
            f"{short_model_label(self.cheaper_above)} is cheaper above {number(self.crossing)} {parameter_label(self.parameter)} "
            f"({pct} % CI {low}–{high})"
        )

    def as_row(self) -> dict[str, Any]:
        return {
            "parameter": self.parameter,
            "a": self.a,
            "b": self.b,
            "measure": self.measure,
            "crossing": self.crossing,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": self.confidence,
            "cheaper_below": self.cheaper_below,
            "cheaper_above": self.cheaper_above,
        }


def crossing_interval(
    x: np.ndarray, differences: np.ndarray, confidence: float = 0.90, draws: int = 4000, seed: int = 0
) -> tuple[float | None, float, float]:
    """Crossing of a noisy mean curve and its confidence interval.

    Parameters
    ----------
    x : ndarray, shape (points,)
        Increasing grid values.
    differences : ndarray, shape (points, replications)
        Paired differences per grid point and replication; the same replication index
        at every point (common random numbers), so the points are correlated and
        their joint covariance is used.
    confidence : float
        Two-sided level of the interval.
    draws, seed
        Size and seed of the parametric bootstrap.

    Returns
    -------
    crossing, low, high
        ``crossing`` is where the mean curve first changes sign from its sign at the
        first point (linear interpolation), or ``None``. ``low, high`` come from
        curves drawn from the asymptotic normal law of the vector of means (mean,
        covariance / n): each draw's crossing is found the same way; a draw
        that already has the other sign at the first point crosses below the grid
        (``-inf``) and one that never changes sign crosses beyond it (``+inf``). The
        interval is the pair of order statistics of these crossings.
    """
    x = np.asarray(x, dtype=float)
    d = np.asarray(differences, dtype=float)
    if d.ndim != 2 or d.shape[0] != x.shape[0]:
        raise ValueError("differences must have shape (len(x), replications)")
    if np.any(np.diff(x) <= 0):
        raise ValueError("x must be strictly increasing")
    n = d.shape[1]
    mean = d.mean(axis=1)
    start_sign = np.sign(mean[0]) or 1.0
    crossing = _first_crossing(x, mean[None, :], start_sign)[0]
    if not np.isfinite(crossing):
        crossing_value = None
    else:
        crossing_value = float(crossing)
    cov = np.atleast_2d(np.cov(d) / n) if n > 1 else np.zeros((x.shape[0], x.shape[0]))
    # Symmetric square root with rounding-level negative eigenvalues clipped: points with
    # zero variance (deterministic costs) make the covariance singular.
    eigenvalues, vectors = np.linalg.eigh((cov + cov.T) / 2.0)
    root = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    rng = np.random.default_rng([int(seed), 0x1A2B])
    curves = mean + rng.standard_normal((draws, x.shape[0])) @ root.T
    found = np.sort(_first_crossing(x, curves, start_sign))
    tail = (1.0 - confidence) / 2.0
    lo_index = max(0, math.floor(tail * draws))
    hi_index = min(draws - 1, math.ceil((1.0 - tail) * draws) - 1)
    return crossing_value, float(found[lo_index]), float(found[hi_index])


def _first_crossing(x: np.ndarray, curves: np.ndarray, start_sign: float) -> np.ndarray:
    """Per curve (rows), where it first leaves ``start_sign`` (see :func:`crossing_interval`)."""
    signed = curves * start_sign  # positive = still on the starting side
    out = np.full(curves.shape[0], np.inf)
    below = signed[:, 0] <= 0
    out[below] = -np.inf
    crossed = signed <= 0
    crossed[:, 0] = False
    has = crossed.any(axis=1) & ~below
    j = np.argmax(crossed, axis=1)[has]
    rows = np.nonzero(has)[0]
    y0, y1 = signed[rows, j - 1], signed[rows, j]
    out[rows] = x[j - 1] + (x[j] - x[j - 1]) * y0 / (y0 - y1)
    return out


def break_even(
    data: Sweep, a: str, b: str, measure: str = "tco", npv: bool = False, confidence: float = 0.90, draws: int = 4000
) -> BreakEven:
    """Break-even of ``a`` against ``b`` along a one-parameter :class:`Sweep`.

    The crossing of the mean paired difference and its confidence interval come from
    :func:`crossing_interval` (stochastic root finding on the paired difference).
    """
    if len(data.parameters) != 1:
        raise ValueError("break_even needs a one-parameter sweep")
    parameter = data.parameters[0]
    totals = data.totals[_key(measure, npv)]
    ia, ib = _index(data.model_names, a), _index(data.model_names, b)
    diffs = totals[:, ia, :] - totals[:, ib, :]
    x = data.points[parameter].to_numpy(dtype=float)
    crossing, low, high = crossing_interval(x, diffs, confidence, draws, seed=data.seed)
    n = diffs.shape[1]
    se = diffs.std(axis=1, ddof=1) / math.sqrt(n)
    mean = diffs.mean(axis=1)
    curve = pd.DataFrame(
        {
            parameter: x,
            "mean_difference": mean,
            "se": se,
            "ci95_low": mean - Z95 * se,
            "ci95_high": mean + Z95 * se,
            "p_a_cheaper": (diffs < 0).mean(axis=1),
            "cheaper": np.where(mean < 0, a, b),
        }
    )
    first = a if mean[0] < 0 else b
    other = b if first == a else a
    return BreakEven(
        parameter=parameter,
        a=a,
        b=b,
        measure=measure,
        confidence=confidence,
        curve=curve,
        crossing=crossing,
        ci_low=low,
        ci_high=high,
        cheaper_below=first,
        cheaper_above=other if crossing is not None else None,
        draws=draws,
    )


def decision_map(
    cfg: DictConfig | Mapping,
    x: tuple[str, Sequence[Any]],
    y: tuple[str, Sequence[Any]],
    models: Sequence[str] | None = None,
    measure: str = "tco",
    npv: bool = False,
) -> pd.DataFrame:
    """The cheapest operating model over a grid of two parameters.

    Parameters
    ----------
    x, y : (parameter, values)
        The two swept parameters, e.g. ``("scenario.adapters", [1, 3, 5, 10])`` and
        ``("scenario.refresh_interval_days", [30, 60, 90])``.

    Returns
    -------
    DataFrame
        One row per cell: both parameter values, ``cheapest`` (lowest mean),
        ``p_cheapest`` (share of replications in which it is cheapest),
        ``margin`` (mean cost of the runner-up minus the cheapest) and one
        ``mean_<model>`` column per model.
    """
    (px, vx), (py, vy) = x, y
    grid = _grid_run(cfg, [{px: a, py: b} for a in vx for b in vy], models, keep_results=False)
    return decision_table(grid, measure, npv)


def decision_table(grid: Sweep, measure: str = "tco", npv: bool = False) -> pd.DataFrame:
    """The cheapest model per grid point of a :class:`Sweep` (see :func:`decision_map`)."""
    values = grid.totals[_key(measure, npv)]  # [cells, models, replications]
    means = values.mean(axis=2)
    is_min = values == values.min(axis=1, keepdims=True)
    share = (is_min / is_min.sum(axis=1, keepdims=True)).mean(axis=2)
    order = np.argsort(means, axis=1)
    out = grid.points.copy()
    best = order[:, 0]
    rows = np.arange(len(best))
    out["cheapest"] = [grid.model_names[k] for k in best]
    out["p_cheapest"] = share[rows, best]
    if len(grid.model_names) > 1:
        out["margin"] = means[rows, order[:, 1]] - means[rows, best]
    for k, name in enumerate(grid.model_names):
        out[f"mean_{name}"] = means[:, k]
    out["replications"] = grid.replications
    out["seed"] = grid.seed
    return out


# ---------------------------------------------------------------------------------
# sensitivity
# ---------------------------------------------------------------------------------
def uncertain_inputs(cfg: DictConfig | Mapping) -> dict[str, Any]:
    """The uncertain inputs of a config: draw key -> distribution.

    A key names a scenario input (``scenario.<path>``) or an operating-model input
    without the model's name (``operating_model.<path>``): operating models that give
    the same input a distribution share its draw, so fixing a key fixes all of them.
    """
    from models.compile import compile_config

    plain = validate(cfg)
    small = copy.deepcopy(plain)
    small["replications"] = 1
    return dict(compile_config(small).input_keys)


def _response(plain: dict, a: str, b: str | None, measure: str, npv: bool, input_uniforms: Mapping[str, np.ndarray] | None) -> np.ndarray:
    results = _simulate_plain(plain, input_uniforms=input_uniforms)
    totals = results.totals(measure, npv)
    ia = _index(results.model_names, a)
    if b is None:
        return totals[ia]
    return totals[ia] - totals[_index(results.model_names, b)]


def _chosen_inputs(plain: dict, inputs: Sequence[str] | None) -> tuple[dict[str, Any], list[str]]:
    keys = uncertain_inputs(plain)
    chosen = list(keys) if inputs is None else list(inputs)
    for key in chosen:
        if key not in keys:
            raise ValueError(f"inputs: {key!r} is not an uncertain input; available: {', '.join(keys) or 'none'}")
    return keys, chosen


def _two_models(cfg: DictConfig | Mapping, a: str, b: str | None) -> dict:
    plain = copy.deepcopy(validate(cfg))
    keep = [a] if b is None else [a, b]
    plain["operating_model"] = {name: plain["operating_model"][_check_model(plain, name)] for name in keep}
    return plain


def tornado(
    cfg: DictConfig | Mapping,
    a: str,
    b: str | None = None,
    low: float = 0.10,
    high: float = 0.90,
    measure: str = "tco",
    npv: bool = False,
    inputs: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One-at-a-time sensitivity of the mean TCO of ``a`` (or of ``a - b``).

    Each uncertain input is fixed at its ``low`` and its ``high`` quantile in every
    replication while every other input keeps its random draw; both runs use the same
    seed, so the swing is a paired difference free of event noise.

    Returns
    -------
    DataFrame
        One row per input, largest swing first: ``input``, ``low_value``,
        ``high_value``, ``response_at_low``, ``response_at_high`` (mean USD),
        their standard errors, ``swing`` = high − low response, and ``base``
        (the mean with every input random).
    """
    plain = _two_models(cfg, a, b)
    keys, chosen = _chosen_inputs(plain, inputs)
    n = int(plain["replications"])
    base = _response(plain, a, b, measure, npv, None)
    rows = []
    for key in chosen:
        at_low = _response(plain, a, b, measure, npv, {key: np.full(n, low)})
        at_high = _response(plain, a, b, measure, npv, {key: np.full(n, high)})
        rows.append(
            {
                "input": key,
                "low_value": keys[key].quantile(low),
                "high_value": keys[key].quantile(high),
                "response_at_low": float(at_low.mean()),
                "response_at_high": float(at_high.mean()),
                "se_at_low": float(at_low.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
                "se_at_high": float(at_high.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
                "swing": float(at_high.mean() - at_low.mean()),
            }
        )
    frame = pd.DataFrame(rows)
    frame["base"] = float(base.mean())
    frame["response"] = f"{measure} of {a}" if b is None else f"{measure} of {a} minus {b}"
    frame["low_quantile"], frame["high_quantile"] = low, high
    frame = frame.reindex(frame["swing"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    frame["replications"] = n
    frame["seed"] = int(plain["seed"])
    return frame


def sobol_indices(
    cfg: DictConfig | Mapping,
    a: str,
    b: str | None = None,
    base_samples: int = 256,
    measure: str = "tco",
    npv: bool = False,
    inputs: Sequence[str] | None = None,
    resamples: int = 200,
) -> pd.DataFrame:
    """Variance-based (Sobol) first-order and total indices of the uncertain inputs for
    the TCO of ``a`` (or ``a - b``), with SALib's Saltelli design and estimators.

    Each of the ``base_samples`` groups of the design (the A row, the B row and one
    A-with-column-i-from-B row per input) runs on the *same* replication index, so the
    event world (drift, incidents, durations) is common within a group and only the
    inputs differ. The event noise is then a factor that is never varied: it appears
    in the total variance but in no input's index, so the indices sum to less than 1
    and ``1 - sum(ST)`` bounds the share of variance due to event randomness.

    Returns
    -------
    DataFrame
        One row per input: ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (95 % bootstrap
        half-widths from SALib), largest ``ST`` first.
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    plain = _two_models(cfg, a, b)
    _, names = _chosen_inputs(plain, inputs)
    if len(names) < 1:
        raise ValueError("sobol_indices: the config has no uncertain inputs")
    d = len(names)
    problem = {"num_vars": d, "names": names, "bounds": [[0.0, 1.0]] * d}
    seed = int(plain["seed"]) % (2**32)
    design = sobol_sample.sample(problem, base_samples, calc_second_order=False, seed=seed)
    design = np.clip(design, 1e-12, 1.0 - 1e-12)  # the inverse CDFs need the open interval
    group = d + 2
    run = copy.deepcopy(plain)
    run["replications"] = base_samples
    y = np.empty(design.shape[0])
    for position in range(group):
        rows = design[position::group]
        uniforms = {name: rows[:, j].copy() for j, name in enumerate(names)}
        y[position::group] = _response(run, a, b, measure, npv, uniforms)
    analysis = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=resamples, seed=seed)
    frame = pd.DataFrame(
        {
            "input": names,
            "S1": analysis["S1"],
            "S1_conf": analysis["S1_conf"],
            "ST": analysis["ST"],
            "ST_conf": analysis["ST_conf"],
        }
    )
    frame = frame.sort_values("ST", ascending=False, ignore_index=True)
    frame["response"] = f"{measure} of {a}" if b is None else f"{measure} of {a} minus {b}"
    frame["base_samples"] = base_samples
    frame["evaluations"] = design.shape[0]
    frame["seed"] = int(plain["seed"])
    return frame


# ---------------------------------------------------------------------------------
# precision control
# ---------------------------------------------------------------------------------
@dataclass
class PrecisionRun:
    """Output of :func:`run_to_precision`."""

    results: Results
    history: pd.DataFrame
    converged: bool
    replications: int
    target: float


def _precision_rows(results: Results, measure: str, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    totals = results.totals(measure)
    n = totals.shape[1]
    rows = []
    series: list[tuple[str, np.ndarray]] = [(name, totals[m]) for m, name in enumerate(results.model_names)]
    for a, b in pairs:
        series.append((f"{a} - {b}", totals[_index(results.model_names, a)] - totals[_index(results.model_names, b)]))
    for name, values in series:
        mean = float(values.mean())
        half = Z95 * float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else math.inf
        rows.append(
            {
                "replications": n,
                "quantity": name,
                "mean": mean,
                "half_width": half,
                "relative_half_width": half / abs(mean) if mean else math.inf,
            }
        )
    return rows


def run_to_precision(
    cfg: DictConfig | Mapping,
    target: float = 0.01,
    batch: int = 1000,
    max_replications: int = 100_000,
    measure: str = "tco",
    pairs: Sequence[tuple[str, str]] | str | None = "all",
    progress: Callable[[pd.DataFrame], None] | None = None,
) -> PrecisionRun:
    """Run replications in batches until the 95 % CI of every model's mean TCO, and of
    every paired difference, has a relative half-width at most ``target``.

    Batches are consecutive blocks of replication indices of one run of
    ``max_replications`` replications, so the result after ``n`` replications is
    exactly the first ``n`` replications of that run (whatever the batch size).
    A paired difference whose mean is near zero may never reach a relative target;
    the run then stops at ``max_replications`` with ``converged = False``.

    Parameters
    ----------
    pairs : "all", None or list of (a, b)
        Paired differences to control besides the model means.
    progress : callable, optional
        Called with the history after each batch.
    """
    if not 0 < target < 1:
        raise ValueError(f"target = {target!r}: must be a relative half-width in (0, 1)")
    if batch < 2 or max_replications < batch:
        raise ValueError(f"batch = {batch}, max_replications = {max_replications}: need 2 <= batch <= max_replications")
    plain = copy.deepcopy(validate(cfg))
    plain["replications"] = int(max_replications)
    names = list(plain["operating_model"])
    if pairs == "all":
        pair_list = list(itertools.combinations(names, 2))
    elif pairs is None:
        pair_list = []
    else:
        pair_list = [(a, b) for a, b in pairs]
    parts: list[Results] = []
    history: list[dict[str, Any]] = []
    done = 0
    converged = False
    while done < max_replications:
        stop = min(done + batch, max_replications)
        parts.append(_simulate_plain(plain, replications=np.arange(done, stop)))
        done = stop
        combined = Results.concat(parts) if len(parts) > 1 else parts[0]
        parts = [combined]
        rows = _precision_rows(combined, measure, pair_list)
        history.extend(rows)
        if progress is not None:
            progress(pd.DataFrame(history))
        if all(r["relative_half_width"] <= target for r in rows):
            converged = True
            break
    frame = pd.DataFrame(history)
    frame["target"] = target
    frame["seed"] = int(plain["seed"])
    return PrecisionRun(results=parts[0], history=frame, converged=converged, replications=done, target=target)
