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

from models.compile import ACCOUNTING_BASES, accounting_basis
from sim.ledger import CATEGORIES, TCO_CATEGORIES
from sim.replication import METRICS

_TCO_MASK = np.array([c in TCO_CATEGORIES for c in CATEGORIES])
QUANTILES = (0.05, 0.50, 0.95)
SAVED_TABLES = ("ledger.parquet", "metrics.parquet", "replications.parquet")  # what Results.save writes beside summary.csv
IDLE_UTILIZATION = 0.10  # paid capacity busy less than this share of its paid hours over the run is flagged


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
        basis, warnings = self.accounting_basis, self.capacity_warnings()
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
                        f"reserved training GPUs are paid for all year but busy {busy:.1%} of the time (under {IDLE_UTILIZATION:.0%})"
                    )
            billed = x[:, metric["serving_gpu_hours"]]
            if self.costs[m, :, :, CATEGORIES.index("gpu_serving")].sum() > 0 and billed.sum() > 0:
                busy = float((x[:, metric["serving_utilization"]] * billed).sum() / billed.sum())
                if busy < IDLE_UTILIZATION:
                    found.append(f"serving GPUs are busy {busy:.1%} of their paid hours (under {IDLE_UTILIZATION:.0%})")
            out[name] = found
        return out

    def by_category(self) -> pd.DataFrame:
        """Mean USD per replication by operating model and category (whole horizon)."""
        means = self.costs.sum(axis=2).mean(axis=1)  # [models, categories]
        return pd.DataFrame(means, index=pd.Index(self.model_names, name="operating_model"), columns=list(CATEGORIES))

    def paired(self, a: str, b: str, measure: str = "tco", npv: bool = False) -> dict[str, float]:
        """Paired comparison of ``a`` minus ``b`` on common random numbers.

        Returns the mean difference, its standard error and 95 % CI, P(a cheaper
        than b), and the standard error an unpaired comparison would have had.
        """
        from sim.analysis import paired_comparison  # the one implementation; analysis imports this module

        row = paired_comparison(self, a, b, measure, npv).iloc[0]
        keys = ("mean_difference", "se", "ci95_low", "ci95_high", "p_a_cheaper", "unpaired_se")
        return {key: float(row[key]) for key in keys}

    # -- output ------------------------------------------------------------------
    def metadata(self) -> dict[str, str]:
        return {
            "lora_tco.seed": str(self.seed),
            "lora_tco.engine": self.engine,
            "lora_tco.horizon_years": str(self.horizon_years),
            "lora_tco.shard": self.shard,
            "lora_tco.models": json.dumps(list(self.model_names)),
            "lora_tco.model_labels": json.dumps(list(self.model_labels)),
            "lora_tco.config": json.dumps(self.config, sort_keys=True, default=str),
            "lora_tco.accounting_basis": self.accounting_basis,
            "lora_tco.accounting_basis_meaning": ACCOUNTING_BASES[self.accounting_basis],
            "lora_tco.warnings": json.dumps(self.capacity_warnings()),
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


def _codes(column: pd.Series, names: Sequence[str]) -> np.ndarray:
    """Position of each value of a (categorical) column in ``names``; -1 where absent."""
    values = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    lookup = np.append(pd.Index(list(names)).get_indexer(values.cat.categories.astype(str)), -1)
    return lookup[values.cat.codes.to_numpy(np.int64)]  # code -1 (missing) picks the appended -1


def _share_cheapest(totals: np.ndarray) -> np.ndarray:
    """Share of replications in which each model is cheapest; ties split evenly."""
    is_min = totals == totals.min(axis=0, keepdims=True)
    return (is_min / is_min.sum(axis=0, keepdims=True)).mean(axis=1)


def write_parquet(frame: pd.DataFrame, path: Path, metadata: Mapping[str, str]) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    merged = {**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in metadata.items()}}
    pq.write_table(table.replace_schema_metadata(merged), path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
