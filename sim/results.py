"""Simulation results: the ledger, operational metrics, summaries and paired comparisons."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.ledger import CATEGORIES, TCO_CATEGORIES
from sim.replication import METRICS

_TCO_MASK = np.array([c in TCO_CATEGORIES for c in CATEGORIES])
QUANTILES = (0.05, 0.50, 0.95)


@dataclass
class Results:
    """Output of :func:`sim.simulate`.

    Attributes
    ----------
    costs : ndarray, shape (models, replications, years, categories)
        USD by operating model, replication, year and ledger category.
    metrics_array : ndarray, shape (models, replications, metrics)
        Operational metrics (names in ``sim.replication.METRICS``).
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
        costs = self.costs if measure == "economic" else self.costs[..., _TCO_MASK]
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
        """One row per operating model: mean (with its standard error), p05, p50, p95 of
        TCO and economic cost, undiscounted and NPV, and the probability of being cheapest."""
        rows = []
        n = self.costs.shape[1]
        stats: dict[str, np.ndarray] = {}
        for measure in ("tco", "economic"):
            for npv in (False, True):
                stats[f"{measure}{'_npv' if npv else ''}"] = self.totals(measure, npv)
        cheapest = {k: _share_cheapest(stats[k]) for k in ("tco", "economic")}
        for m, name in enumerate(self.model_names):
            row: dict[str, Any] = {"operating_model": name, "label": self.model_labels[m]}
            for key, values in stats.items():
                v = values[m]
                row[f"{key}_mean"] = v.mean()
                row[f"{key}_se"] = v.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
                for q in QUANTILES:
                    row[f"{key}_p{round(q * 100):02d}"] = np.quantile(v, q)
                row[f"{key}_cvar95"] = float(cvar(v, 0.95))
            row["p_cheapest_tco"] = cheapest["tco"][m]
            row["p_cheapest_economic"] = cheapest["economic"][m]
            row["replications"] = n
            row["horizon_years"] = self.horizon_years
            row["seed"] = self.seed
            rows.append(row)
        return pd.DataFrame(rows)

    def by_category(self) -> pd.DataFrame:
        """Mean USD per replication by operating model and category (whole horizon)."""
        means = self.costs.sum(axis=2).mean(axis=1)  # [models, categories]
        return pd.DataFrame(means, index=pd.Index(self.model_names, name="operating_model"), columns=list(CATEGORIES))

    def paired(self, a: str, b: str, measure: str = "tco", npv: bool = False) -> dict[str, float]:
        """Paired comparison of ``a`` minus ``b`` on common random numbers.

        Returns the mean difference, its standard error and 95 % CI, P(a cheaper
        than b), and the standard error an unpaired comparison would have had.
        """
        totals = self.totals(measure, npv)
        ia, ib = self.model_names.index(a), self.model_names.index(b)
        diff = totals[ia] - totals[ib]
        n = diff.shape[0]
        se = diff.std(ddof=1) / np.sqrt(n)
        unpaired = np.sqrt(totals[ia].var(ddof=1) / n + totals[ib].var(ddof=1) / n)
        return {
            "mean_difference": float(diff.mean()),
            "se": float(se),
            "ci95_low": float(diff.mean() - 1.96 * se),
            "ci95_high": float(diff.mean() + 1.96 * se),
            "p_a_cheaper": float(np.mean(diff < 0)),
            "unpaired_se": float(unpaired),
        }

    # -- output ------------------------------------------------------------------
    def metadata(self) -> dict[str, str]:
        return {
            "lora_tco.seed": str(self.seed),
            "lora_tco.engine": self.engine,
            "lora_tco.horizon_years": str(self.horizon_years),
            "lora_tco.config": json.dumps(self.config, sort_keys=True, default=str),
        }

    def save(self, directory: str | os.PathLike) -> list[Path]:
        """Write ``summary.csv``, ``ledger.parquet`` and ``metrics.parquet`` (each atomically)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = [
            atomic_write(directory / "summary.csv", lambda p: self.summary().to_csv(p, index=False)),
            atomic_write(directory / "ledger.parquet", lambda p: _write_parquet(self.ledger, p, self.metadata())),
            atomic_write(directory / "metrics.parquet", lambda p: _write_parquet(self.metrics, p, self.metadata())),
        ]
        return written


def cvar(values: np.ndarray, level: float = 0.95, axis: int = -1) -> np.ndarray:
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


def _share_cheapest(totals: np.ndarray) -> np.ndarray:
    """Share of replications in which each model is cheapest; ties split evenly."""
    is_min = totals == totals.min(axis=0, keepdims=True)
    return (is_min / is_min.sum(axis=0, keepdims=True)).mean(axis=1)


def _write_parquet(frame: pd.DataFrame, path: Path, metadata: Mapping[str, str]) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    merged = {**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in metadata.items()}}
    pq.write_table(table.replace_schema_metadata(merged), path)


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
