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
# # A year in the life of a self-managed LoRA estate
#
# Averages hide how the work actually arrives. This notebook follows **one simulated future**
# event by event — drift, scheduled refreshes, trainings, evaluations, compliance reviews,
# incidents, base-model releases — to answer the questions an ML-platform lead asks before
# signing up to run the pipeline:
#
# - How much is in flight at any time, and where does work wait?
# - What happens when a new base model forces every adapter to be re-trained at once?
# - Is this future typical, or did we pick a lucky one?
#
# `sim.trace` replays one replication on the SimPy reference engine and returns every event as
# a DataFrame (`time_days, operating_model, event, entity, value, detail`). The numba engine
# gives the same numbers for the same replication, so the trace explains the aggregate results
# exactly.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from sim import load_config, simulate, trace
from sim.outputs import charts as plots
from sim.outputs.charts import show

# Small runs for the test suite (LORA_TCO_NOTEBOOK_SMALL=1), realistic ones otherwise.
SMALL = os.environ.get("LORA_TCO_NOTEBOOK_SMALL") == "1"
CONTEXT_REPLICATIONS = 200 if SMALL else 5000  # replications that put the traced one in context

MODEL = "self_managed_lora"
REPLICATION = 0
# Twelve adapters instead of the default five, so that a base-model release visibly queues work;
# set OVERRIDES = [] to trace the default scenario.
OVERRIDES = ["scenario.adapters=12"]

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)

# Pipeline events of one adapter's refresh, in the order they can happen.
PIPELINE = [
    "refresh_requested",
    "refresh_merged",
    "train_start",
    "train_preempted",
    "train_failed",
    "train_end",
    "eval_start",
    "eval_failed",
    "review_start",
    "review_rejected",
    "rollback",
    "promoted",
]


def step_count(events: pd.DataFrame, up: list[str], down: list[str]) -> pd.Series:
    """How many things are open over time: +1 at each ``up`` event, -1 at each ``down`` event."""
    change = events["event"].map({**{e: 1 for e in up}, **{e: -1 for e in down}}).fillna(0)
    return pd.Series(change.to_numpy(), index=events["time_days"].to_numpy()).groupby(level=0).sum().cumsum()


def refresh_table(events: pd.DataFrame) -> pd.DataFrame:
    """One row per refresh: requested when and why, first training, end and outcome."""
    pipeline = events[events["event"].isin(PIPELINE) & (events["event"] != "refresh_merged")].copy()
    # every refresh of an adapter starts with its refresh_requested event
    pipeline["refresh"] = pipeline.groupby("entity")["event"].transform(lambda e: (e == "refresh_requested").cumsum())
    rows = []
    for (entity, refresh), group in pipeline.groupby(["entity", "refresh"]):
        end = group[group["event"].isin(["promoted", "rollback"])]
        rows.append(
            {
                "entity": entity,
                "refresh": refresh,
                "requested": group["time_days"].iloc[0],
                "reason": group["detail"].iloc[0],
                "first_training": group.loc[group["event"] == "train_start", "time_days"].min(),
                "ended": end["time_days"].iloc[0] if len(end) else np.nan,
                "outcome": end["event"].iloc[0] if len(end) else "in flight at horizon",
                "trainings": int((group["event"] == "train_start").sum()),
                "reviews": int((group["event"] == "review_start").sum()),
            }
        )
    table = pd.DataFrame(rows)
    table["days_to_training"] = table["first_training"] - table["requested"]
    table["cycle_days"] = table["ended"] - table["requested"]
    return table


# %% [markdown]
# ## 1. Trace one future
#
# The trace of one replication of one operating model takes a fraction of a second. `entity` is
# the adapter for pipeline and drift events, the serving deployment for incidents, and -1 for
# world events such as base-model releases.

# %%
cfg = load_config([*OVERRIDES, f"replications={CONTEXT_REPLICATIONS}"])
events = trace(cfg, replication=REPLICATION, operating_model=MODEL)
horizon_days = cfg.horizon_years * 365
print(f"{len(events):,} events over {cfg.horizon_years} years for {MODEL}, replication {REPLICATION}")
display(events.head(12))

# %% [markdown]
# Events per year. Drift and releases are the world; refreshes, trainings and reviews are the
# team's response to it.

# %%
events["year"] = (events["time_days"] // 365).astype(int) + 1
per_year = events.pivot_table(index="event", columns="year", values="time_days", aggfunc="count", fill_value=0)
display(per_year)
counts = events["event"].value_counts()
print(
    f"Over {cfg.horizon_years} years: {counts.get('drift', 0)} drift events, {counts.get('base_model_release', 0)} base-model "
    f"releases and {counts.get('incident', 0)} incidents; the team ran {counts.get('train_start', 0)} trainings "
    f"({counts.get('train_failed', 0)} failed) and {counts.get('eval_start', 0)} evaluations "
    f"({counts.get('eval_failed', 0)} sent back), and promoted {counts.get('promoted', 0)} adapter versions."
)

# %% [markdown]
# ## 2. Timeline of the first year
#
# One row per event type, one dot per event. Dashed lines mark base-model releases.

# %%
first_year = events[events["time_days"] <= 365]
order = [e for e in ["drift", "drift_detected", *PIPELINE, "incident", "incident_resolved"] if e in set(first_year["event"])]
fig, ax = plt.subplots(figsize=(13, 6))
for row, name in enumerate(order):
    times = first_year.loc[first_year["event"] == name, "time_days"]
    ax.scatter(times, np.full(len(times), row), s=14, alpha=0.7)
for t in first_year.loc[first_year["event"] == "base_model_release", "time_days"]:
    ax.axvline(t, color="#D55E00", ls="--", lw=1.5)
ax.set_yticks(range(len(order)), order)
ax.set_xlabel("day")
ax.set_xlim(0, 365)
ax.set_title(f"Replication {REPLICATION}, first year: {len(first_year):,} events", loc="left")
show(fig)

# %% [markdown]
# ## 3. Work in flight
#
# From the trace we can count, at every moment, the refreshes in flight (requested and not yet
# promoted or rolled back) and the trainings running on the GPU pool. A training that runs on a
# GPU index at or above the reserved count is on a billed-per-use burst GPU.

# %%
pool = cfg.operating_model[MODEL].gpu_pool
in_flight = step_count(events, ["refresh_requested"], ["promoted", "rollback"])
training = step_count(events, ["train_start"], ["train_end", "train_failed", "train_preempted"])
starts = events[events["event"] == "train_start"]
burst_share = (starts["value"] >= pool.reserved).mean() if len(starts) else 0.0

fig, ax = plt.subplots(figsize=(13, 4.5))
ax.step(in_flight.index, in_flight.to_numpy(), where="post", label="refreshes in flight")
ax.step(training.index, training.to_numpy(), where="post", label="trainings on GPUs")
ax.axhline(pool.reserved, color="0.4", ls=":", label=f"reserved GPUs ({pool.reserved})")
ax.set_xlim(0, horizon_days)
ax.set_xlabel("day")
ax.set_ylabel("count")
ax.legend(loc="upper right")
ax.set_title("Work in flight over the whole horizon", loc="left")
show(fig)

durations = np.diff(np.r_[in_flight.index.to_numpy(), horizon_days])  # how long each count lasted
share_busy = durations[in_flight.to_numpy() > 0].sum() / horizon_days
print(f"At most {int(in_flight.max())} refreshes were in flight at once; at least one was in flight {share_busy:.0%} of the time.")
print(
    f"At most {int(training.max())} trainings ran at once; {burst_share:.0%} of training starts went to burst GPUs "
    f"(pool: {pool.reserved} reserved + up to {pool.burst_max} burst)."
)

# %% [markdown]
# Each refresh as one row: when it was requested and why, when its first training started, and
# when it ended (promoted, or rolled back and requested again). The wait before the first
# training is data preparation plus the queue for an engineer and a GPU.

# %%
refreshes = refresh_table(events)
display(refreshes.head(10))
by_reason = refreshes.groupby("reason")[["days_to_training", "cycle_days"]].median().join(refreshes["reason"].value_counts())
display(by_reason.round(2))
typical = refreshes["cycle_days"].median()
print(
    f"A typical refresh takes {typical:.1f} days from request to production (median), {refreshes['cycle_days'].quantile(0.9):.1f} at p90."
)

# %% [markdown]
# ## 4. Incidents and reviews
#
# Incidents carry their severity (1 = full outage) and, when resolved, the outage hours.
# Compliance reviews apply only to the adapters on regulated data; a rejection sends the adapter
# to rework and back into review.

# %%
incidents = events[events["event"] == "incident"]
outages = events.loc[events["event"] == "incident_resolved", "value"]
severity = incidents["value"].astype(int).value_counts().sort_index()
print(
    "Incidents by severity: "
    + ", ".join(f"sev{s}: {c}" for s, c in severity.items())
    + f"; {outages.sum():.1f} outage hours in total, the longest {outages.max():.1f} h."
    if len(incidents)
    else "No incidents in this future."
)

reviews = events[events["event"].isin(["review_start", "review_rejected"])]
review_table = reviews.pivot_table(index="entity", columns="event", values="time_days", aggfunc="count", fill_value=0)
display(review_table)
if len(reviews):
    rejected = review_table.get("review_rejected", pd.Series(0, index=review_table.index)).sum()
    print(
        f"{len(review_table)} regulated adapters went through {review_table['review_start'].sum()} reviews; "
        f"{rejected} were rejected ({rejected / review_table['review_start'].sum():.0%})."
    )
    review_cycles = refreshes[refreshes["reviews"] > 0]["cycle_days"].median()
    print(f"A refresh with a review takes {review_cycles:.1f} days (median) against {typical:.1f} for all refreshes.")

# %% [markdown]
# ## 5. How a base-model release ripples through the queues
#
# When the team adopts a new base model, every adapter needs a refresh at once (an adapter whose
# refresh is already in flight absorbs the request: `refresh_merged`). All of that work lands on
# the same engineers and GPU pool. We take the first adopted ("forced") release and follow the
# work it creates.

# %%
releases = events[events["event"] == "base_model_release"]
display(releases[["time_days", "detail"]])
ripple_replication, ripple_events = REPLICATION, events
while not (ripple_events["detail"] == "forced").any() and ripple_replication < REPLICATION + 50:
    ripple_replication += 1  # this future adopted no release: look at the next one
    ripple_events = trace(cfg, replication=ripple_replication, operating_model=MODEL)
if ripple_replication != REPLICATION:
    print(f"No release was adopted in replication {REPLICATION}; following replication {ripple_replication} instead.")
ripple_refreshes = refresh_table(ripple_events)
t0 = float(ripple_events.loc[ripple_events["detail"] == "forced", "time_days"].iloc[0])
print(f"Following the release adopted on day {t0:.1f} of replication {ripple_replication}.")

# %%
wave = ripple_refreshes[(ripple_refreshes["reason"] == "base_model") & np.isclose(ripple_refreshes["requested"], t0)]
merged = ripple_events[(ripple_events["event"] == "refresh_merged") & np.isclose(ripple_events["time_days"], t0)]
typical_ripple = ripple_refreshes["cycle_days"].median()
done = wave["ended"].max()
print(f"The release requested {len(wave)} refreshes at once; {len(merged)} adapter(s) already refreshing absorbed the request.")
print(
    f"First training started {wave['days_to_training'].min():.1f} days later, the last {wave['days_to_training'].max():.1f} days later: "
    f"the adapters queue for data preparation by {cfg.scenario.engineers} engineers."
)
print(
    f"The last refresh of the wave ended {done - t0:.1f} days after the release "
    f"(a typical refresh takes {typical_ripple:.1f} days); {int((wave['reviews'] > 0).sum())} of them needed a compliance review."
)
display(wave.sort_values("first_training")[["entity", "requested", "first_training", "ended", "outcome", "trainings", "reviews"]].round(2))

# %% [markdown]
# Zoomed in on the release: refreshes in flight jump by the size of the wave and drain as
# engineers work through data preparation; trainings on GPUs come in short bursts.

# %%
window = (t0 - 10, max(t0 + 30, done + 5))
ripple_in_flight = step_count(ripple_events, ["refresh_requested"], ["promoted", "rollback"])
ripple_training = step_count(ripple_events, ["train_start"], ["train_end", "train_failed", "train_preempted"])
fig, ax = plt.subplots(figsize=(13, 4.5))
ax.step(ripple_in_flight.index, ripple_in_flight.to_numpy(), where="post", label="refreshes in flight")
ax.step(ripple_training.index, ripple_training.to_numpy(), where="post", label="trainings on GPUs")
ax.axvline(t0, color="#D55E00", ls="--", label="base-model release")
ax.set_xlim(*window)
ax.set_xlabel("day")
ax.set_ylabel("count")
ax.legend(loc="upper right")
ax.set_title(f"The wave after the release on day {t0:.0f}", loc="left")
show(fig)

# %% [markdown]
# The same future under managed fine-tuning: the world (drift, releases, incidents' arrival
# times) is identical — common random numbers — but training runs at the vendor. Does the wave
# clear faster?

# %%
managed = "managed_finetune"
if managed in cfg.operating_model:
    other = trace(cfg, replication=ripple_replication, operating_model=managed)
    same_world = np.allclose(
        other.loc[other["event"] == "base_model_release", "time_days"],
        ripple_events.loc[ripple_events["event"] == "base_model_release", "time_days"],
    )
    print(f"Same release dates under {managed}: {same_world}")
    promoted_after = other[(other["event"] == "promoted") & (other["time_days"] >= t0)]
    requested_wave = other[(other["event"] == "refresh_requested") & np.isclose(other["time_days"], t0)]
    if len(requested_wave):
        ends = promoted_after.groupby("entity")["time_days"].min().reindex(requested_wave["entity"])
        last = ends.max() - t0
        print(f"Under {managed} the release requested {len(requested_wave)} refreshes; the last was in production {last:.1f} days later.")
    else:
        print(f"Under {managed} this release did not force a migration.")

# %% [markdown]
# ## 6. Is this future typical?
#
# The numba engine runs many replications in the time the trace takes for one; replication
# `REPLICATION` in it is the very future traced above. Its operational metrics match the trace,
# and their rank among all replications says whether we looked at a calm or a busy future.

# %%
results = simulate(cfg)
metrics = results.metrics[results.metrics["operating_model"] == MODEL].set_index("replication")
mine = metrics.loc[REPLICATION]
for metric, event in (("incidents", "incident"), ("refreshes_completed", "promoted"), ("training_runs", "train_start")):
    print(f"{metric}: {counts.get(event, 0)} in the trace, {mine[metric]:.0f} from the numba engine")

columns = [
    "refreshes_completed",
    "incidents",
    "downtime_adapter_hours",
    "engineer_wait_mean_hours",
    "gpu_wait_mean_hours",
    "gpu_queue_mean",
]
context = pd.DataFrame(
    {
        "this future": mine[columns],
        "median": metrics[columns].median(),
        "p90": metrics[columns].quantile(0.9),
        "percentile": [(metrics[c] < mine[c]).mean() + 0.5 * (metrics[c] == mine[c]).mean() for c in columns],
    }
)
display(context.round(2))
tco = results.totals_frame()[MODEL]
print(
    f"This future's {results.horizon_years}-year TCO is ${tco.loc[REPLICATION] / 1e6:.2f}M, "
    f"at the {(tco < tco.loc[REPLICATION]).mean():.0%} percentile of {len(tco):,} futures."
)
gpu_wait, engineer_wait = metrics["gpu_wait_mean_hours"].median(), metrics["engineer_wait_mean_hours"].median()
print(
    f"Work waits {gpu_wait:.2f} hours for a GPU and {engineer_wait:.1f} hours for an engineer (medians over futures); "
    f"the GPU queue is never used in {(metrics['gpu_queue_mean'] == 0).mean():.0%} of futures."
)
print("The bottleneck is people, not GPUs." if engineer_wait > gpu_wait else "The bottleneck is the GPU pool.")

# %% [markdown]
# ## 7. The deck chart
#
# `plots.year_in_the_life` draws the first year of a trace as one lane per adapter — waiting,
# training, evaluation, review — with drift, incidents and releases marked, and the work in
# flight underneath.

# %%
show(
    plots.year_in_the_life(
        events,
        label=results.model_labels[results.model_names.index(MODEL)],
        note=f"replication {REPLICATION}, seed {results.seed}, SimPy trace",
    )
)
