"""Charts for planning decks (matplotlib; the backend is the caller's: Jupyter keeps inline).

Every chart is drawn in the deck style (16:9, large type, colour-blind-safe Okabe-Ito
palette, one colour per operating model everywhere), states its takeaway in its title
in words computed from the data, and gives replications, horizon and seed in a
footnote. :func:`save_figure` writes PNG (200 dpi), SVG and PDF, each atomically.
"""

from __future__ import annotations

import functools
import textwrap
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.core.labels import model_label, money, number, parameter_label, percent, short_model_label
from sim.core.ledger import CATEGORIES, DAYS_PER_YEAR
from sim.core.stats import Z95, ci95, describe, mean_and_se, quantile_name
from sim.run.results import Results

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# The packaged operating models keep their colour in every chart, whatever else is compared.
MODEL_COLOURS = {
    "self_managed_lora": "#0072B2",
    "managed_finetune": "#E69F00",
    "managed_adapter_serving": "#009E73",
    "spot_training_managed_serving": "#CC79A7",
}
_SPARE = ("#56B4E9", "#D55E00", "#000000", "#F0E442")

DECK_STYLE = {
    "figure.figsize": (13.333, 7.5),  # inches: a full 16:9 slide
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "font.size": 15,
    "axes.titlesize": 19,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 16,
    "xtick.labelsize": 14,
    "ytick.labelsize": 14,
    "legend.fontsize": 13,
    "legend.frameon": False,
    "lines.linewidth": 2.8,
    "lines.markersize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
}
FORMATS = ("png", "svg", "pdf")

# Who absorbs a ledger line decides its colour family: team (blues), vendor (oranges),
# business impact outside TCO (greys).
_FAMILIES = {
    "team": ("#08306B", "#08519C", "#2171B5", "#4292C6", "#6BAED6", "#9ECAE1", "#C6DBEF", "#DEEBF7"),
    "vendor": ("#7F2704", "#D94801", "#FD8D3C", "#FDD0A2"),
    "business": ("#525252", "#A3A3A3"),
}


def model_colour(name: str) -> str:
    """The colour of an operating model, the same in every chart."""
    if name in MODEL_COLOURS:
        return MODEL_COLOURS[name]
    return _SPARE[zlib.crc32(name.encode()) % len(_SPARE)]


def category_colours() -> dict[str, str]:
    from sim.analysis import absorbed_by

    used = {family: 0 for family in _FAMILIES}
    colours = {}
    for category in CATEGORIES:
        family = absorbed_by(category)
        colours[category] = _FAMILIES[family][used[family] % len(_FAMILIES[family])]
        used[family] += 1
    return colours


def deck_chart(make: Callable) -> Callable:
    """Draw a chart function's figure in the deck style."""

    @functools.wraps(make)
    def wrapper(*args, **kwargs):
        with plt.style.context(DECK_STYLE):
            return make(*args, **kwargs)

    return wrapper


def _title(ax, text: str) -> None:
    ax.set_title(textwrap.fill(text, 72, break_on_hyphens=False).replace("$", r"\$"), loc="left", pad=14)  # two "$" would start TeX


NOTE_WIDTH = 190  # footnote characters per line at 10 pt across a 16:9 slide


def _note(fig, text: str) -> int:
    """Write the footnote, wrapped (warnings can make it long); returns its lines."""
    lines = textwrap.wrap(text.replace("$", r"\$"), NOTE_WIDTH, break_on_hyphens=False) or [""]
    fig.text(0.01, 0.012, "\n".join(lines), fontsize=10, color="0.35")
    return len(lines)


def _finish(fig, note: str) -> None:
    lines = _note(fig, note)
    fig.tight_layout(rect=(0, 0.035 + 0.022 * (lines - 1), 1, 1))


def footnote(results: Results, extra: str = "") -> str:
    """The footnote of a one-run chart: size, seed, engine, accounting basis, ``extra``,
    and the run's warnings in a few words (:meth:`Results.short_warnings`)."""
    size = f"{number(results.costs.shape[1])} replications x {results.horizon_years} years"
    text = f"{size}, seed {results.seed}, engine {results.engine}, {results.accounting_basis.replace('_', ' ')} costs"
    return _with_warnings(f"{text}; {extra}" if extra else text, results.short_warnings())


def provenance(replications: int, horizon_years: int, seed: int, extra: str = "", warnings: Sequence[str] = ()) -> str:
    """The footnote of a study chart; ``warnings`` (e.g. :meth:`Results.short_warnings`
    of the points) are added in a few words."""
    text = f"{number(replications)} replications x {horizon_years} years per point, seed {seed}; common random numbers across points"
    return _with_warnings(f"{text}; {extra}" if extra else text, warnings)


def _with_warnings(text: str, warnings: Sequence[str]) -> str:
    return f"{text}; warning: {'; '.join(warnings)}" if warnings else text


def _money_axis(axis) -> None:
    axis.set_major_formatter(lambda v, _pos: money(v))


# ---------------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------------
@deck_chart
def tco_distribution(results: Results, measure: str = "tco"):
    """ECDF of total cost per operating model, p05 / p50 / p95 marked."""
    totals = results.totals(measure)
    stats = [describe(values) for values in totals]
    fig, ax = plt.subplots()
    for m, name in enumerate(results.model_names):
        values = np.sort(totals[m])
        shares = np.arange(1, values.size + 1) / values.size
        keep = np.unique(np.linspace(0, values.size - 1, min(values.size, 2000)).astype(int))  # a screen's worth of steps
        colour = model_colour(name)
        ax.step(values[keep], shares[keep], where="post", color=colour, label=results.model_labels[m])
        for q, marker in ((0.05, "<"), (0.5, "o"), (0.95, ">")):
            ax.plot(stats[m][quantile_name(q)], q, marker, color=colour, ms=10)
    best = int(np.argmin(totals.mean(axis=1)))
    share = results.summary()[f"p_cheapest_{measure}"].iloc[best]
    what = "TCO" if measure == "tco" else "economic cost"
    top = stats[best]
    _title(
        ax,
        f"{short_model_label(results.model_names[best])} has the lowest expected {results.horizon_years}-year {what} "
        f"({money(top['mean'])}, 90 % of futures {money(top['p05'])}–{money(top['p95'])}); "
        f"cheapest in {percent(share)} of simulated futures",
    )
    ax.set_xlabel(f"{what} over {results.horizon_years} years (USD, undiscounted)")
    ax.set_ylabel("share of futures at or below")
    _money_axis(ax.xaxis)
    ax.legend(loc="lower right")
    _finish(fig, footnote(results, "markers: p05, median, p95"))
    return fig


@deck_chart
def cost_breakdown(results: Results):
    """Mean cost per operating model stacked by ledger category, grouped by who absorbs
    it: the team (blues), the vendor (oranges) or the business (greys: downtime and
    staleness, outside TCO)."""
    from sim.analysis import absorbed_by, cost_by_category

    table = cost_by_category(results).pivot(index="operating_model", columns="category", values="mean")
    table = table.loc[list(results.model_names)]
    colours = category_colours()
    order = sorted(CATEGORIES, key=lambda c: ("team", "vendor", "business").index(absorbed_by(c)))
    fig, ax = plt.subplots()
    x = np.arange(len(table))
    up, down = np.zeros(len(table)), np.zeros(len(table))
    for category in order:
        values = table[category].to_numpy()
        if not np.any(values):
            continue
        base = np.where(values >= 0, up, down)
        ax.bar(x, values, bottom=base, color=colours[category], width=0.62, label=f"{absorbed_by(category)}: {category}")
        up += np.clip(values, 0, None)
        down += np.clip(values, None, 0)
    team = table[[c for c in CATEGORIES if absorbed_by(c) == "team"]].sum(axis=1)
    vendor = table[[c for c in CATEGORIES if absorbed_by(c) == "vendor"]].sum(axis=1)
    tco = team + vendor
    parts = [f"{short_model_label(n)}: {percent(team[n] / tco[n])} team, {percent(vendor[n] / tco[n])} vendor" for n in results.model_names]
    _title(ax, "Who pays: " + "; ".join(parts))
    ax.set_xticks(x, [textwrap.fill(results.model_labels[i], 24) for i in range(len(x))])
    ax.set_ylabel(f"mean cost over {results.horizon_years} years (USD)")
    _money_axis(ax.yaxis)
    ax.legend(fontsize=10, ncol=1, bbox_to_anchor=(1.0, 1.0), loc="upper left")
    _finish(fig, footnote(results, "shares are of TCO (team + vendor); grey = business impact, outside TCO"))
    return fig


@deck_chart
def cost_by_year(results: Results):
    """Mean TCO per year and operating model, one-time set-up (hatched) over recurring."""
    from sim.analysis import cost_by_year as table_by_year

    table = table_by_year(results)
    years = results.horizon_years
    names = list(results.model_names)
    width = 0.8 / len(names)
    fig, ax = plt.subplots()
    for k, name in enumerate(names):
        rows = table[table["operating_model"] == name].sort_values("year")
        x = rows["year"].to_numpy() + (k - (len(names) - 1) / 2) * width
        colour = model_colour(name)
        ax.bar(x, rows["recurring_mean"], width=width, color=colour, label=f"{results.model_labels[k]}: recurring")
        ax.bar(
            x,
            rows["one_time_mean"],
            bottom=rows["recurring_mean"],
            width=width,
            color="white",
            edgecolor=colour,
            hatch="//",
            label=f"{short_model_label(name)}: one-time set-up",
        )
    total = table.groupby("operating_model")[["one_time_mean", "recurring_mean"]].sum()
    recurring = total["recurring_mean"] / total.sum(axis=1)
    low, high = recurring.min(), recurring.max()
    share = percent(low) if percent(low) == percent(high) else f"{percent(low)}–{percent(high)}"
    _title(ax, f"Recurring costs are {share} of {years}-year TCO: set-up is paid once, operations every year")
    ax.set_xticks(range(years), [f"year {y + 1}" for y in range(years)])
    ax.set_ylabel("mean TCO in the year (USD)")
    _money_axis(ax.yaxis)
    ax.legend(fontsize=10, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    _finish(fig, footnote(results))
    return fig


@deck_chart
def convergence(results: Results):
    """Running mean TCO of each operating model against replications, with its 95 % CI."""
    totals = results.totals()
    n = totals.shape[1]
    fig, ax = plt.subplots()
    worst = 0.0
    # ~400 log-spaced sample sizes draw the same picture as every replication, much faster
    at = np.unique(np.geomspace(min(10, n), n, 400).astype(int))
    for m, name in enumerate(results.model_names):
        values = totals[m]
        mean, se = np.array([mean_and_se(values[:k]) for k in at]).T  # the summary's mean and SE at each size
        low, high = ci95(mean, se)
        colour = model_colour(name)
        ax.plot(at, mean, color=colour, label=results.model_labels[m])
        ax.fill_between(at, low, high, color=colour, alpha=0.2)
        worst = max(worst, Z95 * se[-1] / abs(mean[-1]) if mean[-1] else np.inf)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(lambda v, _pos: number(v))
    _title(ax, f"After {number(n)} replications every mean TCO is known within ±{percent(worst, 1)} (95 % CI)")
    ax.set_xlabel("replications")
    ax.set_ylabel("running mean TCO (USD)")
    _money_axis(ax.yaxis)
    ax.legend(loc="best")
    _finish(fig, footnote(results, "band: 95 % CI of the running mean"))
    return fig


# ---------------------------------------------------------------------------------
# a year in the life (SimPy event trace)
# ---------------------------------------------------------------------------------
_STAGES = {  # trace event -> pipeline stage it starts
    "refresh_requested": "waiting",
    "train_start": "training",
    "eval_start": "evaluation",
    "eval_failed": "waiting",
    "train_failed": "waiting",
    "review_start": "review",
    "review_rejected": "waiting",
    "promoted": None,
}
_STAGE_COLOURS = {"waiting": "#BDBDBD", "training": "#0072B2", "evaluation": "#009E73", "review": "#CC79A7"}


def pipeline_spans(events: pd.DataFrame) -> pd.DataFrame:
    """Refresh-pipeline stages per adapter from a trace: ``entity, stage, start, end``
    (days). Waiting covers data preparation and queues for engineers and GPUs."""
    spans = []
    for entity, rows in events[events["event"].isin(_STAGES)].groupby("entity"):
        stage, since = None, 0.0
        for _, row in rows.sort_values("time_days", kind="stable").iterrows():
            new = _STAGES[row["event"]]
            if row["event"] == "refresh_requested" and stage is not None:
                continue  # merged into the refresh in flight
            if stage is not None:
                spans.append((int(entity), stage, since, float(row["time_days"])))
            stage, since = new, float(row["time_days"])
        if stage is not None:
            spans.append((int(entity), stage, since, float(events["time_days"].max())))
    return pd.DataFrame(spans, columns=["entity", "stage", "start", "end"])


def _active(spans: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """How many spans are open over time: the level after all changes at each instant."""
    spans = spans[spans["end"] > spans["start"]]
    changes = pd.concat([pd.Series(1.0, index=spans["start"]), pd.Series(-1.0, index=spans["end"])]).groupby(level=0).sum()
    return changes.index.to_numpy(dtype=float), np.round(changes.cumsum().to_numpy())


@deck_chart
def year_in_the_life(events: pd.DataFrame, label: str, note: str, days: float = DAYS_PER_YEAR):
    """One simulated year of one operating model, from :func:`sim.trace`: every
    adapter's refresh pipeline (waiting, training, evaluation, review), drift, incidents
    and base-model releases, and below it the trainings running and refreshes in flight."""
    events = events[events["time_days"] <= days]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1.3)})
    spans = pipeline_spans(events)
    adapters = sorted(set(events.loc[events["event"].isin(_STAGES) | (events["event"] == "drift"), "entity"].astype(int)))
    lane = {a: i for i, a in enumerate(adapters)}
    for stage, colour in _STAGE_COLOURS.items():
        rows = spans[(spans["stage"] == stage) & spans["entity"].isin(lane)]
        for entity, group in rows.groupby("entity"):
            top.broken_barh(list(zip(group["start"], group["end"] - group["start"], strict=True)), (lane[entity] - 0.35, 0.7), color=colour)
        top.bar(0, 0, color=colour, label=stage)  # legend entry
    for event, marker, colour, text in (
        ("drift", "v", "#D55E00", "drift"),
        ("incident", "X", "#000000", "incident (deployment lane)"),
        ("rollback", "s", "#E69F00", "rollback"),
    ):
        rows = events[(events["event"] == event) & events["entity"].isin(lane)]
        top.scatter(rows["time_days"], rows["entity"].map(lane) + 0.42, marker=marker, color=colour, s=70, label=text, zorder=3)
    releases = events.loc[events["event"] == "base_model_release", "time_days"]
    for i, t in enumerate(releases):
        for ax in (top, bottom):
            ax.axvline(t, color="#D55E00", ls="--", lw=1.5, label="base-model release" if (i == 0 and ax is top) else None)
    top.set_yticks(range(len(adapters)), [f"adapter {a}" for a in adapters])
    top.set_ylim(-0.7, len(adapters) - 0.2)
    top.grid(False)
    top.legend(fontsize=10, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.02 - 0.6 / max(len(adapters), 1)))
    for stage, text in (("training", "adapters training (GPUs busy)"), ("waiting", "refreshes waiting (data prep, engineers, GPU queue)")):
        t, level = _active(spans[spans["stage"] == stage])
        bottom.step(
            np.r_[0.0, t, days], np.r_[0, level, level[-1] if level.size else 0], where="post", color=_STAGE_COLOURS[stage], label=text
        )
    bottom.set_ylabel("count")
    bottom.set_xlabel("day of the year")
    bottom.set_xlim(0, days)
    bottom.legend(fontsize=10, loc="upper left")
    counts = events["event"].value_counts()
    requested = int(counts.get("refresh_requested", 0))
    promoted = int(counts.get("promoted", 0))
    incidents = int(counts.get("incident", 0))
    waits = spans[spans["stage"] == "waiting"]
    wait = (waits["end"] - waits["start"]).mean() if len(waits) else 0.0
    _title(
        top,
        f"A year of {label}: {requested} refresh requests, {promoted} promotions, {incidents} incidents, "
        f"{len(releases)} base-model releases; a refresh waits {wait:.1f} days on average before training",
    )
    _finish(fig, note)
    return fig


# ---------------------------------------------------------------------------------
# studies: break-even, P(cheaper), decision map, tornado
# ---------------------------------------------------------------------------------
@deck_chart
def break_even_chart(result, footnote: str, model_names: tuple[str, ...] = ()):
    """Mean paired difference ``a - b`` along the swept parameter with its 95 % band,
    and the crossing with its confidence interval shaded."""
    curve = result.curve
    x = curve[result.parameter].to_numpy(float)
    fig, ax = plt.subplots()
    ax.axhline(0.0, color="0.3", lw=1.2)
    ax.fill_between(x, curve["ci95_low"], curve["ci95_high"], color="0.7", alpha=0.5, label="95 % CI of the mean difference")
    ax.plot(x, curve["mean_difference"], "o-", color=model_colour(result.a), label="mean difference")
    if result.crossing is not None:
        lo = x[0] if np.isinf(result.ci_low) else result.ci_low
        hi = x[-1] if np.isinf(result.ci_high) else result.ci_high
        ax.axvspan(lo, hi, color=model_colour(result.b), alpha=0.18, label=f"{percent(result.confidence)} CI of the break-even")
        ax.axvline(result.crossing, color="#D55E00", lw=2.2, ls="--", label=f"break-even ≈ {number(result.crossing)}")
    hint = {"fontsize": 12, "color": "0.3", "transform": ax.get_yaxis_transform(), "ha": "left"}  # x in axes, y in USD
    ax.text(0.01, 0.0, f"▲ above 0: {short_model_label(result.b)} cheaper", va="bottom", **hint)
    ax.text(0.01, 0.0, f"▼ below 0: {short_model_label(result.a)} cheaper", va="top", **hint)
    _title(ax, result.describe())
    ax.set_xlabel(parameter_label(result.parameter))
    ax.set_ylabel(f"{short_model_label(result.a)} minus {short_model_label(result.b)}\n({result.measure.upper()}, USD)")
    _money_axis(ax.yaxis)
    ax.legend(loc="upper right")
    _finish(fig, footnote)
    return fig


@deck_chart
def p_cheaper_chart(result, footnote: str):
    """P(``a`` cheaper than ``b``) along the swept parameter."""
    curve = result.curve
    x = curve[result.parameter].to_numpy(float)
    fig, ax = plt.subplots()
    ax.plot(x, curve["p_a_cheaper"], "o-", color=model_colour(result.a))
    ax.axhline(0.5, color="0.5", lw=1.2, ls=":")
    ax.set_ylim(-0.02, 1.02)
    ax.yaxis.set_major_formatter(lambda v, _pos: percent(v))
    a, b = short_model_label(result.a), short_model_label(result.b)
    what = parameter_label(result.parameter)
    above = curve.loc[curve["p_a_cheaper"] >= 0.5, result.parameter]
    if len(above) == 0:
        title = f"{b} is cheaper in most simulated futures at every {what} studied"
    elif len(above) == len(curve):
        title = f"{a} is cheaper in most simulated futures at every {what} studied"
    else:
        title = f"{a} is cheaper in most simulated futures at {', '.join(number(v) for v in above)} {what}"
    _title(ax, title)
    ax.set_xlabel(what)
    ax.set_ylabel(f"P({a} cheaper than {b})")
    _finish(fig, footnote)
    return fig


@deck_chart
def decision_map_chart(frame: pd.DataFrame, x: str, y: str, footnote: str, model_names: tuple[str, ...] = ()):
    """Cheapest operating model per cell, coloured by model, labelled with P(cheapest)."""
    xs = sorted(frame[x].unique())
    ys = sorted(frame[y].unique())
    names = list(model_names) or sorted(frame["cheapest"].unique())
    fig, ax = plt.subplots()
    for _, cell in frame.iterrows():
        i, j = xs.index(cell[x]), ys.index(cell[y])
        strength = float(cell["p_cheapest"])
        ax.add_patch(plt.Rectangle((i - 0.5, j - 0.5), 1, 1, color=model_colour(cell["cheapest"]), alpha=0.25 + 0.75 * strength))
        ax.text(i, j, percent(strength), ha="center", va="center", fontsize=15, color="black" if strength < 0.8 else "white")
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xticks(range(len(xs)), [number(v) for v in xs])
    ax.set_yticks(range(len(ys)), [number(v) for v in ys])
    ax.grid(False)
    ax.set_xlabel(parameter_label(x))
    ax.set_ylabel(parameter_label(y))
    winners = frame["cheapest"].value_counts()
    lead = short_model_label(winners.index[0])
    if len(winners) == 1:
        title = f"{lead} is cheapest in every cell studied"
    else:
        others = ", ".join(f"{short_model_label(n)} in {c}" for n, c in winners.iloc[1:].items())
        title = f"{lead} is cheapest in {winners.iloc[0]} of {len(frame)} cells; {others}"
    _title(ax, title)
    handles = [plt.Rectangle((0, 0), 1, 1, color=model_colour(n)) for n in names]
    ax.legend(handles, [model_label(n) for n in names], bbox_to_anchor=(1.0, 1.0), loc="upper left")
    _finish(fig, footnote + "; cell label: share of futures in which that model is cheapest")
    return fig


@deck_chart
def tornado_chart(frame: pd.DataFrame, footnote: str, top: int = 12):
    """Response at each input's low and high quantile, widest swing on top."""
    rows = frame.head(top).iloc[::-1]
    base = float(frame["base"].iloc[0])
    low, high = quantile_name(float(frame["low_quantile"].iloc[0])), quantile_name(float(frame["high_quantile"].iloc[0]))
    fig, ax = plt.subplots()
    y = np.arange(len(rows))
    ax.barh(
        y,
        rows["response_at_low"].to_numpy() - base,
        left=base,
        color=PALETTE[4],
        label=f"input at {low}",
    )
    ax.barh(
        y,
        rows["response_at_high"].to_numpy() - base,
        left=base,
        color=PALETTE[5],
        label=f"input at {high}",
    )
    ax.axvline(base, color="0.3", lw=1.2)
    ax.set_yticks(y, [textwrap.shorten(v.split(".", 1)[-1], 46) for v in rows["input"]], fontsize=12)
    _money_axis(ax.xaxis)
    ax.set_xlabel(f"mean {frame['response'].iloc[0]} (USD)")
    ax.grid(axis="y", visible=False)
    lead = frame.iloc[0]
    _title(ax, f"{lead['input'].split('.', 1)[-1]} moves the answer most: {money(abs(lead['swing']))} between its {low} and {high}")
    ax.legend(loc="lower right")
    _finish(fig, footnote)
    return fig


# ---------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------
@dataclass
class Chart:
    """A saved chart: its files (one per format) and its takeaway title."""

    name: str
    files: list[Path]
    title: str

    @property
    def png(self) -> Path:
        return next(p for p in self.files if p.suffix == ".png")

    def to_dict(self) -> dict:
        """JSON-ready form (to pass a chart between processes)."""
        return {"name": self.name, "files": [str(p) for p in self.files], "title": self.title}

    @classmethod
    def from_dict(cls, data: dict) -> Chart:
        return cls(data["name"], [Path(p) for p in data["files"]], data["title"])


def show(fig) -> None:
    """Display a figure in Jupyter as a PNG image (72 dpi), whatever the backend, and close it.

    Needs IPython (the ``notebooks`` extra).
    """
    import io

    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    display(Image(buffer.getvalue()))


def chart_title(fig) -> str:
    """The takeaway title of a chart (its first axes' left title, unwrapped)."""
    return " ".join(fig.axes[0].get_title(loc="left").replace(r"\$", "$").split()) if fig.axes else ""


def save_figure(fig, path: str | Path, dpi: int = 200, formats: Sequence[str] | None = None) -> Path:
    """Save a figure atomically (temporary file, then rename) and close it.

    ``path``'s suffix gives the format; with ``formats`` the figure is also written in
    each of them beside it (same stem). Returns ``path``.
    """
    from sim.run.results import atomic_write

    path = Path(path)
    targets = [path] + [path.with_suffix(f".{f}") for f in (formats or ()) if f".{f}" != path.suffix]
    try:
        for target in targets:
            kind = target.suffix.lstrip(".") or "png"
            # zlib level 1: twice the bytes of the default level 6 (~120 KB a chart) in 60 % of the time
            extra = {"pil_kwargs": {"compress_level": 1}} if kind == "png" else {}
            atomic_write(target, lambda p, kind=kind, extra=extra: fig.savefig(p, dpi=dpi, format=kind, **extra))
        return path
    finally:
        plt.close(fig)


def save_chart(fig, directory: Path, name: str, formats: Sequence[str] = FORMATS) -> Chart:
    """Save ``fig`` as ``directory/name.<format>`` for every format; keep its title."""
    title = chart_title(fig)
    first = directory / f"{name}.{formats[0]}"
    save_figure(fig, first, formats=formats)
    return Chart(name, [directory / f"{name}.{f}" for f in formats], title)


STANDARD_CHARTS = ("tco_distribution", "cost_breakdown", "cost_by_year", "convergence", "year_in_the_life")


def standard_chart_builders(
    results: Results, events: pd.DataFrame | None = None, traced_model: str | None = None
) -> dict[str, Callable[[], object]]:
    """The standard chart set of one run, as figure builders by name (in
    :data:`STANDARD_CHARTS` order). The convergence chart needs 20 replications; the
    year-in-the-life chart needs ``events``, a SimPy trace (:func:`sim.trace`) of
    ``traced_model``."""
    builders: dict[str, Callable[[], object]] = {
        "tco_distribution": lambda: tco_distribution(results),
        "cost_breakdown": lambda: cost_breakdown(results),
        "cost_by_year": lambda: cost_by_year(results),
    }
    if results.costs.shape[1] >= 20:
        builders["convergence"] = lambda: convergence(results)
    if events is not None and traced_model is not None and len(events):
        note = _with_warnings(
            f"replication 0 of seed {results.seed}, SimPy engine (sim.trace); the same world every model faces", results.short_warnings()
        )
        builders["year_in_the_life"] = lambda: year_in_the_life(events, model_label(traced_model), note)
    return builders


def standard_charts(results: Results, events: pd.DataFrame | None = None, traced_model: str | None = None) -> dict[str, object]:
    """The standard chart set of one run, as figures by name (see :func:`standard_chart_builders`)."""
    return {name: build() for name, build in standard_chart_builders(results, events, traced_model).items()}


def save_standard_charts(
    results: Results,
    directory: str | Path,
    events: pd.DataFrame | None = None,
    traced_model: str | None = None,
    formats: Sequence[str] = FORMATS,
    only: Sequence[str] | None = None,
) -> list[Chart]:
    """Write the standard chart set (or the charts named in ``only``) into ``directory``
    in every format of ``formats``; each figure is built, saved and closed in turn."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    builders = standard_chart_builders(results, events, traced_model)
    return [save_chart(build(), directory, name, formats) for name, build in builders.items() if only is None or name in only]
