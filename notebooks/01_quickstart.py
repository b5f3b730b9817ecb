# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Quickstart: which operating model costs least, and how sure are we?
#
# This notebook compares the three packaged operating models — **self-managed LoRA**, **managed
# fine-tuning** and **managed adapter serving** — on the documented default scenario (five
# adapters, quarterly refresh, one in five on regulated data; see `docs/assumptions.md`).
#
# It answers the first questions of a build-vs-buy review:
#
# 1. What does each option cost over the horizon, on average and in a bad year?
# 2. Where does the money go — and who absorbs it: our team, the vendor, or the business?
# 3. Is the difference between two options real, or Monte Carlo noise?
#
# Every number quoted below is computed in the notebook; re-run it after changing the config and
# the sentences follow.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from sim import analysis, load_config, simulate
from sim.core.labels import money
from sim.outputs import charts as plots
from sim.outputs.charts import show

# Small runs for the test suite (LORA_TCO_NOTEBOOK_SMALL=1), realistic ones otherwise.
SMALL = os.environ.get("LORA_TCO_NOTEBOOK_SMALL") == "1"
REPLICATIONS = 300 if SMALL else 5000

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)


usd = money  # USD as a budget slide writes it: $1.25M, $340k


# %% [markdown]
# ## 1. Run the comparison
#
# `load_config` composes the same Hydra config the `lora-tco` command uses; every override you
# would type on the command line works here (`"scenario.adapters=10"`, `"horizon_years=3"`, ...).
# `simulate` plays out every replication of every selected operating model. Uncertain inputs
# (prices, salaries, traffic, drift rates) are drawn once per replication and shared by all
# models: each replication is one possible future, lived once by each operating model.

# %%
cfg = load_config([f"replications={REPLICATIONS}"])
results = simulate(cfg)
n = results.costs.shape[1]
labels = {name: label.split(" (")[0] for name, label in zip(results.model_names, results.model_labels, strict=True)}  # short labels
print(f"{n:,} replications x {results.horizon_years} years, seed {results.seed}, engine {results.engine}")
for name, label in zip(results.model_names, results.model_labels, strict=True):
    print(f"  {name}: {label}")

# %% [markdown]
# ## 2. The summary
#
# `results.summary()` has one row per operating model: mean TCO with its standard error, the
# p05 / p50 / p95 spread, the same for economic cost (TCO plus the business cost of downtime and
# stale adapters), NPV variants, and the share of futures in which each model is the cheapest.

# %%
summary = results.summary().set_index("operating_model")
columns = ["tco_mean", "tco_se", "tco_p05", "tco_p50", "tco_p95", "economic_mean", "economic_p95"]
display((summary[columns] / 1e3).round(1).add_suffix(" ($k)").join(summary[["p_cheapest_tco", "p_cheapest_economic"]]))

# %%
ranked = summary.sort_values("tco_mean")
best, runner_up = ranked.index[0], ranked.index[1]
print(
    f"{labels[best]} has the lowest mean {results.horizon_years}-year TCO: {usd(ranked.loc[best, 'tco_mean'])} "
    f"(90 % of futures between {usd(ranked.loc[best, 'tco_p05'])} and {usd(ranked.loc[best, 'tco_p95'])})."
)
print(f"It is the cheapest option in {ranked.loc[best, 'p_cheapest_tco']:.0%} of the simulated futures.")
print(
    f"The runner-up, {labels[runner_up]}, costs {usd(ranked.loc[runner_up, 'tco_mean'] - ranked.loc[best, 'tco_mean'])} "
    f"more on average ({ranked.loc[runner_up, 'tco_mean'] / ranked.loc[best, 'tco_mean'] - 1:.0%})."
)
print(f"Standard errors of the means are at most {(summary['tco_se'] / summary['tco_mean']).max():.1%} of the mean.")

# %% [markdown]
# `analysis.summary_statistics` gives the same figures in long format, with 95 % confidence
# intervals of the means and **CVaR95** — the average over the worst 5 % of futures, the number
# to quote when someone asks "and if things go badly?". NPV discounts each year at the scenario's
# discount rate.

# %%
stats = analysis.summary_statistics(results)
tco_stats = stats[stats["measure"] == "tco"].pivot(index="operating_model", columns="basis", values=["mean", "p95", "cvar95"])
display((tco_stats / 1e3).round(0))

# %%
undiscounted = stats[(stats["measure"] == "tco") & (stats["basis"] == "undiscounted")].set_index("operating_model")
for name, row in undiscounted.iterrows():
    print(
        f"{labels[name]}: mean {usd(row['mean'])} (95 % CI {usd(row['ci95_low'])}–{usd(row['ci95_high'])}); "
        f"the worst 5 % of futures average {usd(row['cvar95'])}, {row['cvar95'] / row['mean'] - 1:.0%} above the mean."
    )

# %% [markdown]
# ## 3. The ledger: where the money goes
#
# `results.ledger` is the raw material: one row per replication × operating model × year ×
# ledger category, in USD. It is an ordinary DataFrame — filter, group and pivot it with pandas.
# `downtime` and `staleness` are business impact and are not part of TCO.

# %%
ledger = results.ledger
print(f"{len(ledger):,} ledger rows; categories: {', '.join(ledger['category'].cat.categories)}")
display(ledger.head())

# %% [markdown]
# Mean cost per replication by category (whole horizon, $k). Lines that are zero for every model
# are dropped.

# %%
by_category = ledger.pivot_table(index="category", columns="operating_model", values="usd", aggfunc="sum", observed=True) / n
by_category = by_category.loc[(by_category != 0).any(axis=1)]
display((by_category / 1e3).round(0))

# %%
tco_lines = by_category.drop(index=["downtime", "staleness"], errors="ignore")
for name in results.model_names:
    top = tco_lines[name].sort_values(ascending=False).head(3)
    shares = ", ".join(f"{category} {value / tco_lines[name].sum():.0%}" for category, value in top.items())
    print(f"{labels[name]}: the three largest lines are {shares} of TCO.")

# %% [markdown]
# Filtering works as on any DataFrame — for example the labour lines only, the cost that shows up
# as headcount rather than on an invoice:

# %%
labour = ledger[ledger["category"].astype(str).str.startswith("labor_")]
tco_ledger = ledger[~ledger["category"].isin(["downtime", "staleness"])]
labour_usd = labour.groupby("operating_model", observed=True)["usd"].sum()
labour_share = labour_usd / tco_ledger.groupby("operating_model", observed=True)["usd"].sum()
for name, share in labour_share.items():
    print(f"{labels[name]}: labour is {share:.0%} of TCO.")

# %% [markdown]
# Year by year: the set-up cost (monitoring and evaluation build) lands in year 0, the rest
# recurs. `analysis.one_time_vs_recurring` gives the article's split directly.

# %%
by_year = tco_ledger.pivot_table(index="year", columns="operating_model", values="usd", aggfunc="sum", observed=True) / n
display((by_year / 1e3).round(0))
split = analysis.one_time_vs_recurring(results).set_index("operating_model")
display(split[["one_time_mean", "recurring_mean", "recurring_per_year_mean", "recurring_share"]].round(3))
for name, row in split.iterrows():
    print(
        f"{labels[name]}: {usd(row['one_time_mean'])} one-time, then about {usd(row['recurring_per_year_mean'])} a year "
        f"({row['recurring_share']:.1%} of TCO recurs)."
    )

# %% [markdown]
# Who absorbs each line: `analysis.cost_by_category` tags every category as paid by the **team**
# (GPUs, storage, labour), the **vendor** invoice, or the **business** (downtime and staleness).
# A managed platform moves cost from the team's budget onto an invoice; the business-impact lines
# show whether it also moves risk.

# %%
categories = analysis.cost_by_category(results)
absorbed = categories.pivot_table(index="operating_model", columns="absorbed_by", values="mean", aggfunc="sum", observed=True)
display((absorbed / 1e3).round(0))
for name, row in absorbed.iterrows():
    tco = row.get("team", 0.0) + row.get("vendor", 0.0)
    print(
        f"{labels[name]}: {row.get('vendor', 0.0) / tco:.0%} of TCO is on the vendor invoice; "
        f"business impact adds {usd(row.get('business', 0.0))} over the horizon."
    )

# %% [markdown]
# Operational metrics per replication (`results.metrics`) explain the costs: how many refreshes
# ran, how busy the GPUs and engineers were, how much downtime there was.

# %%
metric_columns = [
    "refreshes_completed",
    "training_runs",
    "incidents",
    "downtime_adapter_hours",
    "gpu_utilization",
    "gpu_wait_mean_hours",
    "engineer_hours_pipeline",
    "engineer_hours_oncall",
    "stale_adapter_days",
]
operations = results.metrics.groupby("operating_model", observed=True)[metric_columns].mean()
display(operations.round(3))
most, least = operations["engineer_hours_pipeline"].idxmax(), operations["engineer_hours_pipeline"].idxmin()
print(
    f"{labels[most]} puts {operations.loc[most, 'engineer_hours_pipeline']:,.0f} engineer hours into the refresh pipeline over "
    f"{results.horizon_years} years, {labels[least]} {operations.loc[least, 'engineer_hours_pipeline']:,.0f}; "
    f"on-call takes {operations.loc[most, 'engineer_hours_oncall']:,.0f} and {operations.loc[least, 'engineer_hours_oncall']:,.0f} hours."
)


# %% [markdown]
# ## 4. Paired vs unpaired: is the difference real?
#
# Both options are simulated in the *same* futures (common random numbers): the same drift,
# releases, incidents, prices and traffic. Comparing them replication by replication (paired)
# cancels the shared noise; comparing two independent samples (unpaired) — what a spreadsheet
# with two separate Monte Carlo runs would do — keeps it. `se_ratio` says how much wider the
# unpaired interval is; its square is the factor of replications pairing saves.

# %%
paired = analysis.paired_comparison(results)
shown = ["a", "b", "mean_difference", "ci95_low", "ci95_high", "unpaired_ci95_low", "unpaired_ci95_high", "se_ratio", "p_a_cheaper"]
display(paired[shown])

# %% [markdown]
# For one pair, `results.paired(a, b)` returns the same numbers as a plain dict — handy in a loop
# over scenarios.

# %%
quick = results.paired(paired.iloc[0]["a"], paired.iloc[0]["b"])
print({key: round(value, 3) for key, value in quick.items()})

# %%
for _, row in paired.iterrows():
    half, unpaired_half = row["ci95_high"] - row["mean_difference"], row["unpaired_ci95_high"] - row["mean_difference"]
    print(
        f"{labels[row['a']]} minus {labels[row['b']]}: {usd(row['mean_difference'])} ± {usd(half)} paired, "
        f"± {usd(unpaired_half)} unpaired ({row['se_ratio']:.1f}x wider: pairing is worth {row['se_ratio'] ** 2:.1f}x the replications); "
        f"{labels[row['a']]} is cheaper in {row['p_a_cheaper']:.0%} of futures."
    )

# %% [markdown]
# Why pairing helps: in each future the options' totals move together (an expensive-engineer
# future is expensive for everyone), so their difference varies much less than either total.

# %%
totals = results.totals_frame()
a, b = paired.iloc[0]["a"], paired.iloc[0]["b"]
fig, ax = plt.subplots(figsize=(6, 6))
ax.scatter(totals[b] / 1e6, totals[a] / 1e6, s=8, alpha=0.5)
low, high = totals[[a, b]].min().min() / 1e6, totals[[a, b]].max().max() / 1e6
ax.plot([low, high], [low, high], color="0.4", lw=1, ls="--", label="equal cost")
ax.set_xlabel(f"{labels[b]} TCO ($M)")
ax.set_ylabel(f"{labels[a]} TCO ($M)")
correlation = np.corrcoef(totals[a], totals[b])[0, 1]
ax.set_title(f"One dot per simulated future: correlation {correlation:.2f}", loc="left")
ax.legend()
show(fig)

# %% [markdown]
# ## 5. The charts
#
# `sim.outputs.charts` draws deck-ready charts whose titles state the takeaway in numbers computed from the
# run: the distribution of TCO per model, what it is made of, and how it spreads over the years.

# %%
show(plots.tco_distribution(results))

# %%
show(plots.cost_breakdown(results))

# %%
show(plots.cost_by_year(results))

# %% [markdown]
# ## Next
#
# - `02_year_in_the_life`: one future, event by event — queues, incidents, reviews.
# - `03_break_even`: at what traffic or adapter count does the answer flip?
# - `04_your_organization`: your prices, salaries and volumes, saved as a scenario for the CLI.
# - `05_risk_and_sensitivity`: which inputs drive the answer, the tail, and how many replications
#   are enough.
#
# The same run from the command line: `lora-tco replications=5000` (add `scenario.adapters=10`
# or any other override used above).
