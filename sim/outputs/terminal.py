"""Text tables for the terminal: the summary table and the paired lines that ``lora-tco``
and ``lora-tco-merge`` print after a run."""

from __future__ import annotations

from models.compile import ACCOUNTING_BASES
from sim.analysis import paired_comparison
from sim.core.labels import text_table, usd_unit
from sim.core.stats import Z95
from sim.run.results import Results

__all__ = ["SUMMARY_COLUMNS", "format_paired", "format_summary"]

# (header, column of Results.summary()) of the summary table, in the order printed.
SUMMARY_COLUMNS = (
    ("TCO mean", "tco_mean"),
    ("p05", "tco_p05"),
    ("p50", "tco_p50"),
    ("p95", "tco_p95"),
    ("econ mean", "economic_mean"),
    ("econ p05", "economic_p05"),
    ("econ p95", "economic_p95"),
)


def _size(results: Results, replications: int) -> str:
    if results.shard:
        total = results.config.get("replications", replications) if results.config else replications
        return f"shard {results.shard}: {replications:,} of {int(total):,} replications"
    return f"{replications:,} replications"


def format_summary(results: Results) -> str:
    """The summary as a text table, in USD thousands or millions (whichever keeps the
    numbers readable), columns as wide as their widest cell.

    Parameters
    ----------
    results : Results
        A run, a shard of one, or merged shards.

    Returns
    -------
    str
        The heading (size, horizon, seed, unit), the accounting basis, the table (one
        row per operating model, with P(cheapest)) and each model's warnings, one a line.
    """
    s = results.summary()
    divisor, unit, decimals = usd_unit(s[[key for _, key in SUMMARY_COLUMNS]].to_numpy().ravel())
    rows = [
        [r["label"], *(f"{r[key] / divisor:,.{decimals}f}" for _, key in SUMMARY_COLUMNS), f"{r['p_cheapest_tco']:.0%}"]
        for _, r in s.iterrows()
    ]
    lines = [
        f"lora-tco: {_size(results, int(s['replications'].iloc[0]))} x {results.horizon_years} years, seed {results.seed} "
        f"({unit}, undiscounted; economic = TCO + downtime + staleness)",
        f"accounting basis: {ACCOUNTING_BASES[results.accounting_basis]}",
        *text_table(["operating model", *(name for name, _ in SUMMARY_COLUMNS), "P(cheapest)"], rows),
    ]
    labels = dict(zip(results.model_names, results.model_labels, strict=True))
    for name, found in results.warnings().items():
        lines += [f"warning: {labels[name]}: {text}" for text in found]
    return "\n".join(lines)


def format_paired(results: Results) -> str:
    """Each other model against the cheapest on average: the paired difference with its
    95 % CI, beside the CI an unpaired comparison of the same runs would give.

    Parameters
    ----------
    results : Results
        A run of at least two operating models and two replications.

    Returns
    -------
    str
        One heading and one line per other model, in USD thousands; empty when there
        is nothing to pair.
    """
    if len(results.model_names) < 2 or results.costs.shape[1] < 2:
        return ""
    means = results.totals().mean(axis=1)
    best = results.model_names[int(means.argmin())]
    label = dict(zip(results.model_names, results.model_labels, strict=True))
    lines = [f"paired on common random numbers, against the cheapest on average ({label[best]}), USD thousands:"]
    for name in results.model_names:
        if name == best:
            continue
        r = paired_comparison(results, name, best).iloc[0]
        half, unpaired = Z95 * r["se"] / 1e3, Z95 * r["unpaired_se"] / 1e3
        lines.append(
            f"  {label[name]}: {r['mean_difference'] / 1e3:+,.0f} more (95 % CI ±{half:,.1f}; "
            f"an unpaired comparison: ±{unpaired:,.1f}, {r['se_ratio']:.1f}x wider); cheaper in {r['p_a_cheaper']:.0%} of replications"
        )
    return "\n".join(lines)
