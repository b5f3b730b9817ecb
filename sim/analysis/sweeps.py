"""Sweeps over one or two inputs: where the cheaper operating model changes, with a confidence interval on the crossing.

Every run uses the config's master seed, so all grid points see the same world
replication by replication (common random numbers).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from sim.analysis.summaries import MEASURES
from sim.core.labels import number, parameter_label, short_model_label
from sim.core.stats import ci95, share_a_cheaper, share_cheapest, standard_error
from sim.run.config import validate
from sim.run.results import Results, model_index


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
        """Mean, standard error and probability of being cheapest (ties split evenly,
        :func:`sim.core.stats.share_cheapest`) per point and model."""
        values = self.totals[_key(measure, npv)]
        g = values.shape[0]
        share = share_cheapest(values, axis=1)  # [points, models]
        rows = []
        for p in range(g):
            for k, name in enumerate(self.model_names):
                rows.append(
                    {
                        **self.points.iloc[p].to_dict(),
                        "operating_model": name,
                        "mean": float(values[p, k].mean()),
                        "se": float(standard_error(values[p, k])),
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


def simulate_plain(plain: dict, **kwargs: Any) -> Results:
    from sim.run.runner import simulate

    kwargs.setdefault("progress", False)  # a study runs many short simulations: no bar per point
    return simulate(plain, **kwargs)


def _grid_run(cfg: DictConfig | Mapping, assignments: list[dict[str, Any]], models: Sequence[str] | None, keep_results: bool) -> Sweep:
    base = copy.deepcopy(validate(cfg))
    if models is not None:
        base["operating_model"] = {name: base["operating_model"][check_model(base, name)] for name in models}
    totals: dict[str, list[np.ndarray]] = {k: [] for k in ("tco", "economic", "tco_npv", "economic_npv")}
    kept = []
    names: tuple[str, ...] = ()
    for assignment in assignments:
        plain = copy.deepcopy(base)
        for parameter, value in assignment.items():
            set_parameter(plain, parameter, value)
        results = simulate_plain(validate(plain))
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


def check_model(plain: Mapping, name: str) -> str:
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
        CI, ``p_a_cheaper`` (a tie counts one half, as in P(cheapest)) and the model
        that is cheaper on average.
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
    ia, ib = model_index(data.model_names, a), model_index(data.model_names, b)
    diffs = totals[:, ia, :] - totals[:, ib, :]
    x = data.points[parameter].to_numpy(dtype=float)
    crossing, low, high = crossing_interval(x, diffs, confidence, draws, seed=data.seed)
    se = standard_error(diffs, axis=1)
    mean = diffs.mean(axis=1)
    low_95, high_95 = ci95(mean, se)
    curve = pd.DataFrame(
        {
            parameter: x,
            "mean_difference": mean,
            "se": se,
            "ci95_low": low_95,
            "ci95_high": high_95,
            "p_a_cheaper": share_a_cheaper(diffs, axis=1),
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
