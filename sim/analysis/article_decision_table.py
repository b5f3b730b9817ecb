"""The article's decision table, row by row, against the simulator.

    lora-tco experiment=article_decision_table                            # 2,000 replications x 5 years
    python experiments/article_decision_table.py --replications 2000 --output out/
    python experiments/article_decision_table.py --replications 300 --horizon-years 3 scenario.engineers=2

The reference article (cited in ``docs/sources.md``) maps each decision
variable to the side it favours: self-managed LoRA or a managed platform. For each of its
rows (platform capacity, data sensitivity, adapter count, refresh cadence, base-model
dependency, latency / uptime SLA) this module builds one scenario per side (the base
scenario plus a few inputs inside their documented ranges), adds the article's two
segments and its bottom line as scenario presets, and reports per scenario

- the side the article expects to win and the model lora-tco finds cheapest (lowest mean
  over replications of the row's objective: TCO, or economic cost for the SLA row, since
  downtime is not in TCO), with its probability of being cheapest;
- every operating model's mean TCO and mean economic cost;
- whether the two agree (a managed platform = any operating model other than the
  self-managed one);
- the *flip*: where, along the row's own input and over its documented range, the
  cheapest model changes between self-managed LoRA and the cheapest managed model
  (a coarse grid at fewer replications, on common random numbers);
- where lora-tco disagrees, one sentence computed from the ledger saying why.

Every run uses the config's seed (common random numbers across rows and grid points) and
keeps every operating model the config selects. See ``docs/article-decision-table.md``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from models.compile import MV, SV, compile_config
from models.distributions import parse_uncertain, to_compact
from models.schema import ScenarioConfig
from sim.analysis import crossing_interval, set_parameter, sweep
from sim.core.labels import money, short_model_label
from sim.core.ledger import CATEGORIES, TCO_CATEGORIES
from sim.core.metrics import METRICS
from sim.engines.capacity import platform_fte_counted
from sim.run.config import CONFIG_DIR, validate
from sim.run.results import Results

SELF, MANAGED = "self-managed LoRA", "a managed platform"
SELF_FITS, MANAGED_FITS = "Self-managed LoRA fits", "Managed platform fits"
DEFAULT_SELF_MODEL = "self_managed_lora"
FLIP_REPLICATIONS = 500  # replications per grid point of a flip search (at most the table's own)
FLIP_CONFIDENCE = 0.90  # two-sided level of the interval on a threshold
NO_FLIP = "no flip in"  # the words of a threshold that does not exist on the grid
OBJECTIVES = {"tco": "mean TCO", "economic": "mean economic cost"}


@dataclass(frozen=True)
class Flip:
    """Where to look for the flip of a row: one scenario input over its documented range.

    ``fixed`` is set before the sweep (e.g. one existing engineer while their counted
    cost share is swept); ``values`` is the coarse grid, increasing, whose ends are the
    documented range; ``documented`` says where that range is written down.
    """

    parameter: str
    values: tuple[float, ...]
    documented: str
    fixed: Mapping[str, Any] = field(default_factory=dict)

    @property
    def low(self) -> float:
        return float(self.values[0])

    @property
    def high(self) -> float:
        return float(self.values[-1])


@dataclass(frozen=True)
class Side:
    """One column of an article row: the cell's facts and their encoding as inputs."""

    side: str  # SELF_FITS or MANAGED_FITS
    article_cell: str  # the article's cell, paraphrased
    overrides: Mapping[str, Any] = field(default_factory=dict)  # scenario.<field> -> value
    preset: str | None = None  # a scenario preset (configs/scenario/) applied before the overrides

    @property
    def expects(self) -> str:
        return SELF if self.side == SELF_FITS else MANAGED


@dataclass(frozen=True)
class Row:
    name: str
    sides: tuple[Side, ...]
    flip: Flip
    measure: str = "tco"  # the objective: "tco" or "economic"
    caveat: str = ""  # always part of the row's explanation
    short: str = ""  # the name in the printed table (default: name)


# Grids: 5-9 points, ends at the documented range (docs/assumptions.md and the comments of
# configs/scenario/default.yaml).
_SHARE_GRID = (0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
_ADAPTER_GRID = (1, 2, 3, 5, 8, 12, 20)
_STAFF_FLIP = Flip(
    "scenario.existing_staff_cost_share",
    _SHARE_GRID,
    "existing_staff_cost_share 0 (sunk) ... 1 (fully counted), with existing_platform_fte = 1 (configs/scenario/default.yaml)",
    {"scenario.existing_platform_fte": 1.0},
)

# What it would take: the platform engineers already employed, their time sunk, at which
# self-managed LoRA becomes the cheapest model of a self-fits scenario (searched on that
# scenario, with its own overrides).
STAFF_NEEDED = Flip(
    "scenario.existing_platform_fte",
    (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0),
    "existing_platform_fte 0-3 FTE already employed, with existing_staff_cost_share = 0 (their time sunk)",
    {"scenario.existing_staff_cost_share": 0.0},
)

ROWS: tuple[Row, ...] = (
    Row(
        "Platform engineering capacity",
        (
            Side(
                SELF_FITS,
                "one or more dedicated ML platform FTE",
                {"scenario.existing_platform_fte": 1.0, "scenario.existing_staff_cost_share": 0.0},
            ),
            Side(MANAGED_FITS, "less than half an FTE free for platform work", {"scenario.existing_platform_fte": 0.0}),
        ),
        _STAFF_FLIP,
    ),
    Row(
        "Data sensitivity",
        (
            Side(SELF_FITS, "internal data, little PII, no regulatory mandate", {"scenario.regulated_share": 0.0}),
            Side(MANAGED_FITS, "PHI / PII, regulated industry (HIPAA, SOC 2, FedRAMP)", {"scenario.regulated_share": 1.0}),
        ),
        Flip("scenario.regulated_share", (0.0, 0.25, 0.5, 0.75, 1.0), "regulated_share 0-1 (docs/assumptions.md)"),
    ),
    Row(
        "Adapter count",
        (
            Side(SELF_FITS, "one to three adapters", {"scenario.adapters": 2}),
            Side(MANAGED_FITS, "five or more adapters, multi-tenant above all", {"scenario.adapters": 10}),
        ),
        Flip("scenario.adapters", _ADAPTER_GRID, "adapters 1-20 (docs/assumptions.md)"),
    ),
    Row(
        "Refresh cadence",
        (
            Side(SELF_FITS, "quarterly or slower", {"scenario.refresh_interval_days": 90}),
            Side(MANAGED_FITS, "monthly or faster", {"scenario.refresh_interval_days": 30}),
        ),
        Flip("scenario.refresh_interval_days", (30, 45, 60, 75, 90), "refresh_interval_days 30-90 (docs/assumptions.md)"),
    ),
    Row(
        "Base-model dependency",
        (
            Side(SELF_FITS, "open-weight base (Llama, Mistral families)", {"scenario.base_model_releases_per_year": 1.0}),
            Side(MANAGED_FITS, "closed-model quality needed (GPT-4o class)", {"scenario.base_model_releases_per_year": 4.0}),
        ),
        Flip(
            "scenario.base_model_releases_per_year", (1.0, 1.75, 2.5, 3.25, 4.0), "base_model_releases_per_year 1-4 (docs/assumptions.md)"
        ),
        caveat=(
            "lora-tco has no input for model quality: this row prices only the base-model lifecycle (releases a year "
            "that force re-training or migration); the quality of a closed model, which only managed fine-tuning can "
            "serve, is not priced."
        ),
    ),
    Row(
        "Latency / uptime SLA",
        (
            Side(
                SELF_FITS,
                "flexible uptime, the team runs its own infrastructure",
                {"scenario.downtime_usd_per_adapter_hour": {"dist": "pert", "min": 200.0, "mode": 500.0, "max": 2000.0}},
            ),
            Side(
                MANAGED_FITS,
                "strict uptime SLA, no internal on-call",
                {"scenario.downtime_usd_per_adapter_hour": {"dist": "pert", "min": 5000.0, "mode": 8000.0, "max": 10000.0}},
            ),
        ),
        Flip(
            "scenario.downtime_usd_per_adapter_hour",
            (200.0, 500.0, 1000.0, 2000.0, 4000.0, 6000.0, 8000.0, 10000.0),
            "downtime_usd_per_adapter_hour 500-10,000 (default), 200-2,000 (small_team_stable_data)",
        ),
        measure="economic",
    ),
    Row(
        "Segment: small team, one domain, stable data",
        (Side(SELF_FITS, "one engineer, one narrow use case, data changing a few times a year", preset="small_team_stable_data"),),
        _STAFF_FLIP,
        short="Segment: small team",
    ),
    Row(
        "Segment: regulated data, fast iteration or many adapters",
        (Side(MANAGED_FITS, "regulated workloads and a large adapter estate", preset="regulated_many_adapters"),),
        Flip("scenario.adapters", _ADAPTER_GRID, "adapters 1-20 (docs/assumptions.md)"),
        short="Segment: regulated, many",
    ),
    Row(
        "Bottom line: existing GPU platform and MLOps staff",
        (Side(SELF_FITS, "GPU infrastructure, MLOps tooling and lifecycle staff already in place", preset="existing_gpu_platform"),),
        Flip(
            "scenario.existing_staff_cost_share",
            _SHARE_GRID,
            "existing_staff_cost_share 0 (sunk) ... 1 (fully counted) (configs/scenario/default.yaml); "
            "the preset draws it from PERT(0, 0.25, 0.5)",
        ),
        short="Bottom line: existing platform",
    ),
)

SHORT_NAMES = {row.name: row.short for row in ROWS if row.short}

CATEGORY_WORDS = {
    "gpu_training": "training GPUs",
    "gpu_serving": "serving GPUs",
    "storage": "checkpoint storage",
    "monitoring": "monitoring",
    "labor_platform": "platform labour",
    "labor_pipeline": "pipeline labour (data prep, evaluation, rework)",
    "labor_oncall": "on-call labour",
    "labor_compliance": "compliance review and audit",
    "vendor_training": "vendor training fees",
    "vendor_inference": "vendor inference fees",
    "vendor_platform": "the vendor platform fee",
    "sla_credit": "SLA credits",
    "downtime": "downtime",
    "staleness": "staleness (quality lost to drift)",
}


# -- configs of the rows ----------------------------------------------------------------------

_WHOLE_SCENARIO_FIELDS = frozenset(f.name for f in fields(ScenarioConfig) if f.type in (int, "int"))


def assign(plain: dict, path: str, value: Any) -> None:
    """Set a dotted config path in a plain config (:func:`sim.analysis.set_parameter`).

    A scenario field that may hold any number (a share, a rate) but currently holds an
    integer (``existing_staff_cost_share: 1``) first becomes a float, so that it takes a
    fraction; whole-number fields (``adapters``) keep integer values.
    """
    section, _, name = path.partition(".")
    node = plain.get("scenario", {})
    if section == "scenario" and name in node and name not in _WHOLE_SCENARIO_FIELDS:
        old = node[name]
        if isinstance(old, int) and not isinstance(old, bool):
            node[name] = float(old)
    set_parameter(plain, path, value)


def preset_changes(name: str) -> dict[str, Any]:
    """The fields a scenario preset changes from ``default``, merged as Hydra merges them.

    A preset extends ``default`` (``defaults: [default, _self_]``): its own keys are the
    changes. A mapping merges key by key into the default's mapping.
    """
    path = CONFIG_DIR / "scenario" / f"{name}.yaml"
    if not path.exists():
        options = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ValueError(f"scenario preset {name!r}: no such file; available: {', '.join(options)}")
    preset = OmegaConf.load(path)
    if list(preset.get("defaults", [])) != ["default", "_self_"]:
        raise ValueError(f"scenario preset {name!r}: must extend default (defaults: [default, _self_])")
    default = OmegaConf.load(CONFIG_DIR / "scenario" / "default.yaml")
    out: dict[str, Any] = {}
    for key, value in preset.items():
        if key in ("defaults", "name"):
            continue
        if isinstance(value, DictConfig) and isinstance(default.get(key), DictConfig):
            value = OmegaConf.merge(default[key], value)
        out[f"scenario.{key}"] = OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value
    return out


def side_config(base: Mapping, side: Side, extra: Mapping[str, Any] | None = None) -> dict:
    """The validated plain config of one side: the base, the preset's changes, the overrides, then ``extra``."""
    plain = copy.deepcopy(dict(base))
    changes = {**(preset_changes(side.preset) if side.preset else {}), **side.overrides, **(extra or {})}
    for path, value in changes.items():
        assign(plain, path, value)
    if side.preset:
        plain["scenario"]["name"] = side.preset
    return validate(plain)


def _value_text(path: str, value: Any) -> str:
    if isinstance(value, Mapping) and "dist" in value:
        return to_compact(path, value)
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def scenario_text(base_name: str, side: Side) -> str:
    """``default + adapters=2`` or ``preset small_team_stable_data``."""
    start = f"preset {side.preset}" if side.preset else base_name
    if side.preset and base_name != "default":
        start = f"{base_name} + preset {side.preset}"
    changes = [f"{path.removeprefix('scenario.')}={_value_text(path, v)}" for path, v in side.overrides.items()]
    return start + (" + " + ", ".join(changes) if changes else "")


# -- the flip -----------------------------------------------------------------------------------


@dataclass
class FlipResult:
    """A flip search: self-managed minus the cheapest managed model along one input."""

    flip: Flip
    replications: int
    threshold: float | None
    ci_low: float
    ci_high: float
    detail: str


def search_flip(base: Mapping, row: Row, self_model: str, replications: int) -> FlipResult:
    """Sweep the row's flip input over its grid and find where self-managed and the best managed model swap.

    At each grid point the managed side is the managed model with the lowest mean; the
    curve is the mean paired difference self-managed minus that model, per replication
    (common random numbers), and the threshold is where it first changes sign, by linear
    interpolation (:func:`sim.analysis.crossing_interval`, with its confidence interval).
    """
    # the row's preset (if any) and the flip's fixed inputs; not a side's own overrides
    start = side_config(base, replace(row.sides[0], overrides={}), row.flip.fixed)
    return flip_along(start, row.flip, row.measure, self_model, replications)


def search_staff_needed(base: Mapping, row: Row, side: Side, self_model: str, replications: int) -> FlipResult:
    """:data:`STAFF_NEEDED` on one side's own scenario: how many sunk platform FTE make self-managed LoRA cheapest."""
    return flip_along(side_config(base, side, STAFF_NEEDED.fixed), STAFF_NEEDED, row.measure, self_model, replications)


def flip_along(start: dict, flip: Flip, measure: str, self_model: str, replications: int) -> FlipResult:
    """The flip search of :func:`search_flip` from a given validated config."""
    start = copy.deepcopy(start)
    start["replications"] = int(replications)
    assign(start, flip.parameter, flip.values[0])  # make the swept field take fractions (see assign)
    data = sweep(start, flip.parameter, list(flip.values))
    totals = data.totals[measure]  # [points, models, replications]
    names = list(data.model_names)
    s = names.index(self_model)
    managed = [k for k in range(len(names)) if k != s]
    means = totals.mean(axis=2)
    best = [managed[int(np.argmin(means[p, managed]))] for p in range(len(flip.values))]
    diffs = np.stack([totals[p, s] - totals[p, best[p]] for p in range(len(flip.values))])
    x = np.asarray(flip.values, dtype=float)
    crossing, low, high = crossing_interval(x, diffs, FLIP_CONFIDENCE, seed=data.seed)
    mean = diffs.mean(axis=1)
    label = {k: short_model_label(names[k]) for k in range(len(names))}

    switches = [p for p in range(1, len(best)) if best[p] != best[p - 1]]
    managed_note = ""
    if switches:
        p = switches[0]
        managed_note = (
            f"; the cheapest managed model changes from {label[best[p - 1]]} to {label[best[p]]} between {x[p - 1]:g} and {x[p]:g}"
        )
    if crossing is None:
        winner = f"{SELF} ({label[s]})" if mean[0] < 0 else f"{MANAGED} ({label[best[0]]})"
        closest = int(np.argmin(np.abs(mean)))
        detail = (
            f"{winner} is cheapest across [{flip.low:g}, {flip.high:g}]; the gap is smallest at {x[closest]:g} "
            f"({label[s]} {'+' if mean[closest] >= 0 else '-'}{money(abs(mean[closest]))}){managed_note}"
        )
    else:
        first = int(np.argmax(np.sign(mean) != np.sign(mean[0])))
        below = f"{SELF}" if mean[0] < 0 else f"{MANAGED} ({label[best[0]]})"
        above = f"{MANAGED} ({label[best[first]]})" if mean[0] < 0 else f"{SELF}"
        lo = "below the grid" if math.isinf(low) else f"{low:.3g}"
        hi = "beyond the grid" if math.isinf(high) else f"{high:.3g}"
        detail = f"{below} cheapest below {crossing:.3g}, {above} above ({FLIP_CONFIDENCE:.0%} CI {lo} to {hi}){managed_note}"
    return FlipResult(flip, int(replications), crossing, low, high, detail)


def threshold_text(result: FlipResult) -> str:
    """The threshold as a number, or ``no flip in [lo, hi]``."""
    if result.threshold is None:
        return f"{NO_FLIP} [{result.flip.low:g}, {result.flip.high:g}]"
    return f"{result.threshold:.4g}"


# -- why lora-tco disagrees ------------------------------------------------------------------------


def _mean(results: Results, metric: str) -> np.ndarray:
    """Mean of a metric over replications, per operating model."""
    return results.metrics_array[:, :, METRICS.index(metric)].mean(axis=1)


def _per_year(results: Results, metric: str) -> np.ndarray:
    """Mean of a count metric per operating model, per simulated year."""
    return _mean(results, metric) / results.horizon_years


def _fte_need(plain: Mapping, results: Results) -> tuple[np.ndarray, float, float]:
    """Mean platform FTE need per model (before existing staff), mean existing FTE and mean counted share."""
    run = compile_config(plain)
    values = run.model_values  # [models, replications, fields]
    adapters = int(plain["scenario"]["adapters"])
    fields = [MV[f"platform.{name}"] for name in ("base_fte", "fte_per_adapter", "max_fte")]
    # the engines' own rule, with no existing staff: the whole need
    need = np.array([[platform_fte_counted(*row[fields], adapters, 0.0, 1.0) for row in model] for model in values])
    order = [run.model_names.index(name) for name in results.model_names]
    existing = run.scenario_values[:, SV["existing_platform_fte"]]
    share = run.scenario_values[:, SV["existing_staff_cost_share"]]
    return need[order].mean(axis=1), float(existing.mean()), float(share.mean())


def _detail(category: str, plain: Mapping, results: Results, loser: int, winner: int) -> str:
    """The figures behind one ledger category, loser against winner."""
    names = results.model_names
    lo, wi = short_model_label(names[loser]), short_model_label(names[winner])
    years = results.horizon_years
    if category == "labor_platform":
        need, existing, share = _fte_need(plain, results)
        counted = _mean(results, "platform_fte")
        n = int(plain["scenario"]["adapters"])
        needs = "adapters need" if n != 1 else "adapter needs"
        text = f"{n} {needs} {need[loser]:.2f} FTE of platform work under {lo} and {need[winner]:.2f} under {wi}"
        if existing > 0:
            text += (
                f"; the {existing:.2g} FTE already employed covers the need up to {existing:.2g} FTE under every model, counted at "
                f"{share:.0%} of its cost, which leaves {counted[loser]:.2f} FTE booked against {counted[winner]:.2f}"
            )
        return text
    if category == "labor_pipeline":
        hours, runs = _per_year(results, "engineer_hours_pipeline"), _per_year(results, "training_runs")
        return (
            f"{hours[loser]:,.0f} pipeline engineer-hours and {runs[loser]:.1f} training runs a year "
            f"against {hours[winner]:,.0f} and {runs[winner]:.1f}"
        )
    if category == "labor_oncall":
        hours, incidents = _per_year(results, "engineer_hours_oncall"), _per_year(results, "incidents")
        return (
            f"{hours[loser]:,.0f} on-call engineer-hours and {incidents[loser]:.1f} incidents a year "
            f"against {hours[winner]:,.0f} and {incidents[winner]:.1f}"
        )
    if category == "gpu_serving":
        gpus = _per_year(results, "serving_gpu_hours") / 8760.0
        busy = _mean(results, "serving_utilization")
        return f"{lo} keeps {gpus[loser]:.1f} always-on serving GPUs, busy {busy[loser]:.0%} of their paid hours"
    if category == "gpu_training":
        paid = _mean(results, "reserved_gpus_paid")
        used = _per_year(results, "gpu_hours_used")
        return (
            f"{paid[loser]:.1f} reserved training GPUs paid and {used[loser]:,.0f} GPU-hours used a year "
            f"against {paid[winner]:.1f} and {used[winner]:,.0f}"
        )
    if category == "downtime":
        hours = _per_year(results, "downtime_adapter_hours")
        rate = parse_uncertain("scenario.downtime_usd_per_adapter_hour", plain["scenario"]["downtime_usd_per_adapter_hour"]).mean
        return f"{hours[loser]:.1f} adapter-hours of outage a year against {hours[winner]:.1f}, at a mean {money(rate)} per adapter-hour"
    if category == "staleness":
        days = _per_year(results, "quality_deficit_days")
        return f"{days[loser]:,.0f} quality point-days lost a year against {days[winner]:,.0f}"
    cats = results.by_category()
    a, b = cats.iloc[loser][category] / years, cats.iloc[winner][category] / years
    return f"{money(a)} a year under {lo} against {money(b)} under {wi}"


def explain_gap(plain: Mapping, results: Results, loser: str, winner: str, measure: str) -> str:
    """One sentence: how much more ``loser`` costs than ``winner`` and the ledger category that explains most of it."""
    names = list(results.model_names)
    li, wi = names.index(loser), names.index(winner)
    cats = results.by_category()
    used = list(CATEGORIES if measure == "economic" else TCO_CATEGORIES)
    diff = cats.loc[loser, used] - cats.loc[winner, used]
    gap = float(diff.sum())
    top = str(diff.idxmax())
    what = "economic cost" if measure == "economic" else "TCO"
    words = CATEGORY_WORDS[top]
    verb = "account" if words.endswith("s") else "accounts"
    part = float(diff[top])
    share = f"{verb} for {money(part)} of it"
    if part > gap:
        favour = f"the other categories together favour {short_model_label(loser)} by {money(part - gap)}"
        share = f"{verb} for {money(part)}, more than all of it ({favour})"
    return (
        f"{short_model_label(loser)} costs {money(gap)} more {what} over {results.horizon_years} years than "
        f"{short_model_label(winner)}; {words} {share}: {_detail(top, plain, results, li, wi)}."
    )


# -- the table ------------------------------------------------------------------------------------------


def decision_table(
    base: Mapping,
    flip_replications: int | None = None,
    rows: Sequence[Row] = ROWS,
    self_model: str | None = None,
) -> pd.DataFrame:
    """Simulate every side of every row and compare the cheapest model with the article's.

    Parameters
    ----------
    base : mapping
        A composed plain config (``sim.run.config.validate(load_config(...))``): its seed,
        horizon, replications, engine and selected operating models are used, and its
        scenario is the one each row changes.
    flip_replications : int, optional
        Replications per grid point of a flip search; default
        ``min(replications, FLIP_REPLICATIONS)``.
    rows : sequence of Row
        The rows (default: :data:`ROWS`).
    self_model : str, optional
        The self-managed operating model (default ``study.a``, else ``self_managed_lora``);
        every other selected model counts as a managed platform.

    Returns
    -------
    DataFrame
        One row per side (15 by default). Columns: ``row, side, article_cell, scenario,
        objective, article_expects, cheapest, cheapest_label, p_cheapest, p_article_side,
        agree, tco_mean_<model>, economic_mean_<model>`` for every model, ``flip_input,
        flip_low, flip_high, threshold`` (a number, or ``no flip in [lo, hi]``),
        ``threshold_ci_low, threshold_ci_high, flip_detail, flip_replications,
        staff_needed`` (self-fits sides: the platform FTE already employed, their time
        sunk, from which self-managed LoRA is cheapest, or ``no flip in [0, 3]``),
        ``staff_needed_detail, explanation, accounting_basis, warnings, replications,
        horizon_years, seed, engine``.
    """
    base = validate(base) if isinstance(base, DictConfig) else validate(copy.deepcopy(dict(base)))
    models = list(base["operating_model"])
    if self_model is None:
        self_model = base.get("study", {}).get("a", DEFAULT_SELF_MODEL) or DEFAULT_SELF_MODEL
    if self_model not in models or len(models) < 2:
        raise ValueError(
            f"article_decision_table: needs {self_model!r} and at least one managed model among the selected "
            f"operating models ({', '.join(models)})"
        )
    reps = int(base["replications"])
    flip_reps = min(reps, FLIP_REPLICATIONS) if flip_replications is None else int(flip_replications)
    if flip_reps < 2:
        raise ValueError(f"flip_replications = {flip_reps}: need at least 2")
    base_name = str(base["scenario"].get("name", "default"))

    from sim.run.runner import simulate

    records = []
    for row in rows:
        found = search_flip(base, row, self_model, flip_reps)
        for side in row.sides:
            plain = side_config(base, side)
            results = simulate(plain, progress=False)
            summary = results.summary().set_index("operating_model")
            key = row.measure
            means = summary[f"{key}_mean"]
            cheapest = str(means.idxmin())
            managed = [m for m in models if m != self_model]
            best_managed = str(means[managed].idxmin())
            p_col = f"p_cheapest_{key}"
            p_self = float(summary.loc[self_model, p_col])
            lora_side = SELF if cheapest == self_model else MANAGED
            agree = lora_side == side.expects
            explanation = ""
            if not agree:
                loser, winner = (self_model, cheapest) if side.expects == SELF else (best_managed, self_model)
                explanation = explain_gap(plain, results, loser, winner, key)
            if row.caveat:
                explanation = f"{explanation} {row.caveat}".strip()
            warnings = results.capacity_warnings()
            staff = search_staff_needed(base, row, side, self_model, flip_reps) if side.expects == SELF else None
            record = {
                "row": row.name,
                "side": side.side,
                "article_cell": side.article_cell,
                "scenario": scenario_text(base_name, side),
                "objective": OBJECTIVES[key],
                "article_expects": side.expects,
                "cheapest": cheapest,
                "cheapest_label": short_model_label(cheapest),
                "p_cheapest": float(summary.loc[cheapest, p_col]),
                "p_article_side": p_self if side.expects == SELF else 1.0 - p_self,
                "agree": "yes" if agree else "no",
            }
            for m in results.model_names:
                record[f"tco_mean_{m}"] = float(summary.loc[m, "tco_mean"])
            for m in results.model_names:
                record[f"economic_mean_{m}"] = float(summary.loc[m, "economic_mean"])
            record.update(
                {
                    "flip_input": row.flip.parameter,
                    "flip_low": row.flip.low,
                    "flip_high": row.flip.high,
                    "flip_fixed": ", ".join(f"{p.removeprefix('scenario.')}={v:g}" for p, v in row.flip.fixed.items()),
                    "threshold": threshold_text(found),
                    "threshold_ci_low": found.ci_low if found.threshold is not None else math.nan,
                    "threshold_ci_high": found.ci_high if found.threshold is not None else math.nan,
                    "flip_detail": found.detail,
                    "flip_replications": found.replications,
                    "flip_grid": " ".join(f"{v:g}" for v in row.flip.values),
                    "staff_needed": threshold_text(staff) if staff else "",
                    "staff_needed_detail": staff.detail if staff else "",
                    "explanation": explanation,
                    "accounting_basis": results.accounting_basis,
                    "warnings": "; ".join(f"{m}: {w}" for m, ws in warnings.items() for w in ws),
                    "replications": results.costs.shape[1],
                    "horizon_years": results.horizon_years,
                    "seed": results.seed,
                    "engine": results.engine,
                }
            )
            records.append(record)
    return pd.DataFrame(records)


# -- output ---------------------------------------------------------------------------------------------


def _abbreviation(name: str) -> str:
    return "".join(part[0] for part in name.split("_"))


def format_table(table: pd.DataFrame) -> str:
    """The table for the terminal, then the flip details and the explanations."""
    first = table.iloc[0]
    models = [c.removeprefix("tco_mean_") for c in table.columns if c.startswith("tco_mean_")]
    short = {m: _abbreviation(m) for m in models}
    header = (
        f"The article's decision table against lora-tco (seed {first.seed}, {first.replications:,} replications x "
        f"{first.horizon_years} years, engine {first.engine}; flip searches: {int(table.flip_replications.max()):,} replications "
        f"per grid point, same seed)"
    )
    frame = pd.DataFrame(
        {
            "#": range(1, len(table) + 1),
            "row": table.row.map(SHORT_NAMES).fillna(table.row),
            "side": table.side.map({SELF_FITS: "self fits", MANAGED_FITS: "managed fits"}),
            "article": table.article_expects.map({SELF: "self-managed", MANAGED: "managed"}),
            "lora-tco cheapest": table.cheapest_label,
            "P": table.p_cheapest.map("{:.2f}".format),
            "agree": table.agree,
            "objective": table.objective.map({"mean TCO": "TCO", "mean economic cost": "econ"}),
        }
    )
    for m in models:
        frame[f"TCO {short[m]}"] = (table[f"tco_mean_{m}"] / 1e3).map("{:,.0f}".format)
    for m in models:
        frame[f"econ {short[m]}"] = (table[f"economic_mean_{m}"] / 1e3).map("{:,.0f}".format)
    frame["flip input"] = table.flip_input.str.removeprefix("scenario.")
    frame["threshold"] = table.threshold
    frame["sunk FTE to flip"] = table.staff_needed
    legend = "USD k over the horizon; " + ", ".join(f"{short[m]} = {short_model_label(m)}" for m in models)
    lines = [header, frame.to_string(index=False), legend, "", "Scenarios:"]
    lines += [f"  {i}. {s}" for i, s in enumerate(table.scenario, 1)]
    lines += ["", "Flip searches (self-managed minus the cheapest managed model, along the flip input):"]
    seen: set[str] = set()
    for i, r in enumerate(table.itertuples(), 1):
        if r.row in seen:
            continue
        seen.add(r.row)
        fixed = f", with {r.flip_fixed}" if r.flip_fixed else ""
        lines.append(f"  {i}. {r.row}: {r.flip_input.removeprefix('scenario.')} on {r.flip_grid}{fixed}: {r.flip_detail}")
    staffed = [(i, r) for i, r in enumerate(table.itertuples(), 1) if r.staff_needed_detail]
    if staffed:
        lines += ["", f"What it would take: {STAFF_NEEDED.documented}, on each self-fits scenario:"]
        lines += [f"  {i}. {r.staff_needed_detail}" for i, r in staffed]
    notes = [(i, r) for i, r in enumerate(table.itertuples(), 1) if r.explanation]
    if notes:
        lines += ["", "Why lora-tco disagrees (computed from each run's ledger), and row caveats:"]
        lines += [f"  {i}. [{'agrees' if r.agree == 'yes' else 'disagrees'}] {r.explanation}" for i, r in notes]
    return "\n".join(lines)
