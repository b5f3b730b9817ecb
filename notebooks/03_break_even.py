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
# # Break-even: at what scale does the answer flip?
#
# A managed platform charges per token; a self-managed stack pays for GPUs and people whether
# traffic is high or low. So somewhere along the inference volume there is a **break-even**: the
# volume above which running your own serving is cheaper. The article names the number of
# adapters as the other lever. This notebook finds both crossings on the default scenario, with
# a confidence interval on where they are, and maps the cheapest option over both levers at once.
#
# Everything runs in this process with `analysis.sweep` — the same computation as the
# `lora-tco experiment=breakeven_volume` study, on common random numbers: replication *r* sees
# the same world at every grid point, so the differences between points are paired and the
# curves are smooth even with few replications.

# %%
import os

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from sim import analysis, load_config
from sim.core.labels import number
from sim.outputs import charts as plots
from sim.outputs.charts import show

# Small runs for the test suite (LORA_TCO_NOTEBOOK_SMALL=1), realistic ones otherwise.
SMALL = os.environ.get("LORA_TCO_NOTEBOOK_SMALL") == "1"
REPLICATIONS = 200 if SMALL else 2000  # per grid point

VOLUME = "scenario.tokens_per_adapter_month_m"
ADAPTERS = "scenario.adapters"
VOLUMES = [100, 250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6500, 8000]  # M tokens per adapter-month
ADAPTER_COUNTS = [1, 2, 3, 5, 8, 12, 20]
MAP_VOLUMES = [100, 1000, 3000, 8000] if SMALL else [100, 250, 500, 1000, 2000, 3000, 5000, 8000]
MAP_ADAPTERS = [1, 3, 10, 20] if SMALL else [1, 2, 3, 5, 10, 15, 20]

A, B = "self_managed_lora", "managed_finetune"  # the difference A - B along the sweeps

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)


# %% [markdown]
# ## 1. Where the default scenario sits
#
# In the default scenario the inference volume is itself uncertain. Its range tells us which part
# of the sweep is relevant to a team like the default one.

# %%
cfg = load_config([f"replications={REPLICATIONS}"])
labels = {name: cfg.operating_model[name].label.split(" (")[0] for name in cfg.operating_model}  # short labels
volume_law = analysis.uncertain_inputs(cfg)[VOLUME]
low, median, high = (volume_law.quantile(q) for q in (0.05, 0.5, 0.95))
print(f"Default scenario: {number(median)} M tokens per adapter-month (median), 90 % range {number(low)}–{number(high)}.")

# %% [markdown]
# ## 2. Sweep the inference volume
#
# At each grid value the volume is *fixed* in every replication; every other input stays
# uncertain. `Sweep.means()` gives each model's mean TCO, its standard error and the share of
# futures in which it is cheapest.

# %%
volume = analysis.sweep(cfg, VOLUME, VOLUMES)
means = volume.means()
display((means.pivot(index=VOLUME, columns="operating_model", values="mean") / 1e3).round(0))
display(means.pivot(index=VOLUME, columns="operating_model", values="p_cheapest").round(2))

# %%
fig, ax = plt.subplots(figsize=(11, 5.5))
for name, rows in means.groupby("operating_model", sort=False):
    ax.plot(rows[VOLUME], rows["mean"] / 1e6, "o-", color=plots.model_colour(name), label=labels[name])
    ax.fill_between(rows[VOLUME], (rows["mean"] - 1.96 * rows["se"]) / 1e6, (rows["mean"] + 1.96 * rows["se"]) / 1e6, alpha=0.2)
ax.axvspan(low, high, color="0.85", label="default scenario, 90 % range")
ax.set_xscale("log")
ax.set_xlabel("M inference tokens per adapter-month")
ax.set_ylabel(f"mean {volume.horizon_years}-year TCO ($M)")
ax.set_title("Per-token fees grow with traffic; self-hosted serving grows in GPU steps", loc="left")
ax.legend()
show(fig)

# %% [markdown]
# ## 3. The break-even and its confidence interval
#
# `analysis.break_even` looks at the paired difference A − B (self-managed LoRA minus managed
# fine-tuning) along the sweep. The crossing is where its mean changes sign; the interval comes
# from redrawing the whole curve from its joint sampling distribution (the points are correlated
# through the common random numbers) and locating each draw's crossing.

# %%
be = analysis.break_even(volume, A, B)
print(be.describe())
display(be.curve.round(3))

# %%
footnote = plots.provenance(volume.replications, volume.horizon_years, volume.seed)
show(plots.break_even_chart(be, footnote, model_names=volume.model_names))

# %%
if be.crossing is None:
    print(f"No crossing between {number(VOLUMES[0])} and {number(VOLUMES[-1])} M tokens: {be.describe()}.")
else:
    print(
        f"Below about {number(be.crossing)} M tokens per adapter-month {labels[be.cheaper_below]} is cheaper on average, above it "
        f"{labels[be.cheaper_above]} (90 % CI of the crossing {number(be.ci_low)}–{number(be.ci_high)})."
    )
    print(
        f"That is {be.crossing / high:.0f}x the top of the default scenario's 90 % range ({number(high)}): "
        + (
            "for a team like the default one, volume alone does not justify self-hosting."
            if be.crossing > high
            else "a team like the default one can be on either side."
        )
    )

# %% [markdown]
# The mean is not the whole story: the probability that A is cheaper in a given future rises
# gradually. Between the volume where A is rarely cheaper and the one where it almost always is,
# the decision depends on the rest of the world — prices, salaries, incidents.

# %%
show(plots.p_cheaper_chart(be, footnote))
curve = be.curve
p = curve["p_a_cheaper"].to_numpy()
x = curve[VOLUME].to_numpy(float)
sure_b = x[p <= 0.1]
sure_a = x[p >= 0.9]
print(
    f"{labels[B]} is cheaper in at least 90 % of futures up to {number(sure_b.max())} M tokens; "
    if len(sure_b)
    else f"{labels[B]} is never cheaper in 90 % of futures on this grid; "
)
print(
    f"{labels[A]} is cheaper in at least 90 % of futures from {number(sure_a.min())} M tokens."
    if len(sure_a)
    else f"{labels[A]} is never cheaper in 90 % of futures on this grid."
)

# %% [markdown]
# Every pair of models has its own crossing. A crossing of A against B does not make A the
# cheapest overall: a third option may beat both there.

# %%
pairs = [(a, b) for i, a in enumerate(volume.model_names) for b in volume.model_names[i + 1 :]]
crossings = pd.DataFrame([analysis.break_even(volume, a, b).as_row() for a, b in pairs])
display(crossings[["a", "b", "crossing", "ci_low", "ci_high", "cheaper_below", "cheaper_above"]].round(0))
cheapest = means.loc[means.groupby(VOLUME)["mean"].idxmin(), [VOLUME, "operating_model"]]
for name, rows in cheapest.groupby("operating_model", sort=False):
    print(f"{labels[name]} has the lowest mean TCO at {', '.join(number(v) for v in rows[VOLUME])} M tokens.")

# %% [markdown]
# ## 4. Sweep the number of adapters
#
# More adapters spread the fixed platform cost of self-management, but also multiply pipeline
# work, reviews and (for dedicated deployments) serving. The same analysis along
# `scenario.adapters`, at the default scenario's uncertain volume:

# %%
adapters = analysis.sweep(cfg, ADAPTERS, ADAPTER_COUNTS)
display((adapters.means().pivot(index=ADAPTERS, columns="operating_model", values="mean") / 1e3).round(0))
for a, b in pairs:
    print(analysis.break_even(adapters, a, b).describe())

# %%
be_adapters = analysis.break_even(adapters, A, "managed_adapter_serving")
show(
    plots.break_even_chart(
        be_adapters, plots.provenance(adapters.replications, adapters.horizon_years, adapters.seed), model_names=adapters.model_names
    )
)

# %% [markdown]
# ## 5. Both levers at once: the decision map
#
# `analysis.decision_map` runs the grid of volume × adapters and reports, per cell, the model
# with the lowest mean TCO, the share of futures in which it is cheapest, and its margin over the
# runner-up. The colour intensity in the chart is that share: pale cells are close calls.

# %%
decision = analysis.decision_map(cfg, (VOLUME, MAP_VOLUMES), (ADAPTERS, MAP_ADAPTERS))
display(decision.pivot(index=ADAPTERS, columns=VOLUME, values="cheapest"))
display(decision.pivot(index=ADAPTERS, columns=VOLUME, values="p_cheapest").round(2))

# %%
show(
    plots.decision_map_chart(
        decision,
        VOLUME,
        ADAPTERS,
        plots.provenance(int(decision["replications"].iloc[0]), cfg.horizon_years, int(decision["seed"].iloc[0])),
        model_names=tuple(cfg.operating_model),
    )
)

# %%
wins = decision["cheapest"].value_counts()
for name in cfg.operating_model:
    print(f"{labels[name]}: cheapest in {wins.get(name, 0)} of {len(decision)} cells.")
close = decision[decision["p_cheapest"] < 0.8]
print(
    f"{len(close)} cells are close calls (the winner is cheapest in fewer than 80 % of futures): "
    + "; ".join(f"{number(r[VOLUME])} M tokens x {r[ADAPTERS]:.0f} adapters" for _, r in close.iterrows())
    if len(close)
    else "Every cell has a clear winner (cheapest in at least 80 % of futures)."
)

# %% [markdown]
# **Reading it as a platform lead:** the crossing tells you how much traffic growth it takes
# before a self-hosted stack pays off; its confidence interval tells you whether more
# replications or better inputs would move it. Before acting on a crossing, check the decision
# map: the option that beats managed fine-tuning at high volume may not be self-managed LoRA.
#
# The same studies from the command line (one process, or one job per point with `-m`):
# `lora-tco experiment=breakeven_volume`, `lora-tco experiment=breakeven_adapters`,
# `lora-tco experiment=decision_map`.
