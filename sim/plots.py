"""Charts of a :class:`~sim.results.Results` (matplotlib, Agg-safe).

Every chart states its takeaway in the title and its provenance in a footnote.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import numpy as np

from sim.ledger import CATEGORIES
from sim.results import Results

# Okabe-Ito: colour-blind safe, one colour per operating model everywhere.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
CATEGORY_COLOURS = dict(zip(CATEGORIES, plt.get_cmap("tab20").colors[: len(CATEGORIES)], strict=True))


def _footnote(fig, results: Results) -> None:
    fig.text(
        0.01,
        0.01,
        f"{results.costs.shape[1]:,} replications x {results.horizon_years} years, seed {results.seed}, engine {results.engine}",
        fontsize=8,
        color="0.4",
    )


def _title(ax, text: str) -> None:
    ax.set_title(textwrap.fill(text, 80), fontsize=14, loc="left")


def _money(x: float) -> str:
    return f"${x / 1e6:.2f}M" if abs(x) >= 1e6 else f"${x / 1e3:.0f}k"


def tco_distribution(results: Results, measure: str = "tco"):
    """ECDF of total cost per operating model with p05 / p50 / p95 marked."""
    totals = results.totals(measure)
    fig, ax = plt.subplots(figsize=(11, 6.2))
    for m, label in enumerate(results.model_labels):
        values = np.sort(totals[m])
        colour = PALETTE[m % len(PALETTE)]
        ax.step(values, np.arange(1, values.size + 1) / values.size, where="post", color=colour, lw=2.2, label=label)
        for q in (0.05, 0.5, 0.95):
            ax.plot(np.quantile(values, q), q, "o", color=colour, ms=6)
    best = int(np.argmin(totals.mean(axis=1)))
    share = results.summary()[f"p_cheapest_{measure}"].iloc[best]
    what = "TCO" if measure == "tco" else "economic cost"
    _title(ax, f"{results.model_labels[best]} has the lowest mean {what}; cheapest in {share:.0%} of simulated futures")
    ax.set_xlabel(f"{what} over {results.horizon_years} years (USD, undiscounted)", fontsize=12)
    ax.set_ylabel("share of replications at or below (dots: p05, p50, p95)", fontsize=12)
    ax.xaxis.set_major_formatter(lambda x, _pos: _money(x))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=11, frameon=False)
    _footnote(fig, results)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def cost_breakdown(results: Results):
    """Mean cost per operating model, stacked by ledger category."""
    table = results.by_category()
    fig, ax = plt.subplots(figsize=(11, 6.2))
    bottoms_pos = np.zeros(len(table))
    bottoms_neg = np.zeros(len(table))
    x = np.arange(len(table))
    for category in CATEGORIES:
        values = table[category].to_numpy()
        if not np.any(values):
            continue
        base = np.where(values >= 0, bottoms_pos, bottoms_neg)
        ax.bar(x, values, bottom=base, color=CATEGORY_COLOURS[category], label=category, width=0.6)
        bottoms_pos += np.where(values >= 0, values, 0)
        bottoms_neg += np.where(values < 0, values, 0)
    top = table.idxmax(axis=1)
    _title(ax, "Largest cost line: " + "; ".join(f"{lab}: {top.iloc[i]}" for i, lab in enumerate(results.model_labels)))
    ax.set_xticks(x, [textwrap.fill(label, 22) for label in results.model_labels], fontsize=11)
    ax.set_ylabel(f"mean economic cost over {results.horizon_years} years (USD)", fontsize=12)
    ax.yaxis.set_major_formatter(lambda y, _pos: _money(y))
    ax.legend(fontsize=8, ncol=2, frameon=False, bbox_to_anchor=(1.0, 1.0), loc="upper left")
    _footnote(fig, results)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def save_standard_charts(results: Results, directory: str | Path) -> list[Path]:
    """Write the standard chart set as PNG (200 dpi) into ``directory``."""
    directory = Path(directory)
    written = []
    for name, make in (("tco_distribution", tco_distribution), ("cost_breakdown", cost_breakdown)):
        fig = make(results)
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=200)
        plt.close(fig)
        written.append(path)
    return written
