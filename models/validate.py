"""Validation of a composed configuration.

Every problem raises :class:`~models.errors.ConfigError` whose message is one
line naming the field, the value and what is allowed. Validation runs on a plain
dict (``OmegaConf.to_container(cfg, resolve=True)``) so it does not depend on how
the config was composed.

Every numeric field has a range: a natural bound (a share in [0, 1]) that a
distribution's whole support must respect, or a finite :class:`Cap` per unit kind
that every value the sampler can draw must respect, so that sampled inputs are
finite and their products cannot overflow. Traffic compounding over the horizon is
checked across fields (:func:`_check_traffic`), and a study's grid is checked by the
rule of the field it sweeps.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models.compile import SERVING_GPU_CLASSES, input_keys
from models.distributions import InputDistribution, Lognormal, parse_uncertain
from models.errors import ConfigError
from models.inputs import SAMPLING, key_hint, rank_correlation_groups, score_correlation, uniform_extremes
from models.schema import CHEAPEST_GPU_CLASS, GPU_CLASSES, Config, EventDist, OperatingModelConfig, ScenarioConfig, SeverityMix
from sim.core.choices import ARRIVALS, BURST_TIERS, ENGINES, OWNERS, SERVING_MODES
from sim.core.ledger import HOURS_PER_YEAR
from sim.core.rng import FAMILY_CODES

INF = math.inf
MAX_PROB = 0.95  # failure-type probabilities: a refresh must be able to succeed

TARGET_KEY = "_target_"
NO_INSTANTIATION = "lora-tco never instantiates objects from config"


class Cap(float):
    """A generous but finite upper bound, in the unit of the fields it bounds.

    Fields with no natural maximum (prices, rates, hours, volumes) get one so that every
    product of inputs the engines form stays finite: no ``inf`` or ``nan`` in a result.
    A value beyond a cap is far outside any plausible world, not merely unusual. Unlike
    a natural bound (a share's 1), a cap is checked against the values a distribution
    can draw (its quantiles at the sampler's extreme uniforms), not its support, so a
    lognormal, unbounded above, passes when its draws stay below the cap.
    """

    unit: str

    def __new__(cls, value: float, unit: str) -> Cap:
        cap = super().__new__(cls, value)
        cap.unit = unit
        return cap


# One cap per unit kind.
USD_PER_HOUR = Cap(1e6, "USD per hour")
USD_PER_YEAR = Cap(1e10, "USD per year")
USD = Cap(1e10, "USD")
USD_PER_POINT_DAY = Cap(1e9, "USD per quality point-day")
USD_PER_1M_TOKENS = Cap(1e6, "USD per million tokens")
USD_PER_GB_MONTH = Cap(1e6, "USD per GB-month")
USD_PER_RUN = Cap(1e9, "USD per run")
EVENTS_PER_YEAR = Cap(1e6, "events per year")
EVENTS_PER_GPU_HOUR = Cap(1e3, "events per GPU-hour")
MILLION_TOKENS = Cap(1e15, "million tokens")
GROWTH_PER_YEAR = Cap(100, "a year (100 = 10,000 % growth)")
FTE = Cap(1e6, "FTE")
HOURS = Cap(1e6, "hours")
DAYS = Cap(1e8, "days")
GB = Cap(1e9, "GB")
TIMES = Cap(1e6, "times")
QUALITY_POINTS = Cap(1e6, "quality points")
# Traffic compounds: the last year's traffic (million tokens per adapter-month) must stay
# far enough below the float range that fees and GPU-hours computed on it stay finite.
TRAFFIC_CEILING = 1e200
# Serving replicas one deployment may need in its busiest year: the engines count them
# as 64-bit integers (at most 9.2e18).
MAX_REPLICAS = 1e18

# The words each choice field accepts: the vocabularies of sim.core.choices, whose positions
# are the codes compilation gives them (models.compile.CODE_MAPS), so the two cannot disagree.
CHOICES = {
    "scenario.arrivals": ARRIVALS,
    "training.owner": OWNERS,
    "serving.owner": OWNERS,
    "serving.mode": SERVING_MODES,
    "gpu_pool.burst_tier": BURST_TIERS,
    "serving.gpu_class": SERVING_GPU_CLASSES,
    "engine.name": ENGINES,
}

# Allowed closed ranges [low, high] of every numeric field, by path: a natural bound,
# or a Cap. Operating model paths are relative to the model (``training.failure_prob``);
# ``<event>.mean`` bounds the mean of a per-event distribution (EventDist).
SCENARIO_RANGES = {
    "adapters": (1, 100_000),
    "regulated_share": (0, 1),
    "refresh_interval_days": (0, DAYS),
    "drift_rate_per_adapter_year": (0, EVENTS_PER_YEAR),
    "drift_quality_drop.mean": (0, QUALITY_POINTS),
    "staleness_usd_per_point_day": (0, USD_PER_POINT_DAY),
    "downtime_usd_per_adapter_hour": (0, USD_PER_HOUR),
    "base_model_releases_per_year": (0, EVENTS_PER_YEAR),
    "tokens_per_adapter_month_m": (0, MILLION_TOKENS),
    "token_growth_per_year": (-0.99, GROWTH_PER_YEAR),
    "training_tokens_per_run_m": (0, MILLION_TOKENS),
    "incident_rate_per_deployment_year": (0, EVENTS_PER_YEAR),
    "after_hours_share": (0, 1),
    "engineers": (0, 100_000),
    "reviewers": (0, 100_000),
    "engineer_hours_per_day": (0.5, 24),
    "reviewer_hours_per_day": (0.5, 24),
    "working_hours_per_year": (1, 8760),
    "engineer_loaded_annual_usd": (0, USD_PER_YEAR),
    "reviewer_loaded_annual_usd": (0, USD_PER_YEAR),
    "gpu_reserved_usd_per_hour": (0, USD_PER_HOUR),
    "gpu_on_demand_usd_per_hour": (0, USD_PER_HOUR),
    "gpu_spot_usd_per_hour": (0, USD_PER_HOUR),
    "storage_usd_per_gb_month": (0, USD_PER_GB_MONTH),
    **{f"serving_gpu_usd_per_hour.{c}": (0, USD_PER_HOUR) for c in GPU_CLASSES},
    **{f"serving_gpu_relative_throughput.{c}": (0, TIMES) for c in GPU_CLASSES},
    "existing_platform_fte": (0, FTE),
    "existing_staff_cost_share": (0, 1),
    "existing_reserved_gpus": (0, 100_000),
    "existing_monitoring_share": (0, 1),
    "discount_rate": (0, 0.99),
}
# Uncertain inputs that count whole things: a whole number, or a choice of whole numbers.
WHOLE_NUMBERS = {"existing_reserved_gpus"}
# Keys renamed when their unit was made explicit: a config using the old name gets a pointer.
RENAMED = {
    "downtime_usd_per_hour": "downtime_usd_per_adapter_hour (USD per adapter-hour of full outage)",
    "min_gpus_per_deployment": "min_replicas (always-on replicas per deployment, the redundancy choice)",
}
MODEL_RANGES = {
    "training.data_prep_hours.mean": (0, HOURS),
    "training.gpu_hours.mean": (0, HOURS),
    "training.failure_prob": (0, MAX_PROB),
    "training.checkpoint_interval_hours": (1e-3, HOURS),
    "training.checkpoint_gb": (0, GB),
    "training.retention_runs": (1, 10_000),
    "training.vendor_usd_per_1m_tokens": (0, USD_PER_1M_TOKENS),
    "training.vendor_turnaround_days.mean": (0, DAYS),
    "gpu_pool.reserved": (0, 100_000),
    "gpu_pool.burst_max": (0, 100_000),
    "gpu_pool.spot_preemptions_per_gpu_hour": (0, EVENTS_PER_GPU_HOUR),
    "evaluation.gpu_hours.mean": (0, HOURS),
    "evaluation.engineer_hours.mean": (0, HOURS),
    "evaluation.failure_prob": (0, MAX_PROB),
    "evaluation.vendor_usd_per_run": (0, USD_PER_RUN),
    "serving.tokens_per_gpu_hour_m": (0, MILLION_TOKENS),
    "serving.target_utilization": (0.01, 1),
    "serving.min_replicas": (1, 100),
    "serving.adapters_per_deployment": (1, 100_000),
    "serving.vendor_usd_per_1m_tokens": (0, USD_PER_1M_TOKENS),
    "serving.vendor_usd_per_deployment_hour": (0, USD_PER_HOUR),
    "serving.sla_uptime": (0, 1),
    "serving.sla_credit_fraction": (0, 1),
    "oncall.incident_rate_multiplier": (0, TIMES),
    "oncall.mttr_hours.mean": (0, HOURS),
    "oncall.after_hours_multiplier": (0, TIMES),
    "oncall.escalation_hours": (0, HOURS),
    "platform.base_fte": (0, FTE),
    "platform.fte_per_adapter": (0, FTE),
    "platform.max_fte": (0, FTE),
    "platform.monitoring_build_usd": (0, USD),
    "platform.monitoring_usd_per_year": (0, USD_PER_YEAR),
    "platform.detection_delay_days.mean": (0, DAYS),
    "platform.vendor_platform_usd_per_year": (0, USD_PER_YEAR),
    "compliance.review_hours.mean": (0, HOURS),
    "compliance.rejection_prob": (0, MAX_PROB),
    "compliance.rework_hours.mean": (0, HOURS),
    "compliance.annual_audit_hours": (0, HOURS),
    "base_model.response_probability": (0, 1),
    "base_model.migration_hours_per_adapter": (0, HOURS),
    "promotion.bad_rollout_prob": (0, MAX_PROB),
    "promotion.rollback_hours.mean": (0, HOURS),
}
# Fields that must be > 0, not just >= 0 (a distribution open at 0, such as the
# lognormal, is allowed).
STRICTLY_POSITIVE = {"serving.tokens_per_gpu_hour_m", *(f"serving_gpu_relative_throughput.{c}" for c in GPU_CLASSES)}
TOP_RANGES = {"replications": (1, 100_000_000), "horizon_years": (1, 100_000), "seed": (0, 2**63 - 1)}
# The event cap bounds a runaway replication's memory (sim.run.runner.ENGINE_BYTES_PER_EVENT
# per engine thread, docs/model.md §10) and keeps the kernel's live processes below its
# 2**26 process ids; a 5-year run of 100,000 adapters needs about 10^7 events.
ENGINE_RANGES = {"max_events_per_replication": (1000, 50_000_000), "threads": (0, 4096)}


def _number_text(x: float, spec: str = "g") -> str:
    """A number as ``format(x, spec)``, with exponents written ``1e6``, not ``1e+06``."""
    text = format(x, spec)
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else text


def _range_text(low: float, high: float, integer: bool, strict_low: bool = False) -> str:
    kind = "an integer" if integer else "a number"
    above = ">" if strict_low else ">="
    if high == INF:
        return f"must be {kind} {above} {_number_text(low)}"
    if isinstance(high, Cap):
        return f"must be {kind} {above} {_number_text(low)} and at most {_number_text(high)} {high.unit}"
    if strict_low:
        return f"must be {kind} in ({_number_text(low)}, {_number_text(high)}]"
    return f"must be {kind} in [{_number_text(low)}, {_number_text(high)}]"


def find_target(tree: Any, path: str = "") -> tuple[str, Any] | None:
    """The dotted path and value of the first ``_target_`` key in a nested config, or None.

    Hydra instantiates the object a ``_target_`` names; lora-tco never does, and refuses
    the key so that no config can make anything do so.
    """
    if isinstance(tree, Mapping):
        for key, sub in tree.items():
            where = f"{path}.{key}" if path else str(key)
            if key == TARGET_KEY:
                return where, sub
            found = find_target(sub, where)
            if found is not None:
                return found
    elif isinstance(tree, (list, tuple)):
        for i, sub in enumerate(tree):
            found = find_target(sub, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def unknown_key(section: str, key: str, allowed: Sequence[str]) -> str:
    """The allowed-values text for an unknown key: the closest key, then every key of its section."""
    close = difflib.get_close_matches(str(key), list(allowed), n=1, cutoff=0.6)
    hint = f"did you mean {section + '.' if section else ''}{close[0]}? " if close else ""
    return f"unknown key; {hint}allowed keys of {section or 'the config'}: {', '.join(allowed)}"


def _check_keys(path: str, value: Any, schema: type) -> None:
    """Reject keys the schema does not know, recursively."""
    if not isinstance(value, Mapping):
        raise ConfigError(path, value, f"must be a mapping of {schema.__name__} fields")
    fields = {f.name: f for f in dataclasses.fields(schema)}
    hints = typing.get_type_hints(schema)
    for key, sub in value.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in fields:
            if key in RENAMED:
                raise ConfigError(where, sub, f"renamed: use {path}.{RENAMED[key]}")
            raise ConfigError(where, sub, unknown_key(path, key, list(fields)))
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            _check_keys(where, sub, hint)
        elif typing.get_origin(hint) is dict:
            if not isinstance(sub, Mapping):
                raise ConfigError(where, sub, "must be a mapping of name -> operating model")
            for name, model in sub.items():
                _check_keys(f"{where}.{name}", model, OperatingModelConfig)


def _get(tree: Mapping, dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def check_uncertain(
    field: str, spec: Any, low: float, high: float, strict_low: bool = False, extremes: tuple[float, float] = (0.0, 1.0)
) -> InputDistribution:
    """Parse an uncertain input and check the values it can take against [low, high]
    (``(low, high]`` with ``strict_low``).

    The support must lie within a natural bound. A :class:`Cap` is checked against the
    values the sampler can draw: the quantiles at ``extremes``, the smallest and largest
    uniform it gives (:func:`models.inputs.uniform_extremes`); those must be finite too.
    A lognormal's support is open at 0, so it passes a strict lower bound of 0 unless its
    smallest draw underflows to 0.
    """
    dist = parse_uncertain(field, spec)
    if dist.is_degenerate:
        lo = hi = low_draw = high_draw = dist.mean
    else:
        lo, hi, low_draw, high_draw = dist.quantiles((0.0, 1.0, *extremes))
    top = high_draw if isinstance(high, Cap) else hi
    open_at_low = isinstance(dist, Lognormal) and lo == low and low_draw > low
    finite = math.isfinite(low_draw) and math.isfinite(high_draw)
    if not finite or lo < low or top > high or (strict_low and lo == low and not open_at_low):
        allowed = _range_text(low, high, False, strict_low)
        if not dist.is_degenerate:
            what = "every value it can draw" if isinstance(high, Cap) else "the distribution's whole support"
            allowed += f" over {what} (it spans [{_number_text(lo, '.4g')}, {_number_text(top, '.4g')}])"
        raise ConfigError(field, spec, allowed)
    return dist


SHARD_FORM = "must be i/n with 0 <= i < n (shard i of n, 0-based, e.g. shard=3/16), or empty for the whole run"


def parse_shard(shard: Any, replications: int | None = None) -> tuple[int, int] | None:
    """Parse ``shard = "i/n"`` into ``(i, n)``; ``""`` (the whole run) gives None.

    With ``replications`` given, also checks that every shard holds at least one
    replication (``n <= replications``).

    Raises
    ------
    ConfigError
        Naming ``shard``, the value and the allowed form.
    """
    if shard is None or shard == "":
        return None
    parts = shard.split("/") if isinstance(shard, str) else []
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError("shard", shard, SHARD_FORM)
    i, n = int(parts[0]), int(parts[1])
    if not 0 <= i < n:
        raise ConfigError("shard", shard, SHARD_FORM)
    if replications is not None and n > replications:
        raise ConfigError("shard", shard, f"must be i/n with 0 <= i < n <= replications ({replications}): every shard needs a replication")
    return i, n


def _check_integer(field: str, value: Any, low: float, high: float) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(field, value, _range_text(low, high, True))
    return value


def _check_event(field: str, spec: Any, high: float, extremes: tuple[float, float]) -> InputDistribution:
    if not isinstance(spec, Mapping):
        raise ConfigError(field, spec, "must be a mapping {family: fixed|exponential|lognormal|uniform, mean: ..., cv: ...}")
    family = spec.get("family")
    if family not in FAMILY_CODES:
        raise ConfigError(f"{field}.family", family, f"must be one of {', '.join(FAMILY_CODES)}")
    cv = spec.get("cv", 0.0)
    cv_max = 1 / math.sqrt(3) if family == "uniform" else 100.0
    if isinstance(cv, bool) or not isinstance(cv, (int, float)) or not 0 <= cv <= cv_max:
        raise ConfigError(f"{field}.cv", cv, f"must be a number in [0, {cv_max:.4g}] for family {family}")
    return check_uncertain(f"{field}.mean", spec.get("mean", 0.0), 0, high, extremes=extremes)


def _check_section(
    prefix: str, tree: Mapping, schema: type, ranges: Mapping[str, tuple], extremes: tuple[float, float], rel: str = ""
) -> None:
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        path = f"{rel}{f.name}"
        field = f"{prefix}.{f.name}"
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint) and hint not in (EventDist, SeverityMix):
            _check_section(field, tree[f.name], hint, ranges, extremes, f"{path}.")
        else:
            _check_value(field, path, tree[f.name], hint, ranges, extremes)


def _check_value(field: str, path: str, value: Any, hint: Any, ranges: Mapping[str, tuple], extremes: tuple[float, float]) -> None:
    """Check one field (``path`` relative to its section, ``field`` its full name) by its schema type and rule."""
    if hint is EventDist:
        _check_event(field, value, ranges[f"{path}.mean"][1], extremes)
    elif hint is SeverityMix:
        _check_severity(field, value)
    elif hint is str and (path in CHOICES or f"scenario.{path}" in CHOICES):
        allowed = CHOICES.get(path) or CHOICES[f"scenario.{path}"]
        if value not in allowed:
            raise ConfigError(field, value, f"must be one of {', '.join(allowed)}")
    elif hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(field, value, "must be true or false")
    elif path in ranges:
        low, high = ranges[path]
        if hint is int:
            _check_integer(field, value, low, high)
        else:
            dist = check_uncertain(field, value, low, high, strict_low=path in STRICTLY_POSITIVE, extremes=extremes)
            if path in WHOLE_NUMBERS:
                _check_whole(field, value, dist)


def _check_whole(field: str, spec: Any, dist: InputDistribution) -> None:
    values = [dist.mean] if dist.is_degenerate else getattr(dist, "values", None)
    if values is None or any(float(v) != math.floor(v) for v in values):
        raise ConfigError(field, spec, "must be a whole number, or a choice of whole numbers such as choice(0:0.5,1:0.5)")


def _check_severity(field: str, mix: Mapping) -> None:
    for key in ("probabilities", "downtime_fraction", "mttr_multiplier"):
        values = mix[key]
        if len(values) != 3 or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            raise ConfigError(f"{field}.{key}", list(values), "must be a list of 3 numbers (sev1, sev2, sev3)")
        high = INF if key == "mttr_multiplier" else 1.0
        if any(not 0 <= v <= high for v in values):
            raise ConfigError(f"{field}.{key}", list(values), f"each must be in [0, {high:g}]")
    if abs(sum(mix["probabilities"]) - 1.0) > 1e-9:
        raise ConfigError(f"{field}.probabilities", list(mix["probabilities"]), "must sum to 1")


def _support_max(tree: Mapping, dotted: str) -> float:
    dist = parse_uncertain(dotted, _get(tree, dotted))
    return dist.mean if dist.is_degenerate else dist.quantile(1.0)


def _needs_work(model: Mapping, section: str) -> bool:
    return _support_max(model, f"{section}.mean") > 0


def validate_config(cfg: Mapping) -> None:
    """Validate a composed config given as a plain dict.

    Raises
    ------
    ConfigError
        On the first problem found, with a one-line message.
    """
    found = find_target(cfg)
    if found is not None:
        raise ConfigError(found[0], found[1], f"{NO_INSTANTIATION}; remove {TARGET_KEY} from the config")
    _check_keys("", cfg, Config)
    for key, (low, high) in TOP_RANGES.items():
        _check_integer(key, cfg[key], low, high)
    extremes = uniform_extremes(cfg["replications"])
    parse_shard(cfg.get("shard", ""), cfg["replications"])
    engine = cfg["engine"]
    if engine["name"] not in CHOICES["engine.name"]:
        raise ConfigError("engine.name", engine["name"], f"must be one of {', '.join(CHOICES['engine.name'])}")
    for key, (low, high) in ENGINE_RANGES.items():
        _check_integer(f"engine.{key}", engine[key], low, high)
    if not isinstance(engine.get("allow_truncated", False), bool):
        raise ConfigError("engine.allow_truncated", engine["allow_truncated"], "must be true or false")
    scenario = cfg["scenario"]
    _check_section("scenario", scenario, ScenarioConfig, SCENARIO_RANGES, extremes)
    models = cfg["operating_model"]
    if not models:
        raise ConfigError("operating_model", "[]", "select at least one operating model, e.g. operating_model=[self_managed_lora]")
    regulated = _support_max(scenario, "regulated_share") > 0
    for name, model in models.items():
        prefix = f"operating_model.{name}"
        _check_section(prefix, model, OperatingModelConfig, MODEL_RANGES, extremes)
        _check_model_resources(prefix, model, scenario, regulated)
    _check_traffic(cfg, extremes)
    _check_inputs(cfg)
    _check_study(cfg, extremes)
    _check_output(cfg)


CHART_FORMATS = ("png", "svg", "pdf")


def _check_output(cfg: Mapping) -> None:
    formats = list(cfg.get("output", {}).get("chart_formats", ["png"]))
    if not formats or any(f not in CHART_FORMATS for f in formats) or len(set(formats)) != len(formats):
        raise ConfigError("output.chart_formats", formats, f"must list one or more of {', '.join(CHART_FORMATS)}, each once")


STUDY_KINDS = ("none", "break_even", "decision_map", "sensitivity", "article_table", "article_decision_table")


def _check_study(cfg: Mapping, extremes: tuple[float, float]) -> None:
    """The ``study`` section: its kind, swept paths and grids, and the models it compares."""
    study = cfg.get("study")
    if not study or study.get("kind", "none") == "none":
        return
    kind = study["kind"]
    if kind not in STUDY_KINDS:
        raise ConfigError("study.kind", kind, f"must be one of {', '.join(STUDY_KINDS)}")
    models = list(cfg["operating_model"])
    if kind in ("break_even", "sensitivity"):
        for key in ("a", "b"):
            if study[key] not in models and not (kind == "sensitivity" and key == "b" and study[key] in ("", "none")):
                raise ConfigError(f"study.{key}", study[key], f"must be one of the selected operating models: {', '.join(models)}")
        if study["a"] == study["b"]:
            raise ConfigError("study.b", study["b"], "must differ from study.a")
    if kind == "break_even" and not 0 < float(study["confidence"]) < 1:
        raise ConfigError("study.confidence", study["confidence"], "must be in (0, 1), e.g. 0.9")
    if kind == "sensitivity":
        _check_integer("study.sobol_samples", study["sobol_samples"], 2, 1 << 20)
    if kind == "article_decision_table":  # study.a is the self-managed model; every other selected model is a managed platform
        if study["a"] not in models:
            raise ConfigError("study.a", study["a"], f"must be one of the selected operating models: {', '.join(models)}")
        if len(models) < 2:
            raise ConfigError("operating_model", models, "article_decision_table needs study.a and at least one managed model")
    grids = {"break_even": ("parameter", "values"), "decision_map": ("parameter", "values", "y_parameter", "y_values")}
    for path_key, values_key in zip(grids.get(kind, ())[::2], grids.get(kind, ())[1::2], strict=True):
        node = _check_swept_path(cfg, f"study.{path_key}", study[path_key])
        values = list(study[values_key])
        if len(values) < 2 or any(b <= a for a, b in itertools.pairwise(values)):
            raise ConfigError(f"study.{values_key}", values, "must list at least two increasing values")
        for value in values:
            _check_grid_value(f"study.{path_key}", study[path_key], node, f"study.{values_key}", value, extremes)


def _swept_field(path: str) -> tuple[str, Any, Mapping[str, tuple]] | None:
    """The field a study sweeps: its path in its ranges table, its schema type, and that table
    (None for a path outside the scenario, the operating models and the run size)."""
    parts = path.split(".")
    if parts[0] in TOP_RANGES and len(parts) == 1:
        return parts[0], int, TOP_RANGES
    if parts[0] == "scenario":
        hint, ranges, rest = ScenarioConfig, SCENARIO_RANGES, parts[1:]
    elif parts[0] == "operating_model" and len(parts) > 2:
        hint, ranges, rest = OperatingModelConfig, MODEL_RANGES, parts[2:]
    else:
        return None
    for part in rest:
        hints = typing.get_type_hints(hint) if dataclasses.is_dataclass(hint) else {}
        if part not in hints:
            return None
        hint = hints[part]
    return ".".join(rest), hint, ranges


def _check_grid_value(path_field: str, path: str, node: Any, values_field: str, value: Any, extremes: tuple[float, float]) -> None:
    """One value of a study's grid, checked as the field it sweeps would be: the same range,
    whole numbers for a whole-number field."""
    swept = _swept_field(str(path))
    whole = isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()
    try:
        if swept is None:
            if isinstance(node, int) and not isinstance(node, bool) and not whole:
                raise ConfigError(str(path), value, "must be a whole number")
            return
        rel, hint, ranges = swept
        given = int(value) if hint is int and whole else value  # a grid is a list of floats: 3.0 sets an integer field to 3
        if ranges is TOP_RANGES:
            _check_integer(rel, given, *ranges[rel])
        else:
            _check_value(str(path), rel, given, hint, ranges, extremes)
    except ConfigError as error:
        raise ConfigError(values_field, value, f"{error.allowed}, as {path} ({path_field}) requires") from None


def _check_swept_path(cfg: Mapping, field: str, path: Any) -> Any:
    """Check that a study's swept path names a numeric input; returns its configured value."""
    parts = str(path).split(".")
    node: Any = cfg
    for i, part in enumerate(parts):
        if part == "*" and i == 1 and parts[0] == "operating_model":
            node = next(iter(cfg["operating_model"].values()))
            continue
        if not isinstance(node, Mapping) or part not in node:
            raise ConfigError(field, path, "must be a config path such as scenario.adapters or operating_model.*.platform.base_fte")
        node = node[part]
    is_distribution = (isinstance(node, Mapping) and "dist" in node) or (isinstance(node, str) and "(" in node)
    if not is_distribution and isinstance(node, (Mapping, list, bool, str)):
        raise ConfigError(field, path, "must name a numeric input, not a section or a choice")
    return node


_PAIR_FORM = "{between: [key, key], rho: number}"


def _check_inputs(cfg: Mapping) -> None:
    """The ``inputs`` section: sampling method and rank correlations between uncertain inputs."""
    settings = cfg.get("inputs") or {}  # a config built by hand may leave the section out
    sampling = settings.get("sampling", "independent")
    if sampling not in SAMPLING:
        raise ConfigError("inputs.sampling", sampling, f"must be one of {', '.join(SAMPLING)}")
    correlations = settings.get("rank_correlations") or []
    if not isinstance(correlations, (list, tuple)):
        raise ConfigError("inputs.rank_correlations", correlations, f"must be a list of {_PAIR_FORM}")
    if not correlations:
        return
    keys = list(input_keys(cfg))
    seen: dict[frozenset, int] = {}
    for i, item in enumerate(correlations):
        where = f"inputs.rank_correlations[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(where, item, f"must be a mapping {_PAIR_FORM}")
        extra = sorted(set(item) - {"between", "rho"})
        if extra:
            raise ConfigError(f"{where}.{extra[0]}", item[extra[0]], "unknown key; allowed keys: between, rho")
        between = item.get("between")
        if not isinstance(between, (list, tuple)) or len(between) != 2 or not all(isinstance(k, str) for k in between):
            raise ConfigError(
                f"{where}.between",
                between,
                "must be a list of exactly two uncertain-input keys, "
                "e.g. [scenario.gpu_on_demand_usd_per_hour, scenario.gpu_reserved_usd_per_hour]",
            )
        for key in between:
            if key not in keys:
                raise ConfigError(
                    f"{where}.between",
                    key,
                    f"not an uncertain input of this config{key_hint(key, keys)}; uncertain inputs: {', '.join(keys) or 'none'}",
                )
        if between[0] == between[1]:
            raise ConfigError(f"{where}.between", list(between), "must name two different inputs")
        rho = item.get("rho")
        if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not -1 <= rho <= 1:
            raise ConfigError(f"{where}.rho", rho, "must be a number in [-1, 1] (a Spearman rank correlation)")
        pair = frozenset(between)
        if pair in seen:
            earlier = f"inputs.rank_correlations[{seen[pair]}]"
            raise ConfigError(f"{where}.between", list(between), f"this pair is already correlated by {earlier}; give each pair once")
        seen[pair] = i
    for members, target in rank_correlation_groups(correlations, keys):
        scores = score_correlation(target)
        try:
            np.linalg.cholesky(scores)  # the factorisation Iman-Conover needs
        except np.linalg.LinAlgError:
            smallest = np.linalg.eigvalsh(scores).min()
            advice = "weaken some rho"
            if np.any(np.abs(target[~np.eye(len(members), dtype=bool)]) == 1):
                advice += " (a rho of exactly +-1 makes it singular: use e.g. 0.999)"
            shown = "; ".join(f"{a} ~ {b}: {target[i, j]:g}" for i, a in enumerate(members) for j, b in enumerate(members) if j > i)
            raise ConfigError(
                "inputs.rank_correlations",
                shown,
                f"the rank correlations among {', '.join(members)} cannot hold together: their correlation matrix "
                f"(unlisted pairs 0) is not positive definite (smallest eigenvalue {smallest:.3g}); {advice}",
            ) from None


def _drawn_range(tree: Mapping, dotted: str, extremes: tuple[float, float]) -> tuple[float, float]:
    """The smallest and largest value an (already checked) uncertain input can draw."""
    dist = parse_uncertain(dotted, _get(tree, dotted))
    if dist.is_degenerate:
        return dist.mean, dist.mean
    low, high = dist.quantiles(extremes)
    return float(low), float(high)


MONTHS_PER_YEAR = 12.0  # sim.core.ledger.tokens_per_adapter_year_m: monthly volume x 12 x (1 + growth)^year


def _check_traffic(cfg: Mapping, extremes: tuple[float, float]) -> None:
    """Traffic compounds over the horizon: the last year's volume, and the serving replicas
    a team-run deployment needs for it, must stay finite and countable.

    Worked in log10 so that checking cannot overflow where the engines would.
    """
    scenario = cfg["scenario"]
    tokens = _drawn_range(scenario, "tokens_per_adapter_month_m", extremes)[1]
    if tokens <= 0:
        return
    growth = _drawn_range(scenario, "token_growth_per_year", extremes)[1]
    last_year = cfg["horizon_years"] - 1
    log_traffic = math.log10(tokens) + max(0.0, last_year * math.log10(1.0 + growth))
    if log_traffic > math.log10(TRAFFIC_CEILING):
        raise ConfigError(
            "scenario.token_growth_per_year",
            scenario["token_growth_per_year"],
            f"with horizon_years = {cfg['horizon_years']}, traffic of up to {_number_text(tokens, '.3g')} million tokens per "
            f"adapter-month would grow to about 1e{math.floor(log_traffic)} by the last year, beyond what costs can be computed on "
            f"(at most {_number_text(TRAFFIC_CEILING)}); lower the growth or the horizon",
        )
    for name, model in cfg["operating_model"].items():
        serving = model["serving"]
        if serving["owner"] != "team":
            continue
        field = f"operating_model.{name}.serving.tokens_per_gpu_hour_m"
        on_one = 1 if serving["mode"] == "dedicated" else min(serving["adapters_per_deployment"], scenario["adapters"])
        classes = GPU_CLASSES if serving["gpu_class"] == CHEAPEST_GPU_CLASS else (serving["gpu_class"],)
        slowest = min(classes, key=lambda c: _drawn_range(scenario, f"serving_gpu_relative_throughput.{c}", extremes)[0])
        relative = _drawn_range(scenario, f"serving_gpu_relative_throughput.{slowest}", extremes)[0]
        throughput = _drawn_range(model, "serving.tokens_per_gpu_hour_m", extremes)[0]
        # replicas = adapters x yearly tokens / (throughput x relative x hours x utilization), as sim.engines.capacity.serving_gpu_hours
        log_replicas = (
            math.log10(on_one * MONTHS_PER_YEAR)
            + log_traffic
            - math.log10(throughput)
            - math.log10(relative)
            - math.log10(HOURS_PER_YEAR * serving["target_utilization"])
        )
        if log_replicas > math.log10(MAX_REPLICAS):
            raise ConfigError(
                field,
                model["serving"]["tokens_per_gpu_hour_m"],
                f"at down to {_number_text(throughput, '.3g')} million tokens per GPU-hour "
                f"(x {_number_text(relative, '.3g')} on {slowest}), a deployment of {on_one} "
                f"adapter(s) at up to 1e{math.floor(log_traffic)} million tokens per adapter-month would need about "
                f"1e{math.floor(log_replicas)} serving replicas; at most {_number_text(MAX_REPLICAS)} can be counted",
            )


def _check_model_resources(prefix: str, model: Mapping, scenario: Mapping, regulated: bool) -> None:
    """Cross-field checks: a pool that work needs must not be empty."""
    platform = model["platform"]
    base_fte = parse_uncertain(f"{prefix}.platform.base_fte", platform["base_fte"])
    max_fte = parse_uncertain(f"{prefix}.platform.max_fte", platform["max_fte"])
    low_max = max_fte.mean if max_fte.is_degenerate else max_fte.quantile(0.0)
    high_base = base_fte.mean if base_fte.is_degenerate else base_fte.quantile(1.0)
    if low_max < high_base:
        raise ConfigError(
            f"{prefix}.platform.max_fte",
            platform["max_fte"],
            f"must be >= platform.base_fte (up to {high_base:g}); FTE = min(max_fte, base_fte + fte_per_adapter x (adapters - 1))",
        )
    pool = model["gpu_pool"]
    gpus = pool["reserved"] + pool["burst_max"]
    if gpus == 0 and model["training"]["owner"] == "team" and _needs_work(model, "training.gpu_hours"):
        raise ConfigError(
            f"{prefix}.gpu_pool.reserved",
            pool["reserved"],
            "training.owner = team with training.gpu_hours > 0 needs reserved + burst_max >= 1 GPU",
        )
    if gpus == 0 and _needs_work(model, "evaluation.gpu_hours"):
        raise ConfigError(f"{prefix}.gpu_pool.reserved", pool["reserved"], "evaluation.gpu_hours > 0 needs reserved + burst_max >= 1 GPU")
    if regulated and scenario["reviewers"] == 0 and _needs_work(model, "compliance.review_hours"):
        raise ConfigError(
            "scenario.reviewers",
            0,
            f"must be >= 1: adapters are regulated (scenario.regulated_share > 0) and {prefix}.compliance.review_hours > 0",
        )
    if scenario["engineers"] == 0:
        needs = [
            s
            for s in ("training.data_prep_hours", "evaluation.engineer_hours", "compliance.rework_hours", "promotion.rollback_hours")
            if _needs_work(model, s)
        ]
        if _support_max(model, "base_model.migration_hours_per_adapter") > 0 and _support_max(model, "base_model.response_probability") > 0:
            needs.append("base_model.migration_hours_per_adapter")
        if model["serving"]["owner"] == "team" and _support_max(scenario, "incident_rate_per_deployment_year") > 0:
            needs.append("team-owned incidents")
        if needs:
            raise ConfigError("scenario.engineers", 0, f"must be >= 1: {prefix} needs engineers for {needs[0]}")
