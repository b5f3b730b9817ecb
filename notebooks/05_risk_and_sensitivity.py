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
# # Risk and sensitivity: what drives the answer, how bad can it get, is the run big enough?
#
# A mean TCO difference is only as good as the inputs behind it. Before committing to a study,
# a platform lead wants to know:
#
# 1. **Which inputs move the answer** — so that calibration effort goes where it matters
#    (tornado: one input at a time; Sobol indices: shares of variance, interactions included).
# 2. **How bad the bad futures are** — the tail of the TCO distribution (p95, CVaR95), and what
#    happens to it when inputs that move together are modelled as correlated.
# 3. **Whether the run is big enough** — replications until every confidence interval is as
#    narrow as asked.
#
# The comparison studied is self-managed LoRA against managed fine-tuning on the default
# scenario.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from scipy import stats

from sim import analysis, load_config, simulate
from sim.core.labels import money, number
from sim.outputs import charts as plots
from sim.outputs.charts import show
from sim.run.runner import compile_run

# Small runs for the test suite (LORA_TCO_NOTEBOOK_SMALL=1), realistic ones otherwise.
SMALL = os.environ.get("LORA_TCO_NOTEBOOK_SMALL") == "1"
REPLICATIONS = 200 if SMALL else 5000
SOBOL_BASE_SAMPLES = 64 if SMALL else 1024  # a power of 2; each costs (inputs + 2) replications
# run_to_precision: relative 95 % CI half-width to reach, replications per batch, and the cap
PRECISION = dict(target=0.02, batch=100, max_replications=2000) if SMALL else dict(target=0.005, batch=2000, max_replications=100_000)

A, B = "self_managed_lora", "managed_finetune"

# Inputs that move together in the real world (target Spearman rank correlations):
CORRELATIONS = [
    # a platform complex enough to need more FTE also needs more senior, more expensive engineers
    ("scenario.engineer_loaded_annual_usd", "operating_model.platform.base_fte", 0.6),
    # engineers and compliance reviewers are hired on one labour market
    ("scenario.engineer_loaded_annual_usd", "scenario.reviewer_loaded_annual_usd", 0.7),
]

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)


usd = money  # USD as a budget slide writes it: $1.25M, $340k


cfg = load_config([f"replications={REPLICATIONS}"])
labels = {name: cfg.operating_model[name].label.split(" (")[0] for name in cfg.operating_model}  # short labels
print(f"{len(analysis.uncertain_inputs(cfg))} uncertain inputs; {REPLICATIONS:,} replications per run; seed {cfg.seed}")

# %% [markdown]
# ## 1. Tornado: one input at a time
#
# Each uncertain input is pinned at its 10th and then its 90th percentile in every replication,
# everything else staying random. The swing is the change in the mean difference A − B. Both runs
# share the seed, so the swing is measured without Monte Carlo noise from the events.

# %%
tornado = analysis.tornado(cfg, A, B)
display(tornado[["input", "low_value", "high_value", "response_at_low", "response_at_high", "swing"]].head(10).round(2))
show(plots.tornado_chart(tornado, plots.provenance(REPLICATIONS, cfg.horizon_years, cfg.seed)))

# %%
base = tornado["base"].iloc[0]
print(f"Mean of {labels[A]} minus {labels[B]}: {usd(base)}.")
for _, row in tornado.head(3).iterrows():
    print(
        f"  {row['input']}: from {number(row['low_value'])} (p10) to {number(row['high_value'])} (p90) moves it by {usd(row['swing'])} "
        f"({usd(row['response_at_low'])} to {usd(row['response_at_high'])})."
    )
flips = tornado[np.sign(tornado["response_at_low"]) != np.sign(tornado["response_at_high"])]
print(
    "No single input at its p10 or p90 changes which option is cheaper on average."
    if flips.empty
    else "Inputs whose p10 and p90 give different cheaper options: " + ", ".join(flips["input"])
)
top_share = tornado["swing"].abs().head(3).sum() / tornado["swing"].abs().sum()
print(f"The top three inputs account for {top_share:.0%} of the total absolute swing: calibrate those first.")

# %% [markdown]
# ## 2. Sobol indices: shares of the variance
#
# The tornado moves one input at a time. Sobol indices (SALib's Saltelli design) attribute the
# *variance* of the difference to inputs: `S1` is an input's share on its own, `ST` includes its
# interactions. The event randomness (drift, incidents, durations) is never varied within a
# design group, so `1 − ΣST` bounds the share of variance that no input explains. The `_conf`
# columns are 95 % bootstrap half-widths — wide when `base_samples` is small.

# %%
sobol = analysis.sobol_indices(cfg, A, B, base_samples=SOBOL_BASE_SAMPLES)
display(sobol[["input", "S1", "S1_conf", "ST", "ST_conf"]].head(10).round(3))

top = sobol.head(10).iloc[::-1]
fig, ax = plt.subplots(figsize=(11, 5.5))
y = np.arange(len(top))
ax.barh(y + 0.2, top["ST"], height=0.4, xerr=top["ST_conf"], label="total (ST)")
ax.barh(y - 0.2, top["S1"], height=0.4, xerr=top["S1_conf"], label="first order (S1)")
ax.set_yticks(y, top["input"])
ax.set_xlabel(f"share of the variance of {A} minus {B}")
ax.set_title(f"Sobol indices, {SOBOL_BASE_SAMPLES} base samples ({int(sobol['evaluations'].iloc[0]):,} runs)", loc="left")
ax.legend()
show(fig)

# %%
lead = sobol.iloc[0]
print(f"{lead['input']} explains {lead['ST']:.0%} of the variance (±{lead['ST_conf']:.0%}), interactions included.")
print(f"Sum of S1 = {sobol['S1'].sum():.2f}, sum of ST = {sobol['ST'].sum():.2f}.")
unexplained = 1 - sobol["ST"].sum()
print(
    f"At most {unexplained:.0%} of the variance is event randomness no input explains."
    if unexplained > 0
    else "The indices leave no share of the variance to event randomness (within their confidence intervals)."
)
same = set(sobol["input"].head(3)) & set(tornado["input"].head(3))
print(f"{len(same)} of the top three inputs agree between the tornado and the Sobol ranking: {', '.join(sorted(same)) or 'none'}.")

# %% [markdown]
# ## 3. Tail risk
#
# The mean is what a budget line shows; the tail is what a bad year costs. `CVaR95` is the
# average over the worst 5 % of futures.

# %%
results = simulate(cfg)
summary = analysis.summary_statistics(results)
tail = summary[summary["basis"] == "undiscounted"].pivot(index="operating_model", columns="measure", values=["mean", "p95", "cvar95"])
display((tail / 1e3).round(0))
for name, row in summary[(summary["measure"] == "tco") & (summary["basis"] == "undiscounted")].set_index("operating_model").iterrows():
    print(
        f"{labels[name]}: mean {usd(row['mean'])}, p95 {usd(row['p95'])}, CVaR95 {usd(row['cvar95'])} "
        f"(the worst 5 % of futures cost {row['cvar95'] / row['mean'] - 1:.0%} more than the average)."
    )

# %% [markdown]
# The exceedance curve — the share of futures in which TCO exceeds a given amount — shows the
# tail directly (log scale: each grid line down is ten times rarer).

# %%
totals = results.totals_frame()
fig, ax = plt.subplots(figsize=(11, 5.5))
for name in results.model_names:
    values = np.sort(totals[name].to_numpy())
    exceed = 1.0 - np.arange(values.size) / values.size
    ax.step(values / 1e6, exceed, where="post", color=plots.model_colour(name), label=labels[name])
ax.axhline(0.05, color="0.5", ls=":", label="5 % of futures")
ax.set_yscale("log")
ax.set_xlabel(f"{results.horizon_years}-year TCO ($M)")
ax.set_ylabel("share of futures costing more")
ax.set_title("How often each option costs more than a given amount", loc="left")
ax.legend()
show(fig)

difference = totals[A] - totals[B]
print(
    f"{labels[A]} minus {labels[B]}: mean {usd(difference.mean())}; in 90 % of futures between {usd(difference.quantile(0.05))} "
    f"and {usd(difference.quantile(0.95))}; {labels[A]} is cheaper in {(difference < 0).mean():.0%} of futures."
)

# %% [markdown]
# ## 4. Correlated inputs and the tail
#
# By default every uncertain input is drawn independently. But a platform complex enough to need
# more engineering FTE usually needs more senior engineers too, and a tight labour market raises
# engineer *and* reviewer salaries. Drawn independently, a high value of one is often offset by a
# low value of the other, and the tail looks thinner than it is. `inputs.rank_correlations`
# imposes target Spearman rank correlations (Iman-Conover), keeping every input's own
# distribution. Correlations are named by draw key: `operating_model.<path>` without the model's
# name is the draw every operating model shares.

# %%
pairs = ",".join(f"{{between:[{x},{y}],rho:{rho}}}" for x, y, rho in CORRELATIONS)
correlated_cfg = load_config([f"replications={REPLICATIONS}", f"inputs.rank_correlations=[{pairs}]"])
print(f"inputs.rank_correlations=[{pairs}]")

run, _ = compile_run(correlated_cfg)  # the sampled input uniforms of every replication
keys = list(run.input_keys)
for x, y, rho in CORRELATIONS:
    achieved = stats.spearmanr(run.uniforms[:, keys.index(x)], run.uniforms[:, keys.index(y)]).statistic
    print(f"  {x} ~ {y}: target {rho}, achieved {achieved:.2f}")

# %%
correlated = simulate(correlated_cfg)
rows = []
for which, res in (("independent", results), ("correlated", correlated)):
    frame = res.totals_frame()
    cvar95 = analysis.summary_statistics(res).query("measure == 'tco' and basis == 'undiscounted'").set_index("operating_model")["cvar95"]
    for name in res.model_names:
        rows.append(
            {
                "inputs": which,
                "operating_model": name,
                "mean": frame[name].mean(),
                "sd": frame[name].std(),
                "p95": frame[name].quantile(0.95),
                "cvar95": cvar95[name],
            }
        )
    rows.append(
        {
            "inputs": which,
            "operating_model": f"{A} - {B}",
            "mean": (frame[A] - frame[B]).mean(),
            "sd": (frame[A] - frame[B]).std(),
            "p95": (frame[A] - frame[B]).quantile(0.95),
            "cvar95": np.nan,
        }
    )
effect = pd.DataFrame(rows).pivot(index="operating_model", columns="inputs", values=["mean", "sd", "p95", "cvar95"])
display((effect / 1e3).round(0))

# %%
for name in results.model_names:
    before, after = effect.loc[name, ("cvar95", "independent")], effect.loc[name, ("cvar95", "correlated")]
    print(f"{labels[name]}: CVaR95 {usd(before)} -> {usd(after)} ({after / before - 1:+.1%}) with correlated inputs.")
sd_before, sd_after = effect.loc[f"{A} - {B}", ("sd", "independent")], effect.loc[f"{A} - {B}", ("sd", "correlated")]
print(f"Spread (sd) of the difference {A} - {B}: {usd(sd_before)} -> {usd(sd_after)} ({sd_after / sd_before - 1:+.1%}).")
print(
    "The means barely move (each input keeps its distribution): correlation changes the risk, not the expected cost."
    if np.allclose(effect[("mean", "independent")], effect[("mean", "correlated")], rtol=0.02)
    else "The means move too: look at the inputs' distributions."
)

# %% [markdown]
# ## 5. Is the run big enough? Convergence
#
# `analysis.run_to_precision` adds batches of replications until the 95 % confidence interval of
# every model's mean TCO, and of every paired difference, is within ±`target` of the mean. The
# result after *n* replications is exactly the first *n* replications of one long run, so the
# history is one path, not several runs.

# %%
precision = analysis.run_to_precision(cfg, **PRECISION)
history = precision.history
print(
    f"converged: {precision.converged} after {precision.replications:,} replications "
    f"(target ±{precision.target:.1%}, batches of {PRECISION['batch']:,})"
)
display(history[history["replications"] == precision.replications][["quantity", "mean", "half_width", "relative_half_width"]].round(4))

fig, ax = plt.subplots(figsize=(11, 5.5))
for quantity, rows in history.groupby("quantity", sort=False):
    ax.plot(rows["replications"], rows["relative_half_width"], "o-", label=quantity)
n = history["replications"].to_numpy(float)
first = history[history["replications"] == history["replications"].min()]["relative_half_width"].max()
ax.plot(np.unique(n), first * np.sqrt(n.min() / np.unique(n)), color="0.5", ls=":", label="1/√n from the first batch")
ax.axhline(precision.target, color="#D55E00", ls="--", label=f"target ±{precision.target:.1%}")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("replications")
ax.set_ylabel("relative 95 % CI half-width")
ax.set_title("Precision of each mean and each paired difference", loc="left")
ax.legend(fontsize=8)
show(fig)

# %%
last = history[history["replications"] == precision.replications].sort_values("relative_half_width", ascending=False).iloc[0]
print(f"The slowest quantity to converge is '{last['quantity']}' (±{last['relative_half_width']:.2%} at the end).")
print(f"Halving the target would need about 4x as many replications ({4 * precision.replications:,}): precision grows with √n.")
show(plots.convergence(precision.results))

# %% [markdown]
# **Reading it as a platform lead:** calibrate the top inputs of the tornado and Sobol ranking
# with your own data first (notebook 04); quote CVaR95 next to the mean in the budget request,
# with correlated inputs where your inputs share a cause; and size the final study with
# `run_to_precision` (or `python experiments/precision.py --target 0.005`) rather than by habit.
