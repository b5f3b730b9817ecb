"""Simulation results: the ledger, operational metrics, summaries and paired comparisons."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models.compile import ACCOUNTING_BASES, accounting_basis
from models.errors import ConfigError
from sim.core import interrupt
from sim.core.labels import percent
from sim.core.ledger import CATEGORIES, TCO_MASK
from sim.core.metrics import METRICS
from sim.core.stats import QUANTILES, describe, paired_difference, quantile_name, share_cheapest

# The statistics of each total that Results.summary reports, in its column order (``tco_mean``, ``tco_se``, ...).
SUMMARY_STATISTICS = ("mean", "se", *(quantile_name(q) for q in QUANTILES), "cvar95")
PAIRED_KEYS = ("mean_difference", "se", "ci95_low", "ci95_high", "p_a_cheaper", "unpaired_se")  # what Results.paired returns
SAVED_TABLES = ("ledger.parquet", "metrics.parquet", "replications.parquet")  # what Results.save writes beside summary.csv
IDLE_UTILIZATION = 0.10  # paid capacity busy less than this share of its paid hours over the run is flagged
# A run in which more than this share of some model's replications stopped at the event cap is
# refused (check_truncation) unless engine.allow_truncated: its totals are not a horizon's TCO.
TRUNCATION_LIMIT = 0.01
# The 0/1 queue flags of sim.engines.reference.replication.METRICS: metric -> (the queue, who serves it), in words.
UNSTABLE_QUEUES = {
    "unstable_gpu": ("GPU pool queue", "the GPUs"),
    "unstable_engineers": ("engineer queue", "the engineers"),
    "unstable_reviewers": ("review queue", "the reviewers"),
}


@dataclass
class Results:
    """Output of :func:`sim.simulate`.

    Attributes
    ----------
    costs : ndarray, shape (models, replications, years, categories)
        USD by operating model, replication, year and ledger category.
    metrics_array : ndarray, shape (models, replications, metrics)
        Operational metrics (names in ``sim.engines.reference.replication.METRICS``).
    """

    model_names: tuple[str, ...]
    model_labels: tuple[str, ...]
    replications: np.ndarray
    costs: np.ndarray
    metrics_array: np.ndarray
    discount_rates: np.ndarray  # per replication
    seed: int
    horizon_years: int
    engine: str
    config: dict[str, Any] = field(default_factory=dict)
    one_time_usd: np.ndarray | None = None  # [models, replications]: set-up costs booked in year 0
    shard: str = ""  # "i/n" when this is shard i of n of a run (``cfg.shard``), "" otherwise

    @classmethod
    def concat(cls, parts: Sequence[Results]) -> Results:
        """Join results of disjoint replication sets of one run (shards, batches),
        ordered by replication index: the same arrays as the run made in one piece."""
        if not parts:
            raise ValueError("Results.concat: nothing to join")
        first = parts[0]
        for other in parts[1:]:
            for name in ("model_names", "seed", "horizon_years"):
                if getattr(other, name) != getattr(first, name):
                    raise ValueError(f"Results.concat: {name} differs between parts ({getattr(other, name)!r} vs {getattr(first, name)!r})")
        replications = np.concatenate([p.replications for p in parts])
        order = np.argsort(replications, kind="stable")
        if np.any(np.diff(replications[order]) == 0):
            raise ValueError("Results.concat: a replication index appears in more than one part")
        one_time = None
        if all(p.one_time_usd is not None for p in parts):
            one_time = np.concatenate([p.one_time_usd for p in parts], axis=1)[:, order]
        return cls(
            model_names=first.model_names,
            model_labels=first.model_labels,
            replications=replications[order],
            costs=np.concatenate([p.costs for p in parts], axis=1)[:, order],
            metrics_array=np.concatenate([p.metrics_array for p in parts], axis=1)[:, order],
            discount_rates=np.concatenate([p.discount_rates for p in parts])[order],
            seed=first.seed,
            horizon_years=first.horizon_years,
            engine=first.engine,
            config=first.config,
            one_time_usd=one_time,
        )

    @classmethod
    def from_saved(cls, directory: str | os.PathLike) -> Results:
        """Rebuild the results a run saved with :meth:`save` (``ledger.parquet``,
        ``metrics.parquet``, ``replications.parquet`` and their metadata).

        The arrays are exactly the ones saved: ``from_saved(d).save(e)`` writes the
        same tables as ``d`` holds.

        Raises
        ------
        FileNotFoundError
            If a file is missing.
        ValueError
            If the files do not belong together or lack lora-tco metadata.
        """
        directory = Path(directory)
        tables = {}
        for name in SAVED_TABLES:
            path = directory / name
            if not path.is_file():
                raise FileNotFoundError(f"{path}: missing (not a lora-tco run directory, or written by an older version)")
            tables[name] = pq.read_table(path)
        meta = {k.decode(): v.decode() for k, v in (tables["ledger.parquet"].schema.metadata or {}).items() if k.startswith(b"lora_tco.")}
        missing = [k for k in ("lora_tco.seed", "lora_tco.models", "lora_tco.model_labels", "lora_tco.config") if k not in meta]
        if missing:
            raise ValueError(f"{directory / 'ledger.parquet'}: no {missing[0]} in the parquet metadata (written by an older lora-tco?)")
        names = tuple(json.loads(meta["lora_tco.models"]))
        labels = tuple(json.loads(meta["lora_tco.model_labels"]))
        horizon = int(meta["lora_tco.horizon_years"])

        per_rep = tables["replications.parquet"].to_pandas()
        replications = pd.unique(per_rep["replication"].to_numpy(np.int64))  # in the saved order
        n_models, n_reps = len(names), replications.shape[0]
        index = pd.Index(replications)

        def positions(frame: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
            model = _codes(frame["operating_model"], names)
            row = index.get_indexer(frame["replication"].to_numpy(np.int64))
            if (model < 0).any() or (row < 0).any():
                raise ValueError(f"{directory / what}: rows for operating models or replications the run does not have")
            return model, row

        ledger = tables["ledger.parquet"].to_pandas()
        if len(ledger) != n_models * n_reps * horizon * len(CATEGORIES):
            raise ValueError(f"{directory / 'ledger.parquet'}: {len(ledger)} rows, expected models x replications x years x categories")
        model, row = positions(ledger, "ledger.parquet")
        category = _codes(ledger["category"], CATEGORIES)
        if (category < 0).any():
            raise ValueError(f"{directory / 'ledger.parquet'}: a category that is not one of the ledger's")
        costs = np.full((n_models, n_reps, horizon, len(CATEGORIES)), np.nan)
        costs[model, row, ledger["year"].to_numpy(np.int64), category] = ledger["usd"].to_numpy(np.float64)

        metrics_frame = tables["metrics.parquet"].to_pandas()
        model, row = positions(metrics_frame, "metrics.parquet")
        metrics = np.full((n_models, n_reps, len(METRICS)), np.nan)
        metrics[model, row] = metrics_frame[list(METRICS)].to_numpy(np.float64)

        model, row = positions(per_rep, "replications.parquet")
        discount = np.full(n_reps, np.nan)
        discount[row] = per_rep["discount_rate"].to_numpy(np.float64)
        one_time = None
        if "one_time_usd" in per_rep.columns:
            one_time = np.full((n_models, n_reps), np.nan)
            one_time[model, row] = per_rep["one_time_usd"].to_numpy(np.float64)
        if np.isnan(costs).any() or np.isnan(metrics).any() or np.isnan(discount).any():
            raise ValueError(f"{directory}: the saved tables do not cover every operating model x replication")
        return cls(
            model_names=names,
            model_labels=labels,
            replications=replications,
            costs=costs,
            metrics_array=metrics,
            discount_rates=discount,
            seed=int(meta["lora_tco.seed"]),
            horizon_years=horizon,
            engine=meta.get("lora_tco.engine", ""),
            config=json.loads(meta["lora_tco.config"]),
            one_time_usd=one_time,
            shard=meta.get("lora_tco.shard", ""),
        )

    # -- tidy frames -------------------------------------------------------------
    @property
    def ledger(self) -> pd.DataFrame:
        """The ledger (contract): replication, operating_model, year, category, usd."""
        m, _, y, c = self.costs.shape
        index = pd.MultiIndex.from_product(
            [range(m), self.replications, range(y), range(c)], names=["model", "replication", "year", "category"]
        )
        frame = index.to_frame(index=False)
        return pd.DataFrame(
            {
                "replication": frame["replication"].to_numpy(np.int64),
                "operating_model": pd.Categorical.from_codes(frame["model"], categories=list(self.model_names)),
                "year": frame["year"].to_numpy(np.int64),
                "category": pd.Categorical.from_codes(frame["category"], categories=list(CATEGORIES)),
                "usd": self.costs.reshape(-1),
            }
        )

    @property
    def metrics(self) -> pd.DataFrame:
        """Operational metrics, one row per replication x operating model."""
        m, r, _ = self.metrics_array.shape
        frame = pd.DataFrame(self.metrics_array.reshape(m * r, -1), columns=list(METRICS))
        frame.insert(0, "operating_model", pd.Categorical.from_codes(np.repeat(np.arange(m), r), categories=list(self.model_names)))
        frame.insert(0, "replication", np.tile(self.replications, m))
        return frame

    @property
    def per_replication(self) -> pd.DataFrame:
        """What NPV and the one-time / recurring split need besides the ledger, one row
        per replication x operating model: the replication's sampled discount rate and
        the model's one-time (set-up) USD, booked in year 0."""
        m, r = len(self.model_names), self.replications.shape[0]
        frame = pd.DataFrame(
            {
                "replication": np.tile(self.replications, m),
                "operating_model": pd.Categorical.from_codes(np.repeat(np.arange(m), r), categories=list(self.model_names)),
                "discount_rate": np.tile(self.discount_rates, m),
            }
        )
        if self.one_time_usd is not None:
            frame["one_time_usd"] = self.one_time_usd.reshape(-1)
        return frame

    def discount_factors(self) -> np.ndarray:
        """Discount factor per replication and year (year ``y`` discounted ``y`` years)."""
        years = np.arange(self.horizon_years)
        return (1.0 + self.discount_rates[:, None]) ** -years[None, :]  # [replications, years]

    def one_time_by_year(self) -> np.ndarray:
        """One-time (set-up) USD per model, replication and year; the rest of TCO recurs."""
        out = np.zeros(self.costs.shape[:3])
        if self.one_time_usd is not None and self.horizon_years > 0:
            out[:, :, 0] = self.one_time_usd
        return out

    def totals(self, measure: str = "tco", npv: bool = False) -> np.ndarray:
        """Total per (model, replication): ``measure`` is ``tco`` or ``economic``."""
        costs = self.costs if measure == "economic" else self.costs[..., TCO_MASK]
        if measure not in ("tco", "economic"):
            raise ValueError(f"measure = {measure!r}: must be 'tco' or 'economic'")
        by_year = costs.sum(axis=3)
        if npv:
            by_year = by_year * self.discount_factors()[None]
        return by_year.sum(axis=2)

    def totals_frame(self, measure: str = "tco", npv: bool = False) -> pd.DataFrame:
        """Totals as a DataFrame: index replication, one column per operating model."""
        return pd.DataFrame(
            self.totals(measure, npv).T, index=pd.Index(self.replications, name="replication"), columns=list(self.model_names)
        )

    # -- summaries -----------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """One row per operating model: of TCO and economic cost, undiscounted and NPV, the
        mean with its standard error, p05, p50, p95 and CVaR95 (:func:`sim.core.stats.describe`),
        and the probability of being cheapest.

        ``p_cheapest_tco`` and ``p_cheapest_economic`` split ties evenly: a replication in
        which ``k`` models cost exactly the least counts ``1/k`` for each of them
        (:func:`sim.core.stats.share_cheapest`, the same rule as the paired
        ``p_a_cheaper``), so each column sums to 1 over the models.
        """
        rows = []
        n = self.costs.shape[1]
        totals: dict[str, np.ndarray] = {}
        for measure in ("tco", "economic"):
            for npv in (False, True):
                totals[f"{measure}{'_npv' if npv else ''}"] = self.totals(measure, npv)
        cheapest = {k: share_cheapest(totals[k]) for k in ("tco", "economic")}
        basis, warnings = self.accounting_basis, self.warnings()
        for m, name in enumerate(self.model_names):
            row: dict[str, Any] = {"operating_model": name, "label": self.model_labels[m]}
            for key, values in totals.items():
                described = describe(values[m])
                row.update({f"{key}_{stat}": described[stat] for stat in SUMMARY_STATISTICS})
            row["p_cheapest_tco"] = cheapest["tco"][m]
            row["p_cheapest_economic"] = cheapest["economic"][m]
            row["replications"] = n
            row["horizon_years"] = self.horizon_years
            row["seed"] = self.seed
            row["accounting_basis"] = basis
            row["warnings"] = "; ".join(warnings[name])
            rows.append(row)
        return pd.DataFrame(rows)

    @property
    def accounting_basis(self) -> str:
        """``fully_loaded`` or ``incremental`` (:data:`models.compile.ACCOUNTING_BASES`), from the run's scenario."""
        scenario = (self.config or {}).get("scenario")
        return accounting_basis(scenario) if scenario else "fully_loaded"

    def capacity_warnings(self) -> dict[str, list[str]]:
        """Paid capacity that sat idle, per operating model, in words.

        A reserved training pool or a team serving fleet is flagged when, pooled over
        every replication, it was busy less than :data:`IDLE_UTILIZATION` of the hours
        it was paid for. Existing reserved GPUs (paid before this decision) are not.
        """
        metric = {name: i for i, name in enumerate(METRICS)}
        out: dict[str, list[str]] = {}
        for m, name in enumerate(self.model_names):
            x = self.metrics_array[m]
            found = []
            if np.any(x[:, metric["reserved_gpus_paid"]] > 0):
                busy = float(x[:, metric["reserved_gpu_utilization"]].mean())
                if busy < IDLE_UTILIZATION:
                    found.append(
                        f"reserved training GPUs are paid for all year but busy {percent(busy, 1)} of the time "
                        f"(under {percent(IDLE_UTILIZATION)})"
                    )
            billed = x[:, metric["serving_gpu_hours"]]
            if self.costs[m, :, :, CATEGORIES.index("gpu_serving")].sum() > 0 and billed.sum() > 0:
                busy = float((x[:, metric["serving_utilization"]] * billed).sum() / billed.sum())
                if busy < IDLE_UTILIZATION:
                    found.append(f"serving GPUs are busy {percent(busy, 1)} of their paid hours (under {percent(IDLE_UTILIZATION)})")
            out[name] = found
        return out

    def flagged(self, metric: str) -> np.ndarray:
        """Replications per operating model in which a 0/1 flag of ``sim.engines.reference.replication.METRICS``
        (``truncated``, ``unstable_gpu``, ...) is set, in ``model_names`` order."""
        return (self.metrics_array[:, :, METRICS.index(metric)] > 0).sum(axis=1)

    def truncated_share(self) -> float:
        """The largest share, over operating models, of replications that stopped at the
        event cap (``engine.max_events_per_replication``); 0 for an empty run."""
        n = self.metrics_array.shape[1]
        return float(self.flagged("truncated").max() / n) if n and self.model_names else 0.0

    def run_warnings(self) -> dict[str, list[str]]:
        """Replications whose numbers are not a whole horizon of a steady system, per
        operating model, in words with their count and share.

        A replication that hit the event cap covers only part of the horizon; one with
        an unstable queue (work still waiting at the end with its servers saturated)
        leaves the waiting work uncosted, and that backlog grows with the horizon.
        """
        n = self.metrics_array.shape[1]
        where = _event_cap(self.config)
        counts = {metric: self.flagged(metric) for metric in ("truncated", *UNSTABLE_QUEUES)}
        out: dict[str, list[str]] = {}
        for m, name in enumerate(self.model_names):
            found = []
            k = int(counts["truncated"][m])
            if k:
                found.append(f"{_of(k, n)} stopped at the event cap ({where}); their costs cover only part of the horizon")
            for metric, (queue, servers) in UNSTABLE_QUEUES.items():
                k = int(counts[metric][m])
                if k:
                    found.append(
                        f"the {queue} was unstable in {_of(k, n)}: work was still waiting at the end with {servers} "
                        "saturated, so the backlog grows with the horizon and the waiting work is not costed"
                    )
            out[name] = found
        return out

    def warnings(self) -> dict[str, list[str]]:
        """Every warning per operating model: :meth:`run_warnings`, then
        :meth:`capacity_warnings`. The summary's ``warnings`` column, the saved
        metadata and the command line's ``warning:`` lines all show these."""
        run, capacity = self.run_warnings(), self.capacity_warnings()
        return {name: run[name] + capacity[name] for name in self.model_names}

    def short_warnings(self) -> list[str]:
        """The run warnings in a few words for a chart footnote, over every operating
        model (the largest share), e.g. ``3.2% of replications truncated at the event cap``."""
        n = self.metrics_array.shape[1]
        if not n or not self.model_names:
            return []
        out = []
        k = int(self.flagged("truncated").max())
        if k:
            out.append(f"{percent(k / n, 1)} of replications truncated at the event cap")
        for metric, (queue, _servers) in UNSTABLE_QUEUES.items():
            k = int(self.flagged(metric).max())
            if k:
                out.append(f"{queue} unstable in {percent(k / n, 1)} of replications")
        return out

    def first_non_finite(self) -> tuple[int, int, str, int | None] | None:
        """Where the results first stop being finite numbers: ``(model, row, name,
        year)`` with ``name`` a ledger category (``year`` its index) or a metric
        (``year`` None), models in order, the ledger before the metrics; None when
        every cost and metric is finite."""
        for m in range(len(self.model_names)):
            bad = ~np.isfinite(self.costs[m])  # [replications, years, categories]
            if bad.any():
                category = int(np.flatnonzero(bad.any(axis=(0, 1)))[0])
                row, year = np.argwhere(bad[:, :, category])[0]
                return m, int(row), CATEGORIES[category], int(year)
            bad = ~np.isfinite(self.metrics_array[m])  # [replications, metrics]
            if bad.any():
                metric = int(np.flatnonzero(bad.any(axis=0))[0])
                return m, int(np.flatnonzero(bad[:, metric])[0]), METRICS[metric], None
        return None

    def by_category(self) -> pd.DataFrame:
        """Mean USD per replication by operating model and category (whole horizon)."""
        means = self.costs.sum(axis=2).mean(axis=1)  # [models, categories]
        return pd.DataFrame(means, index=pd.Index(self.model_names, name="operating_model"), columns=list(CATEGORIES))

    def paired(self, a: str, b: str, measure: str = "tco", npv: bool = False) -> dict[str, float]:
        """Paired comparison of ``a`` minus ``b`` on common random numbers.

        Parameters
        ----------
        a, b : str
            Operating model names.
        measure : {"tco", "economic"}
        npv : bool
            Discounted totals.

        Returns
        -------
        dict
            :data:`PAIRED_KEYS`: the mean difference, its standard error and 95 % CI,
            P(a cheaper than b) (a tie counts one half, as in P(cheapest)) and the
            standard error an unpaired comparison would have had; the same numbers as
            the row of :func:`sim.analysis.paired_comparison` (both are
            :func:`sim.core.stats.paired_difference`).

        Raises
        ------
        ValueError
            If ``a`` or ``b`` is not one of the run's operating models.
        """
        totals = self.totals(measure, npv)
        ia, ib = model_index(self.model_names, a), model_index(self.model_names, b)
        difference = paired_difference(totals[ia], totals[ib])
        return {key: difference[key] for key in PAIRED_KEYS}

    # -- output ------------------------------------------------------------------
    def metadata(self) -> dict[str, str]:
        """The ``lora_tco.*`` keys every saved parquet file carries: what run the rows are
        from (``config_sha256``: :func:`config_digest`, as in a run folder's done marker)."""
        return {
            "lora_tco.seed": str(self.seed),
            "lora_tco.engine": self.engine,
            "lora_tco.horizon_years": str(self.horizon_years),
            "lora_tco.shard": self.shard,
            "lora_tco.models": json.dumps(list(self.model_names)),
            "lora_tco.model_labels": json.dumps(list(self.model_labels)),
            "lora_tco.config": json.dumps(self.config, sort_keys=True, default=str),
            "lora_tco.config_sha256": config_digest(self.config),
            "lora_tco.accounting_basis": self.accounting_basis,
            "lora_tco.accounting_basis_meaning": ACCOUNTING_BASES[self.accounting_basis],
            "lora_tco.warnings": json.dumps(self.warnings()),
        }

    def save(self, directory: str | os.PathLike) -> list[Path]:
        """Write ``summary.csv``, ``ledger.parquet``, ``metrics.parquet`` and
        ``replications.parquet`` (each atomically); the parquet files carry the seed,
        engine, horizon, shard, models and config in their metadata, and together
        hold everything :meth:`from_saved` needs to rebuild these results."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = self.metadata()
        written = [
            atomic_write(directory / "summary.csv", lambda p: self.summary().to_csv(p, index=False)),
            atomic_write(directory / "ledger.parquet", lambda p: write_parquet(self.ledger, p, meta)),
            atomic_write(directory / "metrics.parquet", lambda p: write_parquet(self.metrics, p, meta)),
            atomic_write(directory / "replications.parquet", lambda p: write_parquet(self.per_replication, p, meta)),
        ]
        return written


class SimulationError(ConfigError):
    """Results that cannot be used, with a one-line message naming the operating model,
    what is wrong and the input that likely caused it.

    A :class:`~models.errors.ConfigError` (bad input, found by simulating it), so
    whatever reports bad input in one line reports this too. ``field`` and ``value``
    name the likely input ("" and None when there is none).
    """

    def __init__(self, message: str, field: str = "", value: Any = None):
        self.field = field
        self.value = value
        self.allowed = message
        ValueError.__init__(self, self.message())

    def message(self) -> str:
        """The one-line message (it names the input itself, so no ``field = value:`` prefix)."""
        return " ".join(self.allowed.split())


def check_truncation(results: Results, allow: bool | None = None) -> str | None:
    """Refuse a run in which too many replications stopped at the event cap.

    Parameters
    ----------
    results : Results
    allow : bool, optional
        Keep the run anyway; default the run's ``engine.allow_truncated`` (false).

    Returns
    -------
    str or None
        None when no operating model has more than :data:`TRUNCATION_LIMIT` of its
        replications truncated (or ``allow``); otherwise the one-line refusal,
        starting ``lora-tco:``, naming the worst model, the count and share, the cap
        and what to do. The command line writes the run's files with their warnings,
        prints this line and exits 3 without marking the run done.
    """
    engine = (results.config or {}).get("engine") or {}
    if allow is None:
        allow = bool(engine.get("allow_truncated", False))
    n = results.metrics_array.shape[1]
    if allow or results.truncated_share() <= TRUNCATION_LIMIT:
        return None
    counts = results.flagged("truncated")
    worst = int(np.argmax(counts))
    others = int(np.count_nonzero(counts / n > TRUNCATION_LIMIT)) - 1
    who = results.model_labels[worst] + (f" (and {others} other operating model{'s' if others > 1 else ''})" if others else "")
    where = _event_cap(results.config)
    truncated = results.metrics_array[worst, :, METRICS.index("truncated")] > 0
    queues = [
        f"the {queue} was unstable in {percent(share, 1)} of them"
        for metric, (queue, _servers) in UNSTABLE_QUEUES.items()
        if (share := float((results.metrics_array[worst, truncated, METRICS.index(metric)] > 0).mean())) > 0
    ]
    why = "".join(f"; {q}" for q in queues)
    return (
        f"lora-tco: {percent(counts[worst] / n, 1)} of replications ({int(counts[worst]):,} of {n:,}) of {who} stopped at the "
        f"event cap ({where}{why}), more than the {percent(TRUNCATION_LIMIT)} allowed; the results are not a "
        f"{results.horizon_years}-year TCO. Raise engine.max_events_per_replication, fix the input that makes events "
        "explode, or set engine.allow_truncated=true to keep them"
    )


def check_finite(results: Results, likely: Callable[[int, int], tuple[str, float]] | None = None) -> None:
    """Refuse results with a cost or metric that is not a finite number.

    Parameters
    ----------
    results : Results
    likely : callable, optional
        ``likely(model, row) -> (field, value)``: the input most likely to blame for
        that model and replication row, named in the message.

    Raises
    ------
    SimulationError
        One line naming the operating model, the first ledger category (with its
        year and replication) or metric that is not finite, and the likely input.
    """
    found = results.first_non_finite()
    if found is None:
        return
    m, row, name, year = found
    replication = int(results.replications[row])
    if year is None:
        value = results.metrics_array[m, row, METRICS.index(name)]
        where = f"metric {name} = {value} in replication {replication}"
    else:
        value = results.costs[m, row, year, CATEGORIES.index(name)]
        where = f"ledger category {name} = {value} in year {year + 1} of replication {replication}"
    message = f"the simulated results of {results.model_labels[m]} are not finite numbers: {where}"
    field, cause = "", None
    if likely is not None:
        field, cause = likely(m, row)
        message += f"; the likely cause is that replication's largest input, {field} = {cause:g}: use a realistic value"
    raise SimulationError(message, field, cause)


def _event_cap(config: Mapping | None) -> str:
    """``engine.max_events_per_replication = 5,000,000``, the run's event cap."""
    cap = ((config or {}).get("engine") or {}).get("max_events_per_replication")
    return "engine.max_events_per_replication" + (f" = {cap:,}" if isinstance(cap, int) else "")


def _of(count: int, total: int) -> str:
    """``12 of 1,000 replications (1.2 %)``."""
    return f"{count:,} of {total:,} replications ({percent(count / total, 1)})"


def model_index(names: Sequence[str], name: str) -> int:
    """Position of operating model ``name`` in ``names``.

    Raises
    ------
    ValueError
        Naming the models there are, if ``name`` is not one of them.
    """
    if name not in names:
        raise ValueError(f"operating_model = {name!r}: must be one of {', '.join(names)}")
    return list(names).index(name)


def _codes(column: pd.Series, names: Sequence[str]) -> np.ndarray:
    """Position of each value of a (categorical) column in ``names``; -1 where absent."""
    values = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    lookup = np.append(pd.Index(list(names)).get_indexer(values.cat.categories.astype(str)), -1)
    return lookup[values.cat.codes.to_numpy(np.int64)]  # code -1 (missing) picks the appended -1


def config_digest(plain: Mapping[str, Any]) -> str:
    """SHA-256 of the config that determines the numbers (``output`` excluded): the same
    digest for a run's plain config, its results' metadata and its done marker."""
    relevant = {k: v for k, v in plain.items() if k != "output"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def write_parquet(frame: pd.DataFrame, path: Path, metadata: Mapping[str, str]) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    merged = {**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in metadata.items()}}
    pq.write_table(table.replace_schema_metadata(merged), path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _os_reason(exc: OSError) -> tuple[int | None, str]:
    """The errno and the system's words for it; a library that wraps the error in its own
    text (pyarrow: "Error writing bytes to file. Detail: [errno 27] ...") keeps the errno only there."""
    number = exc.errno
    if number is None:
        found = re.search(r"\[errno (\d+)\]", str(exc), flags=re.IGNORECASE)
        number = int(found.group(1)) if found else None
    if number is not None:
        return number, os.strerror(number)
    return None, exc.strerror or " ".join(str(exc).split())


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the same folder, then rename over ``path``.

    A failure leaves no temporary file, and an ``OSError`` names ``path`` (not the
    temporary name): a full disk or a folder without write permission is told as
    the file the user asked for.
    """
    interrupt.check()  # a checkpoint between files: a signal lost on its way stops the run here
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise OSError(*_os_reason(exc), str(path)) from exc
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(*_os_reason(exc), str(path)) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
