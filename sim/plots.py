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


# -- studies: break-even, decision map, tornado --------------------------------------
def provenance(replications: int, horizon_years: int, seed: int, extra: str = "") -> str:
    """The footnote of a study chart."""
    text = f"{replications:,} replications x {horizon_years} years per point, seed {seed}; common random numbers across points"
    return f"{text}; {extra}" if extra else text


def _note(fig, text: str) -> None:
    fig.text(0.01, 0.01, text, fontsize=8, color="0.4")


def _model_colour(name: str, names: list[str] | tuple[str, ...]) -> str:
    return PALETTE[list(names).index(name) % len(PALETTE)] if name in names else PALETTE[0]


def break_even_chart(result, footnote: str, model_names: tuple[str, ...] = ()):
    """Mean paired difference ``a - b`` along the swept parameter with its 95 % band,
    and the crossing with its confidence interval shaded."""
    curve = result.curve
    x = curve[result.parameter].to_numpy(float)
    fig, ax = plt.subplots(figsize=(11, 6.2))
    ax.axhline(0.0, color="0.3", lw=1)
    ax.fill_between(x, curve["ci95_low"], curve["ci95_high"], color="0.75", alpha=0.6, label="95 % CI of the mean difference")
    ax.plot(x, curve["mean_difference"], "o-", color=_model_colour(result.a, model_names or (result.a,)), lw=2.2, label="mean difference")
    if result.crossing is not None:
        lo = x[0] if np.isinf(result.ci_low) else result.ci_low
        hi = x[-1] if np.isinf(result.ci_high) else result.ci_high
        ax.axvspan(lo, hi, color="#E69F00", alpha=0.2, label=f"{result.confidence:.0%} CI of the break-even")
        ax.axvline(result.crossing, color="#D55E00", lw=2, ls="--", label=f"break-even ≈ {_fmt_number(result.crossing)}")
    _title(ax, result.describe())
    ax.set_xlabel(result.parameter, fontsize=12)
    ax.set_ylabel(f"{result.a.replace('_', ' ')} minus {result.b.replace('_', ' ')} (USD, {result.measure})", fontsize=12)
    ax.yaxis.set_major_formatter(lambda y, _pos: _money(y))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=10, frameon=False)
    _note(fig, footnote)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def p_cheaper_chart(result, footnote: str):
    """P(``a`` cheaper than ``b``) along the swept parameter."""
    curve = result.curve
    x = curve[result.parameter].to_numpy(float)
    fig, ax = plt.subplots(figsize=(11, 6.2))
    ax.plot(x, curve["p_a_cheaper"], "o-", color=PALETTE[0], lw=2.2)
    ax.axhline(0.5, color="0.5", lw=1, ls=":")
    ax.set_ylim(-0.02, 1.02)
    above = curve.loc[curve["p_a_cheaper"] >= 0.5, result.parameter]
    a = result.a.replace("_", " ").capitalize()
    if len(above) == 0:
        title = f"{a} is cheaper in fewer than half of the simulated futures across the range"
    elif len(above) == len(curve):
        title = f"{a} is cheaper in at least half of the simulated futures across the range"
    else:
        title = f"{a} is cheaper in most simulated futures at {result.parameter} = {', '.join(f'{v:g}' for v in above)}"
    _title(ax, title)
    ax.set_xlabel(result.parameter, fontsize=12)
    ax.set_ylabel(f"P({result.a.replace('_', ' ')} cheaper than {result.b.replace('_', ' ')})", fontsize=12)
    ax.grid(alpha=0.3)
    _note(fig, footnote)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def decision_map_chart(frame, x: str, y: str, footnote: str, model_names: tuple[str, ...] = ()):
    """Cheapest operating model per cell, coloured by model, labelled with P(cheapest)."""
    xs = sorted(frame[x].unique())
    ys = sorted(frame[y].unique())
    names = list(model_names) or sorted(frame["cheapest"].unique())
    fig, ax = plt.subplots(figsize=(11, 6.2))
    for _, cell in frame.iterrows():
        i, j = xs.index(cell[x]), ys.index(cell[y])
        colour = _model_colour(cell["cheapest"], names)
        ax.add_patch(plt.Rectangle((i - 0.5, j - 0.5), 1, 1, color=colour, alpha=0.35 + 0.65 * float(cell["p_cheapest"])))
        ax.text(i, j, f"{cell['p_cheapest']:.0%}", ha="center", va="center", fontsize=12)
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
    ax.set_xlabel(x, fontsize=12)
    ax.set_ylabel(y, fontsize=12)
    winners = frame["cheapest"].value_counts()
    top = winners.index[0].replace("_", " ").capitalize()
    _title(ax, f"{top} is cheapest in {winners.iloc[0]} of {len(frame)} cells" + (" (all of them)" if len(winners) == 1 else ""))
    handles = [plt.Rectangle((0, 0), 1, 1, color=_model_colour(n, names)) for n in names]
    ax.legend(handles, [n.replace("_", " ") for n in names], fontsize=10, frameon=False, bbox_to_anchor=(1.0, 1.0), loc="upper left")
    _note(fig, footnote + "; cell label: share of replications in which the shown model is cheapest")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def tornado_chart(frame, footnote: str, top: int = 12):
    """Response at each input's low and high quantile, widest swing on top."""
    rows = frame.head(top).iloc[::-1]
    base = float(frame["base"].iloc[0])
    fig, ax = plt.subplots(figsize=(11, 6.2))
    y = np.arange(len(rows))
    low = rows["response_at_low"].to_numpy() - base
    high = rows["response_at_high"].to_numpy() - base
    ax.barh(y, low, left=base, color=PALETTE[0], label=f"input at p{round(frame['low_quantile'].iloc[0] * 100)}")
    ax.barh(y, high, left=base, color=PALETTE[1], label=f"input at p{round(frame['high_quantile'].iloc[0] * 100)}")
    ax.axvline(base, color="0.3", lw=1)
    ax.set_yticks(y, [textwrap.shorten(v, 48) for v in rows["input"]], fontsize=9)
    ax.xaxis.set_major_formatter(lambda v, _pos: _money(v))
    ax.set_xlabel(f"mean {frame['response'].iloc[0]} (USD)", fontsize=12)
    lead = frame.iloc[0]
    _title(ax, f"{lead['input']} moves the answer most: {_money(abs(lead['swing']))} between its p10 and p90")
    ax.legend(fontsize=10, frameon=False)
    ax.grid(alpha=0.3, axis="x")
    _note(fig, footnote)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def save_figure(fig, path: str | Path, dpi: int = 200) -> Path:
    """Save a figure atomically (temporary file, then rename) and close it."""
    from sim.results import atomic_write

    path = Path(path)
    try:
        return atomic_write(path, lambda p: fig.savefig(p, dpi=dpi, format=path.suffix.lstrip(".") or "png"))
    finally:
        plt.close(fig)


def _fmt_number(x: float) -> str:
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"
