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
# # Your organization: calibrate the scenario to your team
#
# The default scenario is a documented, generic team (`docs/assumptions.md`). Your answer depends
# on *your* salaries, GPU contract, traffic and how sure you are of each. This notebook:
#
# 1. states your numbers as overrides — a plain number where you know the value, a distribution
#    where you don't;
# 2. shows how they change the comparison, and which change matters most;
# 3. saves them as a scenario preset, and runs the `lora-tco` command on it, so the whole team
#    can reproduce the study from the command line.
#
# The preset is written to the folder named by the environment variable `LORA_TCO_SCENARIO_DIR`
# (a folder called `scenario`, the config group), by default the packaged `configs/scenario/`
# beside `default.yaml`.

# %%
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml
from IPython.display import display
from omegaconf import OmegaConf

from models.distributions import to_compact
from sim import analysis, load_config, simulate
from sim.core.labels import money, number
from sim.outputs import charts as plots
from sim.outputs.charts import show
from sim.run.config import CONFIG_DIR

# Small runs for the test suite (LORA_TCO_NOTEBOOK_SMALL=1), realistic ones otherwise.
SMALL = os.environ.get("LORA_TCO_NOTEBOOK_SMALL") == "1"
REPLICATIONS = 300 if SMALL else 5000

SCENARIO_NAME = "my_team"
SCENARIO_DIR = Path(os.environ.get("LORA_TCO_SCENARIO_DIR") or CONFIG_DIR / "scenario").resolve()
if SCENARIO_DIR.name != "scenario":
    raise ValueError(f"LORA_TCO_SCENARIO_DIR = {SCENARIO_DIR}: must be a folder named 'scenario' (the config group)")
RUN_DIR = Path("outputs", SCENARIO_NAME).resolve()  # where the lora-tco run below writes its files

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)


usd = money  # USD as a budget slide writes it: $1.25M, $340k


def hydra_value(text: str) -> str:
    """A string as a Hydra override value: quoted when it holds characters Hydra would parse."""
    return text if re.fullmatch(r"[A-Za-z0-9_./:+-]+", text) else "'" + text.replace("'", "\\'") + "'"


def override(key: str, value) -> str:
    """A Hydra override for a scenario field; distributions go as quoted strings."""
    return f'scenario.{key}="{value}"' if isinstance(value, str) else f"scenario.{key}={value}"


# %% [markdown]
# ## 1. Your numbers
#
# Edit this dictionary. Keys are fields of the scenario (`configs/scenario/default.yaml` lists
# them all, with units). Write a number for what you know, and a distribution for what you
# don't: `"pert(min,mode,max)"` for a three-point estimate, `"interval90(low,high)"` when you
# are 90 % sure the value lies between low and high, `"uniform(min,max)"`, `"triangular(...)"`,
# `"lognormal(median,sigma)"`, and `"choice(value:probability,...)"` for a structural fact you are
# unsure of.
#
# Say also what your organisation already has: platform engineers already employed who can take
# on this work (`existing_platform_fte`) and the share of their cost that counts against this
# decision (`existing_staff_cost_share`: 0 if the work fits in time you pay for anyway, 1 if it
# displaces work worth their whole cost), reserved GPUs (`existing_reserved_gpus`) and monitoring
# (`existing_monitoring_share`). Each operating model then books only what it adds beyond them (an
# *incremental* TCO; every output names its accounting basis).

# %%
MY_TEAM = {
    "engineer_loaded_annual_usd": "pert(150000,180000,240000)",  # our salary bands, loaded with benefits and overhead
    "gpu_reserved_usd_per_hour": 2.1,  # our committed-use contract: a known price
    "gpu_on_demand_usd_per_hour": "pert(2.5,3.0,4.5)",  # the cloud we burst to
    "tokens_per_adapter_month_m": "interval90(20,300)",  # product analytics: 90 % sure of 20-300 M tokens
    "adapters": 8,  # the estate we plan for
    "existing_platform_fte": "choice(0:0.5,1:0.5)",  # even odds that our MLOps engineer can take this on, or we hire
    "existing_staff_cost_share": 0.3,  # their time is not free: 30 % of it is product work we would lose
}
overrides = [override(key, value) for key, value in MY_TEAM.items()]
print("\n".join(overrides))

# %%
base = [f"replications={REPLICATIONS}"]
default_cfg = load_config(base)
my_cfg = load_config([*base, *overrides])  # a bad value fails here with one line naming the field
default_scenario = OmegaConf.to_container(default_cfg.scenario)
default_inputs, my_inputs = analysis.uncertain_inputs(default_cfg), analysis.uncertain_inputs(my_cfg)


def spread(inputs: dict, cfg, key: str) -> str:
    """p05 / p50 / p95 of an uncertain input, or its fixed value."""
    law = inputs.get(f"scenario.{key}")
    if law is None:
        return f"{number(cfg.scenario[key])} (fixed)"
    return " / ".join(number(law.quantile(q)) for q in (0.05, 0.5, 0.95))


inputs_table = pd.DataFrame(
    {
        "default p05 / p50 / p95": [spread(default_inputs, default_cfg, k) for k in MY_TEAM],
        "yours p05 / p50 / p95": [spread(my_inputs, my_cfg, k) for k in MY_TEAM],
    },
    index=list(MY_TEAM),
)
display(inputs_table)

# %% [markdown]
# ## 2. The effect
#
# Both runs use the same seed, so replication *r* is the same future (drift, incidents,
# releases) in both: the differences below come from your inputs, not from Monte Carlo luck.

# %%
default_results = simulate(default_cfg)
my_results = simulate(my_cfg)
labels = {name: label.split(" (")[0] for name, label in zip(my_results.model_names, my_results.model_labels, strict=True)}
columns = ["tco_mean", "tco_p05", "tco_p95", "p_cheapest_tco"]
comparison = pd.concat(
    {
        "default": default_results.summary().set_index("operating_model")[columns],
        "yours": my_results.summary().set_index("operating_model")[columns],
    },
    axis=1,
)
display(comparison.round(2))

# %%
for name in my_results.model_names:
    before, after = comparison.loc[name, ("default", "tco_mean")], comparison.loc[name, ("yours", "tco_mean")]
    print(f"{labels[name]}: {usd(before)} -> {usd(after)} mean {my_results.horizon_years}-year TCO ({after / before - 1:+.0%}).")
best_default = comparison[("default", "tco_mean")].idxmin()
best_mine = comparison[("yours", "tco_mean")].idxmin()
print(
    f"Cheapest on average: {labels[best_default]} in the default scenario, {labels[best_mine]} for your team "
    f"(cheapest in {comparison.loc[best_mine, ('yours', 'p_cheapest_tco')]:.0%} of your futures)."
)
paired = analysis.paired_comparison(my_results)
for _, row in paired.iterrows():
    print(
        f"  {labels[row['a']]} minus {labels[row['b']]}: {usd(row['mean_difference'])} "
        f"(95 % CI {usd(row['ci95_low'])} to {usd(row['ci95_high'])}); {labels[row['a']]} cheaper in {row['p_a_cheaper']:.0%} of futures."
    )

# %% [markdown]
# Which of your changes moved the answer? Apply them one at a time to the default scenario and
# look at each model's mean TCO (the changes interact, so the one-at-a-time effects need not add
# up to the total).

# %%
effects = {}
for key, value in MY_TEAM.items():
    one = simulate(load_config([*base, override(key, value)]))
    effects[key] = (one.totals().mean(axis=1) - default_results.totals().mean(axis=1)) / 1e3
effects = pd.DataFrame(effects, index=list(my_results.model_names)).T
effects.loc["all together"] = (my_results.totals().mean(axis=1) - default_results.totals().mean(axis=1)) / 1e3
display(effects.round(0).rename(columns=lambda c: f"{c} ($k)"))
largest = effects.drop(index="all together").abs().max(axis=1).idxmax()
print(f"The change that moves the totals most is {largest} = {MY_TEAM[largest]}.")

# %%
fig, ax = plt.subplots(figsize=(11, 5.5))
for m, name in enumerate(my_results.model_names):
    for results, style, which in ((default_results, ":", "default"), (my_results, "-", "yours")):
        values = np.sort(results.totals()[m]) / 1e6
        at_or_below = np.arange(1, values.size + 1) / values.size
        ax.step(values, at_or_below, style, color=plots.model_colour(name), label=f"{labels[name]} ({which})")
ax.set_xlabel(f"{my_results.horizon_years}-year TCO ($M)")
ax.set_ylabel("share of futures at or below")
ax.set_title("Distribution of TCO: default scenario (dotted) against yours (solid)", loc="left")
ax.legend(fontsize=8)
show(fig)

# %% [markdown]
# ## 3. Save it as a scenario preset
#
# A preset extends `default` and lists only what differs — the same layout as the presets in
# `configs/scenario/`. Distributions are written in the compact string form: a string *replaces*
# the default's distribution, while a mapping such as `{dist: pert, ...}` would be merged into it
# key by key (and fail if the kinds differ).


# %%
def as_text(value) -> str:
    """A config value as the preset would write it: distributions in compact form."""
    return to_compact("value", value) if isinstance(value, dict) and "dist" in value else str(value)


header = [
    f"# Scenario preset: {SCENARIO_NAME.upper().replace('_', ' ')} (written by notebooks/04_your_organization).",
    "#",
    "# Extends `default` and changes only:",
    *(f"#   {key}: {as_text(default_scenario[key])} -> {value}" for key, value in MY_TEAM.items()),
    "# Distributions are compact strings so that they replace the default's (a mapping would be merged).",
]
preset = {"defaults": ["default", "_self_"], "name": SCENARIO_NAME, **MY_TEAM}
SCENARIO_DIR.mkdir(parents=True, exist_ok=True)
preset_path = SCENARIO_DIR / f"{SCENARIO_NAME}.yaml"
preset_path.write_text("\n".join(header) + "\n" + yaml.safe_dump(preset, sort_keys=False), encoding="utf-8")
print(f"wrote {preset_path}\n")
print(preset_path.read_text(encoding="utf-8"))

# %% [markdown]
# Load it back. When the preset is not in the packaged `configs/scenario/`, Hydra must be told
# where to look: `hydra.searchpath` adds the folder *above* `scenario/` to the config search path
# (`sim.load_config` also takes a whole replacement config folder as `config_dir`). The config
# composed from the file equals the one composed from the overrides, so the results are
# identical, replication for replication.

# %%
search_path = f"hydra.searchpath=[{hydra_value('file://' + SCENARIO_DIR.parent.as_posix())}]"
file_cfg = load_config([*base, f"scenario={SCENARIO_NAME}", search_path])
same_config = {k: v for k, v in OmegaConf.to_container(file_cfg.scenario).items() if k != "name"} == {
    k: v for k, v in OmegaConf.to_container(my_cfg.scenario).items() if k != "name"
}
file_results = simulate(file_cfg)
identical = np.array_equal(file_results.totals(), my_results.totals())
print(f"scenario.name = {file_cfg.scenario.name}; same scenario as the overrides: {same_config}; identical results: {identical}")
assert same_config and identical

# %% [markdown]
# ## 4. Run `lora-tco` on it
#
# On the command line Hydra's `--config-dir` flag adds the same folder to the search path. The
# command below is what a colleague would type; the run writes `summary.csv` (and the ledger)
# into its run folder, and its summary matches the one computed in this notebook.

# %%
executable = shutil.which("lora-tco", path=os.path.dirname(sys.executable))  # the command of this kernel's environment
command = [executable] if executable else [sys.executable, "-m", "sim"]
arguments = [
    "--config-dir",
    str(SCENARIO_DIR.parent),
    f"scenario={SCENARIO_NAME}",
    f"replications={REPLICATIONS}",
    "output.charts=false",
    "output.progress=false",
    f"hydra.run.dir={hydra_value(RUN_DIR.as_posix())}",
]
print("$ " + shlex.join(["lora-tco", *arguments]) + "\n")
completed = subprocess.run(command + arguments, capture_output=True, text=True, check=False)
print(completed.stdout)
if completed.returncode != 0:
    raise RuntimeError(f"lora-tco failed with exit status {completed.returncode}:\n{completed.stderr}")

# %%
cli_summary = pd.read_csv(RUN_DIR / "summary.csv").set_index("operating_model")
cli_config = OmegaConf.load(RUN_DIR / ".hydra" / "config.yaml")
matches = np.allclose(cli_summary["tco_mean"], my_results.summary().set_index("operating_model")["tco_mean"], rtol=1e-12)
print(f"The command composed scenario '{cli_config.scenario.name}' from {preset_path}.")
print(f"Its summary.csv has the same mean TCO per model as this notebook's run: {matches}")
display(cli_summary[["label", "tco_mean", "tco_p05", "tco_p95", "p_cheapest_tco"]].round(2))
assert cli_config.scenario.name == SCENARIO_NAME and matches

# %% [markdown]
# **Next:** commit the preset next to the packaged ones so the study is reproducible, then run
# the studies on it — for example `lora-tco scenario=my_team experiment=breakeven_volume`, or
# notebooks 03 and 05 with `load_config(["scenario=my_team", ...])`. To remove it, delete the
# file printed above.
